"""Sentiment of IMDB reviews (``docs/sentiment.rst``): is a review positive? ::

    e_t = E[w_t]                              word embeddings, (T, B, D); in training a
                                              whole e_t is dropped with rate word_dropout
    h_t = RNN(e_t, h_{t-1})                   lstm, gru or elman, optionally
                                              bidirectional and stacked (minirnn.birnn)
    s   = [mean_t h_t | max_t h_t]            pooled over each review's own length
    z   = dropout(s) W_y + b_y                two logits: negative, positive
    L   = softmax cross-entropy

Batches group reviews of similar length (minirnn.data.imdb.bucket_batches), so a
batch is cut to its longest review and little time goes to padding.
"""
from dataclasses import asdict, dataclass

import numpy as np

from .. import birnn, checks, elman, gru, lstm
from ..data import imdb
from ..layers import affine_backward, affine_forward, dropout_backward, dropout_forward, \
    embedding_backward, embedding_forward, log_softmax, max_pool_backward, \
    max_pool_forward, mean_pool_backward, mean_pool_forward, softmax_cross_entropy
from .batching import LengthBucketed, time_major

CELLS = {"lstm": lstm, "gru": gru, "elman": elman}
LABELS = ("negative", "positive")


def time_major_batch(split, idx):
    """tokens (T, B) cut to the longest review of the batch, lengths (B,), labels (B,)."""
    return (*time_major(split.tokens, split.lengths, idx), split.labels[idx])


@dataclass
class Settings:
    model: str = "lstm"
    hidden: int = 128
    embed: int = 128
    vocab_size: int = 20000
    max_len: int = 400
    bidirectional: bool = True
    num_layers: int = 1
    dropout: float = 0.5
    word_dropout: float = 0.3
    batch_size: int = 64
    dtype: str = "float32"
    device: str = "cpu"
    val_fraction: float = 0.1
    split_seed: int = 0


def build(settings, data_dir=None):
    """The task on IMDB, found in ``data_dir`` (see ``minirnn.data.imdb``)."""
    data = imdb.load(data_dir, settings.vocab_size, settings.max_len)
    return Sentiment(settings, data.vocab, data)


