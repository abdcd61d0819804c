"""Plain NumPy references for the echo state network, the ridge readout and AR(p),
written from the equations of docs/esn.rst and docs/ar.rst with dense matrices and one
series at a time (no CSR, no SVD)."""
import numpy as np


def esn_forward(W_in, W, b, u, x0, leak):
    """States (T, B, N): x_t = (1 - leak) x_{t-1} + leak tanh(W_in u_t + W x_{t-1} + b)."""
    T, B, _ = u.shape
    x = np.empty((T, B, W.shape[0]), u.dtype)
    for n in range(B):
        state = x0[n]
        for t in range(T):
            state = (1 - leak) * state + leak * np.tanh(W_in @ u[t, n] + W @ state + b)
            x[t, n] = state
    return x


def esn_generate(W_in, W, b, W_out, W_u, b_out, u0, x0, leak, steps):
    """Closed loop for one series: y_s = W_out x_s + W_u u_s + b_out, u_{s+1} = y_s."""
    u, x, ys = u0, x0, []
    for _ in range(steps):
        y = W_out @ x + W_u @ u + b_out
        ys.append(y)
        u = y
        x = (1 - leak) * x + leak * np.tanh(W_in @ u + W @ x + b)
    return np.array(ys)


def ridge_normal_equations(z, y, ridge):
    """argmin ||y - z W^T - 1 c^T||^2 + ridge ||W||^2 from the normal equations of the
    design [z, 1], the intercept unpenalised: returns W (D_out, F) and c (D_out,)."""
    A = np.hstack([z, np.ones((z.shape[0], 1))])
    P = ridge * np.eye(A.shape[1])
    P[-1, -1] = 0.0
    theta = np.linalg.solve(A.T @ A + P, A.T @ y)
    return theta[:-1].T, theta[-1]


def ar_design(s, p):
    """Rows [1, s_{t-1}, ..., s_{t-p}] and targets s_t, from sliding windows."""
    windows = np.lib.stride_tricks.sliding_window_view(s, p + 1)   # s_{t-p} .. s_t
    return np.hstack([np.ones((len(windows), 1)), windows[:, -2::-1]]), windows[:, -1]
