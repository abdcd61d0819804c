"""Linear dynamical system (``docs/lds.rst``): a Gaussian hidden state that moves linearly.

The model, states x_t (n,), observations y_t (m,), t = 1..T:

    x_1 ~ N(mu0, P0),  x_t = F x_{t-1} + w_t,  y_t = H x_t + v_t,
    w_t ~ N(0, Q),  v_t ~ N(0, R)                                           (1)

Kalman filter (mu_{t|t}, P_{t|t}: the state given y_1..y_t):

    mu_{1|0} = mu0, P_{1|0} = P0;  mu_{t|t-1} = F mu_{t-1|t-1},
    P_{t|t-1} = F P_{t-1|t-1} F^T + Q                                       (3)
    e_t = y_t - H mu_{t|t-1},  S_t = H P_{t|t-1} H^T + R                   (4)
    K_t = P_{t|t-1} H^T S_t^-1                                              (5)
    mu_{t|t} = mu_{t|t-1} + K_t e_t                                         (6)
    P_{t|t} = (I - K_t H) P_{t|t-1} (I - K_t H)^T + K_t R K_t^T  (Joseph)  (7)
    log p(y_1..y_T) = sum_t log N(e_t; 0, S_t)                              (8)

A y_t holding a NaN is missing: mu_{t|t}, P_{t|t} = the prediction, no term in (8).
Rauch-Tung-Striebel smoother (mu_{t|T}, P_{t|T}: the state given all of y):

    J_t = P_{t|t} F^T P_{t+1|t}^-1   (pseudo-inverse where P_{t+1|t} is singular)  (10)
    mu_{t|T} = mu_{t|t} + J_t (mu_{t+1|T} - mu_{t+1|t})
    P_{t|T} = P_{t|t} + J_t (P_{t+1|T} - P_{t+1|t}) J_t^T                  (11)
    P_{t+1,t|T} = Cov(x_{t+1}, x_t | y) = P_{t+1|T} J_t^T                   (12)

EM (eqs. 13-16) re-estimates F, H, Q, R, mu0, P0 from the smoothed moments; each
iteration cannot lower log p(y). The log-likelihood is pykalman's: the first step's
prediction is (mu0, P0) itself, with no transition applied.

Parameters are a dict {F (n, n), H (m, n), Q (n, n), R (m, m), mu0 (n,), P0 (n, n)},
all of one float dtype.
"""
import numpy as np

from . import checks
from .kernels import lds as kernels

NAMES = ("F", "H", "Q", "R", "mu0", "P0")
SYMMETRIC = ("Q", "R", "P0")


def check_params(params):
    """Shapes, dtype, finiteness and symmetry of ``params``; returns (n, m)."""
    missing = [k for k in NAMES if k not in params]
    if missing:
        raise ValueError(f"params: missing {', '.join(missing)} (an LDS needs {', '.join(NAMES)})")
    for k in NAMES:
        checks.float_array(k, params[k], 1 if k == "mu0" else 2)
    dtypes = {k: params[k].dtype for k in NAMES}
    if len(set(dtypes.values())) > 1:
        got = ", ".join(f"{k} {d}" for k, d in dtypes.items())
        raise ValueError(f"params: all arrays need one float dtype, got {got}")
    n, m = params["F"].shape[0], params["H"].shape[0]
    expected = {"F": (n, n), "H": (m, n), "Q": (n, n), "R": (m, m), "mu0": (n,), "P0": (n, n)}
    for k, shape in expected.items():
        checks.shape(k, params[k], shape)
        checks.finite(k, params[k])
    for k in SYMMETRIC:
        a = params[k]
        if not np.allclose(a, a.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(a).max())):
            raise ValueError(f"{k}: a covariance must be symmetric; use ({k} + {k}.T) / 2")
    if np.linalg.eigvalsh(params["R"].astype(np.float64)).min() <= 0:
        raise ValueError("R: observation noise covariance must be positive definite")
    return n, m


