"""Sequence to sequence with attention (``docs/seq2seq.rst``): dates to ISO 8601.

Encoder, over the input characters x_1..x_n (minirnn.birnn over minirnn.gru)::

    m_j = [hf_j | hb_j] = BiGRU(E_x[x])_j          encoder states, (n, B, 2H)
    s_0 = tanh(m_final W_s + b_s)                  m_final = birnn.final_states

Decoder (Luong et al., 2015, "global attention"), y_0 = <s>, teacher forcing in
training (y_{t-1} is the true previous character), its own previous guess in decoding::

    s_t = GRU(E_y[y_{t-1}], s_{t-1})               decoder state, (B, 2H)
    c_t = attention(q = s_t W_q, keys = values = m, padding masked)   (attention eqs. 1-4)
    z_t = [s_t | c_t] W_y + b_y                    logits over "0-9", "-", </s>
    L   = mean over t, b of -log softmax(z_t)[y_t]

Without attention (``attention=False``) z_t = s_t W_y + b_y: everything the decoder
learns about the input passes through s_0, the fixed-size bottleneck. The score is
the scaled dot product of a projected decoder state with each encoder state: one batched
GEMM for all T decoder steps at once under teacher forcing, because s_t does not
depend on c_{t-1} (no input feeding); additive scores cost a tanh per (step, key, unit).
"""
import os
from dataclasses import asdict, dataclass

import numpy as np

from .. import attention, birnn, checks, gru
from ..data import dates
from ..layers import affine_backward, affine_forward, embedding_backward, \
    embedding_forward, log_softmax, softmax_cross_entropy, tanh_backward, tanh_forward
from .batching import LengthBucketed, time_major

FILLER = {"dates": 0, "dates-long": dates.FILLER_MAX}
BUCKETS = (0, 11, 21, 31, 46, 61, 1000)        # input-length buckets: [0, 10], [11, 20], ...


@dataclass
class Settings:
    data: str = "dates"
    attention: bool = True
    hidden: int = 64             # encoder units per direction; the decoder has 2 * hidden
    embed: int = 32
    batch_size: int = 64
    beam: int = 1                # 1: greedy decoding
    train_size: int = 20000
    val_size: int = 1000
    test_size: int = 2000
    dtype: str = "float32"
    device: str = "cpu"
    split_seed: int = 0


def build(settings, data_dir=None):
    """The task on freshly generated dates (``data_dir`` is unused: nothing to load)."""
    splits = dates.load(settings.train_size, settings.val_size, settings.test_size,
                        settings.split_seed, FILLER[settings.data])
    return Seq2Seq(settings, splits)


def _encoder_params(params):
    return {k: v for k, v in params.items() if k.startswith("l0.")}


def time_major_batch(split, idx):
    """Input ids (T, B) cut to the batch's longest input, lengths (B,), targets (11, B)."""
    return (*time_major(split.inputs, split.lengths, idx), np.ascontiguousarray(split.targets[idx].T))


