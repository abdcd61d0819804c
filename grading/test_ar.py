"""Graded: the AR(p) baseline (docs/ar.rst): its design matrix built by loops here, and
its coefficients from the normal equations, eq. (3), solved directly."""
import numpy as np

from minirnn.grade import check_close, graded


def series(seed, T=60):
    """An AR(2) series s_t = 0.3 + 0.6 s_{t-1} - 0.2 s_{t-2} + noise."""
    rng = np.random.default_rng(seed)
    s = np.zeros(T)
    for t in range(2, T):
        s[t] = 0.3 + 0.6 * s[t - 1] - 0.2 * s[t - 2] + 0.1 * rng.standard_normal()
    return s


def design(s, p):
    """Rows [1, s_{t-1}, ..., s_{t-p}] for t = p .. T-1, one entry at a time."""
    return np.array([[1.0] + [s[t - k] for k in range(1, p + 1)] for t in range(p, len(s))])


def check_fit(s, p):
    from minirnn import ar
    A = design(s, p)
    theta = np.linalg.solve(A.T @ A, A.T @ s[p:])              # eq. (3): normal equations
    params = ar.fit(s, p)
    check_close("c (the intercept)", np.array(params["c"]), theta[0], tol=1e-8)
    check_close("phi (the lag coefficients, shape (p,))", params["phi"], theta[1:], tol=1e-8)
    check_close("predict (one-step predictions, shape (T - p,))", ar.predict(params, s),
                A @ theta, tol=1e-8)


@graded(points=1)
def test_design():
    """design: the rows [1, s_{t-1}, ..., s_{t-p}] and targets s_t of eq. (1), p = 3"""
    from minirnn import ar
    s = series(0)
    A, y = ar.lagged(s, 3)
    check_close("A (the design matrix, shape (T - p, p + 1))", A, design(s, 3))
    check_close("y (the targets s_p .. s_{T-1})", y, s[3:])


@graded(points=2)
def test_fit():
    """fit: c and phi of eq. (2) against the normal equations, p = 2"""
    check_fit(series(1), 2)
