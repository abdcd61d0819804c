"""Plain NumPy LSTM, one sequence at a time, from the equations of docs/lstm.rst."""
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_forward(params, x, h0, c0, lengths):
    """h (T, B, H); after a sequence ends its state is repeated (minirnn's convention)."""
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    T, B, _ = x.shape
    H = W_h.shape[0]
    p_i, p_f, p_o = (params.get(k, np.zeros(H)) for k in ("p_i", "p_f", "p_o"))
    out = np.empty((T, B, H))
    for n in range(B):
        h, c = h0[n], c0[n]
        for t in range(T):
            if t < lengths[n]:
                z = x[t, n] @ W_x + h @ W_h + b
                i = sigmoid(z[:H] + p_i * c)
                f = sigmoid(z[H:2 * H] + p_f * c)
                g = np.tanh(z[2 * H:3 * H])
                o = sigmoid(z[3 * H:] + p_o * c)
                c = f * c + i * g
                h = o * np.tanh(c)
            out[t, n] = h
    return out