class Seq2Seq(LengthBucketed):
    """The task ``minirnn run seq2seq --data dates`` trains (see ``minirnn.train``)."""

    batch_of = staticmethod(time_major_batch)      # batches: see LengthBucketed
    unit = "dates"
    epochs, lr = 3, 3e-3         # test accuracy reached 99.7% after epoch 1, 100% after 2

    def __init__(self, settings, splits=None):
        if settings.data not in FILLER:
            raise ValueError(f"data: expected one of {sorted(FILLER)}, got {settings.data!r}")
        if settings.beam < 1:
            raise ValueError(f"beam: expected a width >= 1, got {settings.beam}")
        self.s = settings
        self.dtype = np.dtype(settings.dtype)
        if splits is not None:
            self.train, self.val, self.test = splits

    def meta(self):
        return {"task": "seq2seq", **asdict(self.s)}

    def init_params(self, rng):
        s, dt = self.s, self.dtype
        H, Hd = s.hidden, 2 * s.hidden
        params = {"E_x": (0.1 * rng.standard_normal((len(dates.INPUT_CHARS) + 1, s.embed))).astype(dt),
                  "E_y": (0.1 * rng.standard_normal((len(dates.OUTPUT_VOCAB), s.embed))).astype(dt),
                  **birnn.init(rng, gru, s.embed, H, dtype=dt),
                  **{f"dec.{k}": v for k, v in gru.init(rng, s.embed, Hd, dt).items()}}
        bound = 1 / np.sqrt(2 * H)
        params["W_s"] = rng.uniform(-bound, bound, (2 * H, Hd)).astype(dt)
        params["b_s"] = np.zeros(Hd, dt)
        if s.attention:
            params["W_q"] = rng.uniform(-bound, bound, (Hd, 2 * H)).astype(dt)
        features = Hd + (2 * H if s.attention else 0)
        bound = 1 / np.sqrt(features)
        params["W_y"] = rng.uniform(-bound, bound, (features, len(dates.OUTPUT_VOCAB))).astype(dt)
        params["b_y"] = np.zeros(len(dates.OUTPUT_VOCAB), dt)
        return params

    # ------------------------------------------------------------------------ model
    def encode(self, params, inputs, lengths):
        """Encoder states m (T, B, 2H) and the decoder's first state s_0 (B, 2H)."""
        Hd = 2 * self.s.hidden                   # the encoder's cells: birnn's check
        checks.parameters(params, dtype=self.dtype, W_s=(Hd, Hd), b_s=(Hd,),
                          E_x=(len(dates.INPUT_CHARS) + 1, self.s.embed))
        e, e_cache = embedding_forward(params["E_x"], inputs)
        m, m_cache = birnn.forward(_encoder_params(params), gru, e, lengths, device=self.s.device)
        pre, pre_cache = affine_forward(birnn.final_states(m), params["W_s"], params["b_s"])
        s0, s0_cache = tanh_forward(pre)
        return m, s0, (e_cache, m_cache, pre_cache, s0_cache, m.shape[0])

    def encode_backward(self, dm, ds0, cache):
        """Encoder grads from dL/dm (T, B, 2H), or 0 without attention, and dL/ds_0."""
        e_cache, m_cache, pre_cache, s0_cache, T = cache
        dfinal, dW_s, db_s = affine_backward(tanh_backward(ds0, s0_cache), pre_cache)
        dm = dm + birnn.final_states_backward(dfinal, T)
        de, grads = birnn.backward(dm, m_cache)
        grads.update(E_x=embedding_backward(de, e_cache), W_s=dW_s, b_s=db_s)
        return grads

    def decode(self, params, y_prev, s0, m, lengths):
        """Teacher-forced decoder over previous characters y_prev (T', B) from s0 (B, 2H):
        logits (T', B, V), the attention weights (B, T', T) or None, the decoder states
        (T', B, 2H) and the cache."""
        V, Hd, attend = len(dates.OUTPUT_VOCAB), 2 * self.s.hidden, self.s.attention
        gru.check_params(params, self.s.embed, self.dtype, "dec.")    # named dec.W_x, ...
        checks.parameters(params, dtype=self.dtype, E_y=(V, self.s.embed),
                          **({"W_q": (Hd, Hd)} if attend else {}),
                          W_y=(2 * Hd if attend else Hd, V), b_y=(V,))
        d, d_cache = embedding_forward(params["E_y"], y_prev)
        dec = {k[4:]: v for k, v in params.items() if k.startswith("dec.")}
        s, s_cache = gru.forward(dec, d, s0, device=self.s.device)
        A, att_cache, o = None, None, s
        if self.s.attention:
            q, q_cache = affine_forward(s, params["W_q"], 0)     # Luong's score: no bias
            c, A, c_cache = attention.dot_product_forward(q, m, m, lengths, device=self.s.device)
            o, att_cache = np.concatenate([s, c], axis=2), (q_cache, c_cache)
        z, z_cache = affine_forward(o, params["W_y"], params["b_y"])
        return z, A, s, (d_cache, s_cache, att_cache, z_cache)

    def decode_backward(self, dz, cache):
        """dz (T', B, V) -> dm (T, B, 2H) or 0, ds0 (B, 2H), and the decoder's grads."""
        d_cache, s_cache, att_cache, z_cache = cache
        do, dW_y, db_y = affine_backward(dz, z_cache)
        grads, ds, dm = {"W_y": dW_y, "b_y": db_y}, do, 0
        if att_cache is not None:
            q_cache, c_cache = att_cache
            Hd = q_cache[1].shape[0]
            ds, dc = do[..., :Hd], do[..., Hd:]
            dq, dk, dv = attention.dot_product_backward(dc, c_cache)
            dm = dk + dv                                  # m is both keys and values
            dsq, grads["W_q"], _ = affine_backward(dq, q_cache)
            ds = ds + dsq
        dd, ds0, dec_grads = gru.backward(np.ascontiguousarray(ds), s_cache)
        grads.update({f"dec.{k}": v for k, v in dec_grads.items()},
                     E_y=embedding_backward(dd, d_cache))
        return dm, ds0, grads

    def loss_and_grads(self, params, inputs, lengths, targets):
        """Mean cross-entropy of the targets (T', B) under teacher forcing, and its grads."""
        m, s0, enc_cache = self.encode(params, inputs, lengths)
        y_prev = np.concatenate([np.full((1, targets.shape[1]), dates.BOS), targets[:-1]])
        z, _, _, dec_cache = self.decode(params, y_prev, s0, m, lengths)
        loss, dz = softmax_cross_entropy(z, targets)
        dm, ds0, grads = self.decode_backward(dz, dec_cache)
        grads.update(self.encode_backward(dm, ds0, enc_cache))
        return loss, grads

    # --------------------------------------------------------------------- training
    def step(self, params, batch, state, rng):
        inputs, lengths, targets = batch
        loss, grads = self.loss_and_grads(params, inputs, lengths, targets)
        return loss, grads, state, len(lengths)

    # --------------------------------------------------------------------- decoding
    def translate(self, params, inputs, lengths, beam=None):
        """Decoded output ids (B, 11), their log-probabilities (B,) and the attention
        weights of the chosen outputs (B, 11, T) (None without attention). ``beam``
        (default: the setting) keeps that many partial outputs per input; 1 is greedy."""
        beam = beam or self.s.beam
        m, s0, _ = self.encode(params, inputs, lengths)
        T, B, _ = m.shape
        K = beam
        m_k, len_k = np.repeat(m, K, axis=1), np.repeat(lengths, K)    # beam k of b: row b K + k
        s = np.repeat(s0, K, axis=0)
        score = np.full((B, K), -np.inf)
        score[:, 0] = 0.0                                  # one live hypothesis at first
        out = np.zeros((B, K, 0), np.int64)
        weights = np.zeros((B, K, 0, T))
        y = np.full(B * K, dates.BOS)
        for _ in range(dates.TARGET_LEN):
            z, A, s_new, _ = self.decode(params, y[None], s, m_k, len_k)
            logp = log_softmax(z[0].astype(np.float64)).reshape(B, K, -1)
            done = out[:, :, -1] == dates.EOS if out.shape[2] else np.zeros((B, K), bool)
            logp[done] = -np.inf                           # a finished output only ends
            logp[done, dates.EOS] = 0.0
            V = logp.shape[2]
            total = (score[:, :, None] + logp).reshape(B, K * V)
            best = np.argsort(-total, axis=1, kind="stable")[:, :K]
            parent, y = best // V, best % V
            score = np.take_along_axis(total, best, axis=1)
            rows = (np.arange(B)[:, None] * K + parent).ravel()
            s = s_new[0][rows]                             # each survivor's parent state
            out = np.concatenate([np.take_along_axis(out, parent[..., None], 1), y[..., None]], 2)
            if A is not None:
                a = A[:, 0].reshape(B, K, 1, T)
                weights = np.concatenate([np.take_along_axis(weights, parent[..., None, None], 1),
                                          np.take_along_axis(a, parent[..., None, None], 1)], 2)
            y = y.ravel()
        return out[:, 0], score[:, 0], (weights[:, 0] if self.s.attention else None)

    def translate_split(self, params, split, batch_size=500):
        """Decoded texts of a whole split, in order."""
        texts = []
        for start in range(0, len(split), batch_size):
            idx = np.arange(start, min(start + batch_size, len(split)))
            inputs, lengths, _ = time_major_batch(split, idx)
            ids, _, _ = self.translate(params, inputs, lengths)
            texts += [dates.decode_target(row) for row in ids]
        return texts

    def accuracy_by_length(self, params, split):
        """Exact-match accuracy overall and {(lo, hi): accuracy} per input-length bucket."""
        correct = np.array([a == b for a, b in zip(self.translate_split(params, split), split.isos)])
        buckets = {}
        for lo, hi in zip(BUCKETS[:-1], BUCKETS[1:]):
            inside = (split.lengths >= lo) & (split.lengths < hi)
            if inside.any():
                buckets[lo, hi - 1] = float(correct[inside].mean())
        return float(correct.mean()), buckets

    def evaluate(self, params):
        val_acc, _ = self.accuracy_by_length(params, self.val)
        test_acc, buckets = self.accuracy_by_length(params, self.test)
        return {"val_acc": val_acc, "test_acc": test_acc,
                **{f"test_acc_len_{lo}_{hi}": acc for (lo, hi), acc in buckets.items()}}

    def predict(self, params, text):
        """(ISO date, probability the model gives that output) for one written date."""
        inputs, lengths = dates.encode_inputs([text])
        ids, logp, _ = self.translate(params, inputs.T, lengths)
        return dates.decode_target(ids[0]), float(np.exp(logp[0]))

    def report(self, params, out, log):
        """After training: attention heatmaps of a few test inputs under ``out``
        (needs matplotlib; skipped without it or without attention)."""
        if not self.s.attention:
            return
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            log("matplotlib not importable: no attention heatmaps (pip install 'minirnn[plot]')")
            return
        path = os.path.join(out, "attention.png")
        heatmaps(self, params, self.test.texts[:4], path)
        log(f"attention heatmaps written to {path}")


def heatmaps(task, params, texts, path):
    """One panel per input text: the weight each output character (rows) gave each
    input character (columns), written as a PNG to ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    inputs, lengths = dates.encode_inputs(texts)
    ids, _, A = task.translate(params, inputs.T, lengths)
    fig, axes = plt.subplots(len(texts), 1, figsize=(7, 2.4 * len(texts)), squeeze=False)
    for ax, text, row, a in zip(axes[:, 0], texts, ids, A):
        output = dates.decode_target(row)
        ax.imshow(a[:len(output), :len(text)], cmap="Greys", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(text)), list(text), fontsize=8)
        ax.set_yticks(range(len(output)), list(output), fontsize=8)
        ax.set_title(f"{text!r} -> {output}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
