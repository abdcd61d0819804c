"""Plain NumPy LSTM, one sequence at a time, from the equations of docs/lstm.rst."""
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_cell(params, x_t, h, c):
    """One step: x_t (..., D), h and c (..., H) -> (h_t, c_t)."""
    H = params["W_h"].shape[0]
    p_i, p_f, p_o = (params.get(k, np.zeros(H)) for k in ("p_i", "p_f", "p_o"))
    z = x_t @ params["W_x"] + h @ params["W_h"] + params["b"]
    i = sigmoid(z[..., :H] + p_i * c)
    f = sigmoid(z[..., H:2 * H] + p_f * c)
    g = np.tanh(z[..., 2 * H:3 * H])
    o = sigmoid(z[..., 3 * H:] + p_o * c)
    c = f * c + i * g
    return o * np.tanh(c), c


def lstm_forward(params, x, h0, c0, lengths):
    """h (T, B, H); after a sequence ends its state is repeated (minirnn's convention)."""
    T, B, _ = x.shape
    out = np.empty((T, B, params["W_h"].shape[0]))
    for n in range(B):
        h, c = h0[n], c0[n]
        for t in range(T):
            if t < lengths[n]:
                h, c = lstm_cell(params, x[t, n], h, c)
            out[t, n] = h
    return out