def observations(params, y, batch=True):
    """y (T, m), or (T, B, m) when ``batch``, of the params' dtype; NaN (missing) is
    allowed, inf is not. Returns y as (T, B, m), C-contiguous."""
    _, m = check_params(params)
    ndims = (2, 3) if batch else (2,)
    if not isinstance(y, np.ndarray) or y.ndim not in ndims:
        want = "(T, m) or (T, B, m)" if batch else "(T, m)"
        raise ValueError(f"y: expected an array of shape {want}, got "
                         f"{getattr(y, 'shape', type(y).__name__)}")
    checks.float_array("y", y, y.ndim, params["F"].dtype)
    checks.shape("y", y, (None,) * (y.ndim - 1) + (m,))
    if np.isinf(y).any():
        checks.finite("y", np.where(np.isnan(y), 0, y))    # names the first inf
    y3 = y if y.ndim == 3 else y[:, None, :]
    return np.ascontiguousarray(y3)


def sample(params, T, rng):
    """Draw x (T, n) and y (T, m) from the model (eq. 1) with generator ``rng``."""
    n, m = check_params(params)
    T = checks.count("T", T)
    F, H = params["F"], params["H"]
    x0 = rng.multivariate_normal(params["mu0"], params["P0"])
    w = rng.multivariate_normal(np.zeros(n), params["Q"], size=T)
    v = rng.multivariate_normal(np.zeros(m), params["R"], size=T)
    x = np.empty((T, n))
    x[:1] = x0                                  # a slice: T = 0 sets nothing
    for t in range(1, T):
        x[t] = F @ x[t - 1] + w[t]
    y = x @ H.T + v
    return x.astype(F.dtype), y.astype(F.dtype)


def filter(params, y, device="cpu"):
    """Kalman filter (eqs. 3-9) over y (T, m), or a batch of sequences (T, B, m).

    Returns the filtered means mu (T, n), covariances P (T, n, n) and the
    log-likelihood (a float); with a batch, mu (T, B, n), P (T, B, n, n), ll (B,).
    ``device="cuda"`` runs one GPU thread per sequence.
    """
    y3 = observations(params, y)
    if device not in kernels.KERNELS:
        raise ValueError(f"device: expected one of {sorted(kernels.KERNELS)}, got {device!r}")
    mu, P, ll = kernels.KERNELS[device](*(params[k] for k in NAMES), y3)
    if np.isnan(ll).any():
        raise FloatingPointError("innovation covariance S_t is not positive definite: "
                                 "check that R is positive definite and Q, P0 are "
                                 "positive semi-definite")
    return (mu, P, ll) if y.ndim == 3 else (mu[:, 0], P[:, 0], float(ll[0]))


def smooth(params, mu_f, P_f):
    """Rauch-Tung-Striebel smoother (eqs. 10-12) from filter's output for one sequence.

    Returns the smoothed means (T, n), covariances (T, n, n) and the lag-one
    covariances Cov(x_{t+1}, x_t | y) (T - 1, n, n).
    """
    n, _ = check_params(params)
    checks.shape("mu_f", mu_f, (None, n))
    checks.shape("P_f", P_f, (len(mu_f), n, n))
    F, Q = params["F"], params["Q"]
    FP = F @ P_f[:-1]
    P_pred = FP @ F.T + Q                                          # eq. (3), t = 2..T
    # eq. (10) with the pseudo-inverse: P_pred is singular when the dynamics are partly
    # deterministic (Q = 0 with P0 = 0 or a singular F), and the rows of F P_f always
    # lie in its range, so this is still exact conditioning (pykalman's choice, too).
    # The cutoff is scipy's default, n * eps, relative to each step's largest eigenvalue.
    P_pred_pinv = np.linalg.pinv(P_pred, rcond=n * np.finfo(P_pred.dtype).eps, hermitian=True)
    J = (P_pred_pinv @ FP).transpose(0, 2, 1)                      # P_pred symmetric
    mu_s, P_s = mu_f.copy(), P_f.copy()
    for t in range(len(mu_f) - 2, -1, -1):                         # eq. (11)
        mu_s[t] += J[t] @ (mu_s[t + 1] - F @ mu_f[t])
        P_s[t] += J[t] @ (P_s[t + 1] - P_pred[t]) @ J[t].T
        P_s[t] = (P_s[t] + P_s[t].T) / 2
    return mu_s, P_s, P_s[1:] @ J.transpose(0, 2, 1)               # eq. (12)


