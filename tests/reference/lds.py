"""Plain NumPy references for the linear dynamical system, written from the model.

``kalman_filter``: the textbook filter with explicit inverses and the short covariance
update P = (I - K H) P (not minirnn's Joseph form or Cholesky); also the NumPy
baseline of benchmarks/lds.py. ``joint_gaussian`` and ``condition``: the whole
sequence (x_1..x_T, y_1..y_T) as one multivariate normal, for closed-form
likelihoods and smoothed moments on small T, with no recursion at all.
"""
import numpy as np


def kalman_filter(p, y):
    """Filtered means (T, n), covariances (T, n, n) and log-likelihood of y (T, m);
    rows with a NaN are skipped (prediction only, no likelihood term)."""
    F, H, Q, R = p["F"], p["H"], p["Q"], p["R"]
    T, m = y.shape
    mu, P = p["mu0"], p["P0"]
    mus, Ps, ll = [], [], 0.0
    for t in range(T):
        if t > 0:
            mu, P = F @ mu, F @ P @ F.T + Q
        if not np.isnan(y[t]).any():
            S = H @ P @ H.T + R
            S_inv = np.linalg.inv(S)
            K = P @ H.T @ S_inv
            e = y[t] - H @ mu
            ll += -0.5 * (m * np.log(2 * np.pi) + np.linalg.slogdet(S)[1] + e @ S_inv @ e)
            mu, P = mu + K @ e, (np.eye(len(mu)) - K @ H) @ P
        mus.append(mu)
        Ps.append(P)
    return np.array(mus), np.array(Ps), ll


def joint_gaussian(p, T):
    """Mean and covariance of z = (x_1, ..., x_T, y_1, ..., y_T) stacked, (T(n + m),)
    and square, from x_1 ~ N(mu0, P0), x_t = F x_{t-1} + w_t, y_t = H x_t + v_t."""
    F, H, Q, R = p["F"], p["H"], p["Q"], p["R"]
    n, m = F.shape[0], H.shape[0]
    means, marginal = [p["mu0"]], [p["P0"]]
    for _ in range(1, T):
        means.append(F @ means[-1])
        marginal.append(F @ marginal[-1] @ F.T + Q)
    Cxx = np.zeros((T * n, T * n))
    for t in range(T):                       # Cov(x_s, x_t) = F^(s-t) Var(x_t), s >= t
        block = marginal[t]
        for s in range(t, T):
            Cxx[s * n:(s + 1) * n, t * n:(t + 1) * n] = block
            Cxx[t * n:(t + 1) * n, s * n:(s + 1) * n] = block.T
            block = F @ block
    Hbig = np.kron(np.eye(T), H)
    mean = np.concatenate([np.concatenate(means), Hbig @ np.concatenate(means)])
    cov = np.block([[Cxx, Cxx @ Hbig.T],
                    [Hbig @ Cxx, Hbig @ Cxx @ Hbig.T + np.kron(np.eye(T), R)]])
    return mean, cov


def observed_indices(y, n):
    """Indices into z of the observed entries of y (T, m) (rows without NaN)."""
    T, m = y.shape
    rows = [t for t in range(T) if not np.isnan(y[t]).any()]
    return np.array([T * n + t * m + i for t in rows for i in range(m)], int)


def log_likelihood(p, y):
    """log N(observed y; mean, cov) of the stacked observed rows: one big Gaussian."""
    n = p["F"].shape[0]
    mean, cov = joint_gaussian(p, len(y))
    idx = observed_indices(y, n)
    d = y[~np.isnan(y).any(axis=1)].ravel() - mean[idx]
    C = cov[np.ix_(idx, idx)]
    return -0.5 * (len(idx) * np.log(2 * np.pi) + np.linalg.slogdet(C)[1]
                   + d @ np.linalg.solve(C, d))


def smoothed(p, y):
    """E[x | observed y] (T, n) and Cov(x | observed y) as the (T n, T n) matrix, by
    conditioning the joint Gaussian: mean_x + C_xy C_yy^-1 (y - mean_y)."""
    T, n = len(y), p["F"].shape[0]
    mean, cov = joint_gaussian(p, T)
    idx, xs = observed_indices(y, n), np.arange(T * n)
    d = y[~np.isnan(y).any(axis=1)].ravel() - mean[idx]
    C_xy, C_yy = cov[np.ix_(xs, idx)], cov[np.ix_(idx, idx)]
    mu = mean[xs] + C_xy @ np.linalg.solve(C_yy, d)
    return mu.reshape(T, n), cov[np.ix_(xs, xs)] - C_xy @ np.linalg.solve(C_yy, C_xy.T)
