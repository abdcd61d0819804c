"""Plain NumPy GRU reference, written from the equations of docs/gru.rst independently
of minirnn's kernels. Each sequence runs on its own, up to its length, so padding never
enters the computation; after a sequence ends its state is repeated (minirnn's
convention)."""
import numpy as np


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def gru_cell(W_x, W_h, b_x, b_h, x_t, h_prev, variant="after"):
    """One step for one sequence: x_t (D,), h_prev (H,) -> h_t (H,)."""
    W_xr, W_xz, W_xn = np.split(W_x, 3, axis=1)
    W_hr, W_hz, W_hn = np.split(W_h, 3, axis=1)
    b_xr, b_xz, b_xn = np.split(b_x, 3)
    b_hr, b_hz = b_h[:len(b_xr)], b_h[len(b_xr):2 * len(b_xr)]
    r = sigmoid(x_t @ W_xr + b_xr + h_prev @ W_hr + b_hr)
    z = sigmoid(x_t @ W_xz + b_xz + h_prev @ W_hz + b_hz)
    if variant == "after":
        n = np.tanh(x_t @ W_xn + b_xn + r * (h_prev @ W_hn + b_h[2 * len(b_xr):]))
    else:
        n = np.tanh(x_t @ W_xn + b_xn + (r * h_prev) @ W_hn)
    return (1 - z) * n + z * h_prev


def gru_forward(params, x, h0, lengths=None, variant="after"):
    """h (T, B, H) for x (T, B, D), h0 (B, H) and params {W_x, W_h, b_x, b_h}."""
    T, B, _ = x.shape
    lengths = np.full(B, T) if lengths is None else lengths
    h = np.empty((T, B, h0.shape[1]), x.dtype)
    for n in range(B):
        state = h0[n]
        for t in range(T):
            if t < lengths[n]:
                state = gru_cell(params["W_x"], params["W_h"], params["b_x"], params["b_h"],
                                 x[t, n], state, variant)
            h[t, n] = state
    return h