def _moments(mu_s, P_s, P_lag):
    """Smoothed second moments (eq. 13): E[x_t x_t^T] (T, n, n) and
    E[x_{t+1} x_t^T] (T - 1, n, n)."""
    xx = P_s + mu_s[:, :, None] * mu_s[:, None, :]
    xx_lag = P_lag + mu_s[1:, :, None] * mu_s[:-1, None, :]
    return xx, xx_lag


def _residual_covariance(A, S_ab, S_bb, S_aa, count):
    """(1/count) sum E[(a - A b)(a - A b)^T] from the sums S_ab = sum E[a b^T],
    S_bb = sum E[b b^T], S_aa = sum E[a a^T] (eqs. 14, 15), symmetrised."""
    C = (S_aa - A @ S_ab.T - S_ab @ A.T + A @ S_bb @ A.T) / count
    return (C + C.T) / 2


def _regression(name, S_ab, S_bb):
    """A = S_ab S_bb^-1 (eqs. 14, 15). S_bb is singular when the smoothed states never
    vary along some direction (Q = 0 with P0 = 0, say): the data then cannot fix A."""
    try:
        return np.linalg.solve(S_bb, S_ab.T).T
    except np.linalg.LinAlgError:
        raise ValueError(f"{name}: cannot be learned, the smoothed states span too few "
                         f"directions (sum of E[x x^T] is singular, as with Q = 0 and "
                         f"P0 = 0); leave {name!r} out of learn") from None


def m_step(params, y, mu_s, P_s, P_lag, learn=NAMES):
    """New parameters maximising the expected complete-data log-likelihood (eqs. 13-16)
    given the smoothed moments; names not in ``learn`` keep their values. Rows of y
    with a NaN are missing and do not enter H and R."""
    new = {k: v.copy() for k, v in params.items()}
    xx, xx_lag = _moments(mu_s, P_s, P_lag)
    S10, S00, S11 = xx_lag.sum(0), xx[:-1].sum(0), xx[1:].sum(0)
    if "F" in learn:
        new["F"] = _regression("F", S10, S00)                      # eq. (14)
    if "Q" in learn:
        new["Q"] = _residual_covariance(new["F"], S10, S00, S11, len(y) - 1)
    seen = ~np.isnan(y).any(axis=1)
    y_seen, mu_seen = y[seen], mu_s[seen]
    Syx, Sxx, Syy = y_seen.T @ mu_seen, xx[seen].sum(0), y_seen.T @ y_seen
    if "H" in learn:
        new["H"] = _regression("H", Syx, Sxx)                      # eq. (15)
    if "R" in learn:
        new["R"] = _residual_covariance(new["H"], Syx, Sxx, Syy, seen.sum())
    if "mu0" in learn:                                             # eq. (16)
        new["mu0"] = mu_s[0].copy()
    if "P0" in learn:
        d = mu_s[0] - new["mu0"]
        new["P0"] = P_s[0] + np.outer(d, d)
    return {k: v.astype(params[k].dtype) for k, v in new.items()}


def em(params, y, iterations=20, learn=NAMES, tol=0.0, log=None):
    """Fit the parameters named in ``learn`` to y (T, m) by EM.

    Returns the fitted params and the log-likelihood before each iteration and after
    the last (iterations + 1 values, non-decreasing up to rounding). Stops early once
    an iteration gains less than ``tol``.
    """
    y3 = observations(params, y, batch=False)
    unknown = sorted(set(learn) - set(NAMES))
    if unknown:
        raise ValueError(f"learn: unknown parameter(s) {unknown}; choose from {NAMES}")
    if len(y) < 2:
        raise ValueError(f"y: EM needs at least 2 steps, got {len(y)}")
    y = y3[:, 0]
    history = []
    for it in range(iterations + 1):
        mu_f, P_f, ll = filter(params, y)
        history.append(ll)
        if log:
            log(f"EM iteration {it}: log-likelihood {ll:.6f}")
        if it == iterations or (it and history[-1] - history[-2] < tol):
            break
        params = m_step(params, y, *smooth(params, mu_f, P_f), learn=learn)
    return params, history
