"""Character-level language model (``docs/charlm.rst``): predict the next character.

    e_t = E[c_t]                       embedding of the current character
    h_t = Elman(e_t, h_{t-1})          minirnn.elman
    z_t = h_t W_y + b_y                logits over the vocabulary
    L   = -(1/TB) sum log softmax(z_t)[c_{t+1}]

Training uses truncated BPTT with the lecture's sequence batching: the training text
is cut into B parallel streams, each read in chunks of T characters; the last hidden
state of one chunk is the first of the next (its gradient stops at the chunk border).
"""
from dataclasses import asdict, dataclass

import numpy as np

from .. import checks, elman
from ..data import shakespeare
from ..layers import affine_backward, affine_forward, embedding_backward, \
    embedding_forward, log_softmax, softmax_cross_entropy

LN2 = np.log(2.0)


@dataclass
class Settings:
    hidden: int = 512
    embed: int = 64
    seq_len: int = 64
    batch_size: int = 64
    nonlinearity: str = "tanh"
    dtype: str = "float32"
    device: str = "cpu"
    val_fraction: float = 0.1


def streams(ids, batch_size):
    """(B, N // B) rows: consecutive text in each row, rows side by side (sequence batching)."""
    n = len(ids) // batch_size
    return ids[: n * batch_size].reshape(batch_size, n)


def build(settings, data_dir=None):
    """The task on Tiny Shakespeare, found in ``data_dir`` (see ``minirnn.data``)."""
    return CharLM.from_text(shakespeare.load(data_dir), settings)


class CharLM:
    """The task ``minirnn run elman --data shakespeare`` trains (see ``minirnn.train``)."""

    unit = "chars"
    epochs, lr = 6, 2e-3        # defaults: validation loss stops improving after ~5 epochs

    def __init__(self, settings, vocab, text=None):
        """A model over ``vocab``; with ``text``, also its 90/10 train/validation streams."""
        self.s, self.vocab = settings, vocab
        self.index = {c: i for i, c in enumerate(vocab)}
        self.dtype = np.dtype(settings.dtype)
        if text is not None:
            self.train_ids, self.val_ids = np.split(self.encode(text), [int(len(text) * (1 - settings.val_fraction))])
            if min(len(self.train_ids), len(self.val_ids)) < 2 * settings.seq_len + 2:
                raise ValueError(f"text too short for seq_len {settings.seq_len}: {len(text)} chars")
            self.train_rows = streams(self.train_ids, settings.batch_size)

    @classmethod
    def from_text(cls, text, settings):
        return cls(settings, "".join(sorted(set(text))), text)

    def encode(self, text):
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"characters outside the model's vocabulary: {unknown[:10]}")
        return np.array([self.index[c] for c in text], np.int32)

    def meta(self):
        return {"task": "charlm", "model": "elman", "vocab": self.vocab, **asdict(self.s)}

    def init_params(self, rng):
        V, D, H = len(self.vocab), self.s.embed, self.s.hidden
        p = {"E": rng.normal(0, 1, (V, D)).astype(self.dtype),
             **elman.init(rng, D, H, self.dtype)}
        s = 1 / np.sqrt(H)
        p["W_y"] = rng.uniform(-s, s, (H, V)).astype(self.dtype)
        p["b_y"] = np.zeros(V, self.dtype)
        return p

    # -- batches: chunk i of every stream, targets shifted by one character
    def num_batches(self, epoch):
        return max(0, (self.train_rows.shape[1] - 1) // self.s.seq_len)    # 0: streams too short

    def batch(self, epoch, i):
        T = self.s.seq_len
        chunk = self.train_rows[:, i * T: (i + 1) * T + 1].T      # (T + 1, B), time-major
        return chunk[:-1], chunk[1:]

    def initial_state(self):
        return {"h": np.zeros((self.s.batch_size, self.s.hidden), self.dtype)}

    def check_params(self, params):
        """Every parameter against the settings (the cell's by elman.check_params), each
        named by its key: a checkpoint or dict of another model fails here, not deep in
        a layer that knows W_y only as W."""
        V, D = len(self.vocab), self.s.embed
        H = elman.check_params(params, D, self.dtype)
        checks.parameters(params, dtype=self.dtype, E=(V, D), W_y=(H, V), b_y=(V,))

    def forward(self, params, x, h0):
        self.check_params(params)
        e, e_cache = embedding_forward(params["E"], x)
        h, h_cache = elman.forward(params, e, h0, nonlinearity=self.s.nonlinearity,
                                   device=self.s.device)
        z, z_cache = affine_forward(h, params["W_y"], params["b_y"])
        return z, h, (e_cache, h_cache, z_cache)

    def step(self, params, batch, state, rng):
        x, y = batch
        z, h, (e_cache, h_cache, z_cache) = self.forward(params, x, state["h"])
        loss, dz = softmax_cross_entropy(z, y)
        dh, dW_y, db_y = affine_backward(dz, z_cache)
        de, _, grads = elman.backward(dh, h_cache)                # TBPTT: dh0 is dropped
        grads.update(E=embedding_backward(de, e_cache), W_y=dW_y, b_y=db_y)
        return loss, grads, {"h": h[-1].copy()}, x.size

    def loss(self, params, ids):
        """Mean cross-entropy (nats/char) of predicting ids[1:] from ids[:-1].

        Each of the parallel streams starts from h = 0, so streams are kept >= 1000
        characters long: the cold start then weighs little in the mean.
        """
        if len(ids) < 2:                # a mean over no predictions
            raise ValueError(f"ids: expected at least 2 characters, got {len(ids)}")
        rows = streams(ids, int(np.clip(len(ids) // 1000, 1, 64)))
        h = np.zeros((rows.shape[0], self.s.hidden), self.dtype)
        total, count, T = 0.0, 0, 512
        for start in range(0, rows.shape[1] - 1, T):
            chunk = rows[:, start: start + T + 1].T
            z, hs, _ = self.forward(params, chunk[:-1], h)
            nll, _ = softmax_cross_entropy(z, chunk[1:])
            total += nll * chunk[1:].size
            count += chunk[1:].size
            h = hs[-1]
        return total / count

    def evaluate(self, params):
        val = self.loss(params, self.val_ids)
        with np.errstate(over="ignore"):        # a diverged model's perplexity is inf
            return {"val_loss": val, "val_bpc": val / LN2, "val_ppl": float(np.exp(val))}

    def sample(self, params, rng, length=500, temperature=1.0, prime="\n"):
        """Draw ``length`` characters from softmax(z / temperature) after ``prime``."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not prime:
            raise ValueError("prime must be at least one character")
        length = checks.count("length", length)
        ids = self.encode(prime)[:, None]
        h = np.zeros((1, self.s.hidden), self.dtype)
        z, hs, _ = self.forward(params, ids, h)
        out = []
        for _ in range(length):
            p = np.exp(log_softmax(z[-1, 0].astype(np.float64) / temperature))
            c = rng.choice(len(self.vocab), p=p / p.sum())
            out.append(self.vocab[c])
            z, hs, _ = self.forward(params, np.array([[c]], np.int32), hs[-1])
        return prime + "".join(out)

