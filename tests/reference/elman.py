"""Plain NumPy references, written from the equations independently of minirnn's kernels.

Used by the tests (correctness) and by benchmarks/ (the NumPy baseline). Each sequence
is handled on its own, up to its length, so padding never enters the computation.
"""
import numpy as np


def elman_cell(W_x, W_h, b, x_t, h_prev, relu=False):
    """One step: x_t (..., D), h_prev (..., H) -> h_t (..., H)."""
    a = x_t @ W_x + h_prev @ W_h + b
    return np.maximum(a, 0) if relu else np.tanh(a)


def elman_forward(W_x, W_h, b, x, h0, lengths=None, relu=False):
    """h (T, B, H); after a sequence ends its state is repeated (minirnn's convention)."""
    T, B, _ = x.shape
    lengths = np.full(B, T) if lengths is None else lengths
    h = np.empty((T, B, W_h.shape[0]), x.dtype)
    for n in range(B):
        state = h0[n]
        for t in range(T):
            if t < lengths[n]:
                state = elman_cell(W_x, W_h, b, x[t, n], state, relu)
            h[t, n] = state
    return h


def elman_forward_batched(W_x, W_h, b, x, h0):
    """Full-length sequences, whole batch per step: the plain NumPy baseline."""
    h = np.empty((x.shape[0], x.shape[1], W_h.shape[0]), x.dtype)
    state = h0
    for t in range(x.shape[0]):
        state = elman_cell(W_x, W_h, b, x[t], state)
        h[t] = state
    return h


def elman_backward_batched(W_x, W_h, x, h0, h, dh):
    """BPTT for full-length tanh sequences: dx, dh0, dW_x, dW_h, db."""
    dW_x, dW_h = np.zeros_like(W_x), np.zeros_like(W_h)
    db = np.zeros(W_h.shape[0], x.dtype)
    dx = np.empty_like(x)
    g = np.zeros_like(h0)
    for t in range(x.shape[0] - 1, -1, -1):
        da = (dh[t] + g) * (1 - h[t] ** 2)
        h_prev = h[t - 1] if t else h0
        dW_x += x[t].T @ da
        dW_h += h_prev.T @ da
        db += da.sum(0)
        dx[t] = da @ W_x.T
        g = da @ W_h.T
    return dx, g, dW_x, dW_h, db