class Sentiment(LengthBucketed):
    """The task ``minirnn run lstm --data imdb`` trains (see ``minirnn.train``)."""

    batch_of = staticmethod(time_major_batch)      # batches: see LengthBucketed
    unit = "reviews"
    epochs, lr, schedule = 2, 4e-3, "linear"        # chosen on validation: docs/sentiment.rst

    def __init__(self, settings, vocab, data=None):
        """A model over ``vocab`` (list of words); with ``data`` (imdb.Imdb), also its
        train/validation/test splits, validation carved from train."""
        self.s, self.vocab = settings, list(vocab)
        self.cell = CELLS[settings.model]
        self.dtype = np.dtype(settings.dtype)
        if data is not None:
            train_idx, val_idx = imdb.validation_split(data.train.movies,
                                                       settings.val_fraction, settings.split_seed)
            self.train = data.train.take(train_idx)
            self.val = data.train.take(val_idx)
            self.test = data.test

    def meta(self):
        return {"task": "sentiment", "vocab": self.vocab, **asdict(self.s)}

    @property
    def features(self):
        return 2 * self.s.hidden * (2 if self.s.bidirectional else 1)     # [mean | max]

    def init_params(self, rng):
        s = self.s
        params = {"E": (0.1 * rng.standard_normal((len(self.vocab), s.embed))).astype(self.dtype),
                  **birnn.init(rng, self.cell, s.embed, s.hidden, s.num_layers,
                               s.bidirectional, self.dtype)}
        bound = 1 / np.sqrt(self.features)
        params["W_y"] = rng.uniform(-bound, bound, (self.features, 2)).astype(self.dtype)
        params["b_y"] = np.zeros(2, self.dtype)
        return params

    def forward(self, params, tokens, lengths, rng=None, backprop=True):
        """tokens (T, B) -> logits (B, 2); rng draws dropout masks (None: evaluation);
        with ``backprop=False`` the RNN keeps nothing for a backward pass."""
        s = self.s
        checks.parameters(params, dtype=self.dtype, E=(len(self.vocab), s.embed),
                          W_y=(self.features, 2), b_y=(2,))     # the cells: birnn's check
        e, e_cache = embedding_forward(params["E"], tokens)
        e, word_cache = dropout_forward(e, s.word_dropout, rng, shape=(*tokens.shape, 1))
        h, h_cache = birnn.forward(params, self.cell, e, lengths, s.num_layers, s.bidirectional,
                                   s.dropout, rng, s.device, backprop)
        mean, mean_cache = mean_pool_forward(h, lengths)
        top, max_cache = max_pool_forward(h, lengths)
        pooled, drop_cache = dropout_forward(np.concatenate([mean, top], axis=1), s.dropout, rng)
        z, z_cache = affine_forward(pooled, params["W_y"], params["b_y"])
        return z, (e_cache, word_cache, h_cache, mean_cache, max_cache, drop_cache, z_cache)

    def step(self, params, batch, state, rng):
        tokens, lengths, labels = batch
        z, (e_cache, word_cache, h_cache, mean_cache, max_cache, drop_cache, z_cache) = \
            self.forward(params, tokens, lengths, rng)
        loss, dz = softmax_cross_entropy(z, labels)
        dpooled, dW_y, db_y = affine_backward(dz, z_cache)
        dpooled = dropout_backward(dpooled, drop_cache)
        half = dpooled.shape[1] // 2
        dh = mean_pool_backward(dpooled[:, :half], mean_cache) + \
            max_pool_backward(dpooled[:, half:], max_cache)
        de, grads = birnn.backward(dh, h_cache)
        grads.update(E=embedding_backward(dropout_backward(de, word_cache), e_cache), W_y=dW_y, b_y=db_y)
        return loss, grads, state, len(labels)

    def scores(self, params, split):
        """P(positive) for every review of a split, in batches of similar length, the size
        of the training batches (larger ones were no faster: docs/sentiment.rst)."""
        order = np.argsort(split.lengths, kind="stable")
        p = np.empty(len(order))
        batch_size = self.s.batch_size
        for start in range(0, len(order), batch_size):
            idx = order[start: start + batch_size]
            tokens, lengths, _ = time_major_batch(split, idx)
            z, _ = self.forward(params, tokens, lengths, backprop=False)
            p[idx] = np.exp(log_softmax(z.astype(np.float64)))[:, 1]
        return p

    def accuracy_and_loss(self, params, split):
        p = self.scores(params, split)
        y = split.labels
        nll = -np.mean(np.log(np.where(y == 1, p, 1 - p).clip(1e-12)))
        return float(np.mean((p > 0.5) == y)), float(nll)

    def evaluate(self, params):
        val_acc, val_loss = self.accuracy_and_loss(params, self.val)
        test_acc, test_loss = self.accuracy_and_loss(params, self.test)
        return {"val_acc": val_acc, "val_loss": val_loss, "test_acc": test_acc, "test_loss": test_loss}

    def predict(self, params, text):
        """(label, probability of that label) for one review; ValueError if none of its
        words is in the vocabulary (the model would see only <unk>)."""
        if not imdb.tokenize(text):
            raise ValueError("TEXT has no words (letters or digits) to classify")
        tokens, lengths = imdb.encode([text], self.vocab, self.s.max_len)
        if np.all(tokens[0, :lengths[0]] == self.vocab.index(imdb.UNK)):
            raise ValueError(f"none of the {lengths[0]} word(s) of TEXT it reads is in the "
                             f"model's vocabulary of {len(self.vocab):,}: it would see only <unk>")
        z, _ = self.forward(params, tokens.T, lengths, backprop=False)
        p = np.exp(log_softmax(z.astype(np.float64)))[0]
        return LABELS[int(p.argmax())], float(p.max())
