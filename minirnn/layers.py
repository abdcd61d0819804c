"""Building blocks shared by every model: each a ``forward``/``backward`` pair.

Shapes use ``...`` for any leading axes, so the same functions serve a (N, D)
batch and a time-major (T, B, D) sequence batch. Derivations: ``docs/training.rst``::

    embedding      y = E[idx]                                   (training eq. 1)
    affine         y = x W + b                                  (training eq. 2)
    softmax CE     L = -(1/M) sum_n m_n log softmax(z_n)[y_n]   (training eq. 3)
                   dL/dz_n = (m_n / M) (softmax(z_n) - onehot(y_n))   (training eq. 4)
    sigmoid, tanh, relu, elementwise with their derivatives
    dropout        y = x * m / (1 - p),  m ~ Bernoulli(1 - p)          (training eq. 14)
    pooling        mean or max of h_1..h_len over each sequence's steps (training eq. 15)
"""
import numpy as np

from . import checks
from .kernels.layers import max_over_time, scatter_add_rows


def embedding_forward(E, idx):
    """Look up rows of E (V, D) for integer ids idx (...). Returns out (..., D), cache."""
    checks.float_array("E", E, 2)
    checks.ids("idx", idx, E.shape[0])
    return E[idx], (idx, E.shape)


def embedding_backward(dout, cache):
    """dout (..., D) -> dE (V, D): the rows of every id, summed where ids repeat."""
    idx, shape = cache
    checks.shape("dout", dout, (*np.shape(idx), shape[1]))   # the kernel checks no bounds
    dE = np.zeros(shape, dout.dtype)
    scatter_add_rows(dE, idx.ravel(), dout.reshape(-1, shape[1]))
    return dE


def affine_forward(x, W, b):
    """x (..., D), W (D, H), b (H,) -> out (..., H), cache. W and b of x's dtype; b may
    be a scalar (0: no bias)."""
    checks.float_array("x", x, max(np.ndim(x), 1))     # any dims but none: x[-1] is D
    checks.float_array("W", W, 2, x.dtype)
    checks.shape("W", W, (x.shape[-1], None))
    if np.ndim(b):                                  # a (2, H) b would broadcast silently
        checks.float_array("b", b, 1, x.dtype)
        checks.shape("b", b, (W.shape[1],))
    return x @ W + b, (x, W)


def affine_backward(dout, cache):
    """dout (..., H) -> dx (..., D), dW (D, H), db (H,)."""
    x, W = cache
    x2 = x.reshape(-1, x.shape[-1])
    d2 = dout.reshape(-1, dout.shape[-1])
    return dout @ W.T, x2.T @ d2, d2.sum(axis=0)


def log_softmax(z):
    """log softmax over the last axis, shifted by the max so exp never overflows."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_cross_entropy(z, y, mask=None):
    """Mean negative log-likelihood of targets y (...) under logits z (..., C).

    ``mask`` (...) of 0/1 weights leaves padded positions out of both the loss and its
    gradient; the mean is over the unmasked positions. Returns (loss, dz).
    """
    checks.ids("y", y, z.shape[-1])
    checks.shape("y", y, z.shape[:-1])
    if mask is None:
        mask = np.ones(y.shape, z.dtype)
    count = max(float(mask.sum()), 1.0)
    logp = log_softmax(z)
    picked = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
    loss = -(mask * picked).sum() / count
    dz = np.exp(logp)                                              # softmax(z)
    np.put_along_axis(dz, y[..., None], np.take_along_axis(dz, y[..., None], axis=-1) - 1, axis=-1)
    dz *= (mask / count)[..., None].astype(z.dtype)
    return float(loss), dz


def sigmoid_forward(x):
    """sigma(x) = 1 / (1 + exp(-x)), evaluated without overflow for large abs(x)."""
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, out


def sigmoid_backward(dout, cache):
    s = cache
    return dout * s * (1 - s)


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    return dout * (1 - cache * cache)


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def dropout_forward(x, p, rng, shape=None):
    """Inverted dropout: zero each entry with probability p and scale the rest by
    1/(1-p), so evaluation (rng None or p = 0) is the identity. Returns out, cache.
    A ``shape`` that broadcasts to x's drops whole slices: (T, B, 1) drops whole
    word vectors of a (T, B, D) batch."""
    if not 0 <= p < 1:
        raise ValueError(f"p: expected a dropout rate in [0, 1), got {p}")
    if rng is None or p == 0:
        return x, None
    keep = (rng.random(shape or x.shape) >= p).astype(x.dtype) / (1 - p)
    return x * keep, keep


def dropout_backward(dout, cache):
    return dout if cache is None else dout * cache


def _steps_mask(lengths, T):
    """(T, B, 1) with 1 for t < lengths[b]."""
    return (np.arange(T)[:, None] < lengths[None, :])[..., None]


def mean_pool_forward(h, lengths):
    """h (T, B, H) -> mean over each sequence's valid steps (B, H); empty -> 0."""
    lengths = checks.lengths(lengths, h.shape[1], h.shape[0])
    mask = _steps_mask(lengths, h.shape[0])
    count = np.maximum(lengths, 1)[:, None].astype(h.dtype)
    return (h * mask).sum(axis=0) / count, (mask, count)


def mean_pool_backward(dout, cache):
    mask, count = cache
    return mask * (dout / count)[None]


def max_pool_forward(h, lengths):
    """h (T, B, H) -> max over each sequence's valid steps (B, H); empty -> 0.
    The gradient goes to the (first) step holding the maximum."""
    T, B, H = h.shape
    lengths = checks.lengths(lengths, B, T)                  # the kernel checks no bounds
    out, arg = np.empty((B, H), h.dtype), np.empty((B, H), np.int64)
    max_over_time(h, lengths, out, arg)
    return out, (arg, lengths, h.shape)


def max_pool_backward(dout, cache):
    arg, lengths, shape = cache
    dh = np.zeros(shape, dout.dtype)
    if shape[0]:                # T = 0: no step to route to, and empty sequences get none
        np.put_along_axis(dh, arg[None], (dout * (lengths > 0)[:, None])[None], axis=0)
    return dh
