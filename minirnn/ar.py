"""Linear autoregressive model AR(p), fitted by least squares (``docs/ar.rst``).

The memoryless baseline: the next value is a fixed linear function of the last p
values, with no state beyond them::

    s_t = c + phi_1 s_{t-1} + ... + phi_p s_{t-p} + e_t                     (1)

Stacking the rows a_t = [1, s_{t-1}, ..., s_{t-p}] into A and the targets into y::

    theta = [c, phi_1, ..., phi_p] = argmin ||y - A theta||^2                 (2)
    A^T A theta = A^T y                             (normal equations)        (3)

solved through the SVD of A (``numpy.linalg.lstsq``), not by forming A^T A: lags of a
smooth series are nearly collinear, and A^T A squares A's condition number.
"""
import numpy as np

from . import checks


def lagged(s, p):
    """Design A (T - p, p + 1) with rows [1, s_{t-1}, ..., s_{t-p}] and targets s_t
    (T - p,) for t = p .. T-1, eq. (1)."""
    _series("s", s, p, p + 1)
    T = s.shape[0]
    # BEGIN SOLUTION eq. (1) of docs/ar.rst: the rows [1, s_{t-1}, ..., s_{t-p}] of A
    A = np.ones((T - p, p + 1))
    for k in range(1, p + 1):
        A[:, k] = s[p - k:T - k]                 # column k holds s_{t-k}
    # END SOLUTION
    return A, s[p:]


def fit(s, p):
    """{"c": intercept, "phi": (p,) coefficients} of eq. (1) by least squares, eq. (2)."""
    A, y = lagged(s, p)
    if A.shape[0] < p + 1:
        raise ValueError(f"s: {s.shape[0]} values cannot fit AR({p}) with an intercept: "
                         f"need at least {2 * p + 1}")
    # BEGIN SOLUTION eq. (2) of docs/ar.rst: theta by least squares, without forming A^T A
    theta = np.linalg.lstsq(A, y, rcond=None)[0]
    # END SOLUTION
    return {"c": float(theta[0]), "phi": theta[1:]}


def check_params(params):
    """The order p of params {"c": a number, "phi": (p,) float array}, once checked."""
    p, = checks.parameter_shape(params, "phi", 1)
    checks.number("c", params[checks.present(params, "c")])
    return p


def predict(params, s):
    """One-step predictions of s_t for t = p .. T-1 from the true past values (T - p,)."""
    A, _ = lagged(s, check_params(params))
    return params["c"] + A[:, 1:] @ params["phi"]


def _series(name, s, p, least):
    """ValueError unless ``s`` is a finite 1-D float series of ``least`` values or more
    and p an order >= 1."""
    checks.float_array(name, s, 1)
    checks.finite(name, s)
    if not (isinstance(p, (int, np.integer)) and p >= 1):
        raise ValueError(f"p: expected an order >= 1, got {p!r}")
    if s.shape[0] < least:
        raise ValueError(f"{name}: {s.shape[0]} values are too few for AR({p}), "
                         f"which needs at least {least}")


def generate(params, past, steps):
    """Closed loop: ``steps`` values continuing the series ``past`` (at least p values),
    each prediction of eq. (1) fed back as the newest lag."""
    p = check_params(params)
    _series("past", past, p, p)
    steps = checks.count("steps", steps)
    lags = list(past[-p:])
    out = np.empty(steps)
    for t in range(steps):
        out[t] = params["c"] + params["phi"] @ lags[::-1]
        lags = lags[1:] + [out[t]]
    return out
