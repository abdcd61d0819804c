"""Echo state network: a fixed random reservoir, a trained linear readout (``docs/esn.rst``).

For inputs u_t (D,), reservoir states x_t (N,) and outputs y_t (D_out,)::

    a_t = W_in u_t + W x_{t-1} + b                                           (1)
    x_t = (1 - alpha) x_{t-1} + alpha tanh(a_t)        alpha: leak rate      (2)

W_in, W and b are drawn once and never trained: W is sparse (a fraction ``density``
of nonzeros) and rescaled to a chosen spectral radius rho::

    W <- W rho / max_k |lambda_k(W)|                                         (3)

and the output is a linear readout of the state and the input::

    y_t = W_out x_t + W_u u_t + b_out                                        (4)

Only the readout is fitted, by ridge regression on the features z_t = [x_t; u_t]
(W_u = 0 when the input is left out of the readout) after a warm-up::

    min ||Y - Z [W_out W_u]^T - 1 b_out^T||^2 + beta ||[W_out W_u]||^2        (5)
    [W_out W_u]^T = V diag(s / (s^2 + beta)) U^T (Y - mean Y),
    b_out = mean Y - [W_out W_u] mean Z,   with Z - mean Z = U diag(s) V^T   (6)

In closed loop (generative) the prediction of the next input is fed back::

    u_{t+1} = y_t                                                            (7)

The run (1-2) and the closed loop (4, 7) are kernels in ``minirnn/kernels/esn.py``.
Vectors are columns here, as in the ESN literature (W x); batches stay time-major,
u (T, B, D) and x (T, B, N).
"""
import numpy as np

from . import checks
from .kernels import esn as kernels


def init(rng, D, N, spectral_radius=1.25, density=0.1, input_scaling=1.0, input_density=0.1,
         bias_scaling=0.0, dtype=np.float64):
    """Reservoir {W_in (N, D), W (N, N), b (N,)} drawn from ``rng``, the way reservoirpy
    draws its defaults: W has round(density N^2) standard normal nonzeros at random
    places, rescaled by eq. (3); W_in has round(input_density N D) entries
    +-input_scaling; b is uniform in +-bias_scaling (0: no bias)."""
    if N < 1 or D < 1:
        raise ValueError(f"N and D: expected positive sizes, got N={N}, D={D}")
    for name, p in (("density", density), ("input_density", input_density)):
        if not 0 < p <= 1:
            raise ValueError(f"{name}: expected a fraction in (0, 1], got {p}")
    W = _sparse(rng, (N, N), density, rng.standard_normal)
    W *= spectral_radius / max(radius(W), np.finfo(float).tiny)        # eq. (3)
    W_in = _sparse(rng, (N, D), input_density,
                   lambda k: input_scaling * rng.choice([-1.0, 1.0], k))
    b = bias_scaling * rng.uniform(-1, 1, N)
    return {"W_in": W_in.astype(dtype), "W": W.astype(dtype), "b": b.astype(dtype)}


def _sparse(rng, shape, density, values):
    """Dense array with round(density * size) nonzeros ``values(k)`` at random places."""
    a = np.zeros(shape)
    k = max(1, round(density * a.size))
    a.flat[rng.choice(a.size, k, replace=False)] = values(k)
    return a


def radius(W):
    """Spectral radius max_k abs(lambda_k(W)), from all eigenvalues (LAPACK, O(N^3)).

    Not power iteration: a random non-symmetric W has many eigenvalues of nearly the
    largest modulus spread round a circle (the circular law), often complex pairs, so
    the power iterates rotate instead of settling and converge at the rate of the ratio
    of the two largest moduli, which is close to 1. eigvals of a 1000-unit reservoir
    takes about a second, once per reservoir."""
    return float(np.abs(np.linalg.eigvals(W)).max())


def csr(W):
    """W as compressed sparse rows (indptr, indices, data): what the kernels multiply.
    Column indices are uint32 (a reservoir has far fewer than 2^32 units): a quarter
    less memory to stream through per step than int64 with float64 data. Unsigned, as
    indptr is, so the kernel's indexing needs no check for Python's negative indices."""
    rows, cols = np.nonzero(W)
    indptr = np.zeros(W.shape[0] + 1, np.uint64)
    np.cumsum(np.bincount(rows, minlength=W.shape[0]), out=indptr[1:])
    return indptr, cols.astype(np.uint32), np.ascontiguousarray(W[rows, cols])


def forward(params, u, leak, x0=None, device="cpu"):
    """Reservoir states x (T, B, N) driven by u (T, B, D), eqs. (1-2).

    x0 (B, N) is the state before u[0] (zeros if None); leak is alpha in (0, 1].
    """
    W_in, W, b = _reservoir(params)
    checks.float_array("u", u, 3, W.dtype)
    checks.shape("u", u, (None, None, W_in.shape[1]))
    checks.finite("u", u)
    B, N = u.shape[1], W.shape[0]
    x0 = np.zeros((B, N), W.dtype) if x0 is None else x0
    checks.float_array("x0", x0, 2, W.dtype)
    checks.shape("x0", x0, (B, N))
    checks.finite("x0", x0)
    _leak(leak)
    if device not in kernels.RUN:
        raise ValueError(f"device: expected one of {sorted(kernels.RUN)}, got {device!r}")
    return kernels.RUN[device](u, W_in, b, *csr(W), u.dtype.type(leak), x0)


def fit_readout(x, y, ridge, u=None):
    """Readout {W_out (D_out, N), W_u (D_out, D), b_out (D_out,)} minimising eq. (5)
    over the rows of states x (S, N), inputs u (S, D) and targets y (S, D_out), by
    eq. (6). Without u the readout sees the states alone (W_u has no columns).

    The bias is not penalised, so Z and Y are centred first. The SVD of the centred
    features gives the ridge solution without forming Z^T Z, whose condition number is
    the square of Z's (reservoir states are strongly correlated: squaring can lose
    every digit of the small singular directions). Solved in float64 whatever the
    states' dtype.
    """
    u = np.zeros((x.shape[0], 0), x.dtype) if u is None else u
    for name, a in (("x", x), ("u", u), ("y", y)):
        checks.float_array(name, a, 2)
        checks.shape(name, a, (x.shape[0], None))
        checks.finite(name, a)
    if not ridge >= 0:
        raise ValueError(f"ridge: expected a penalty >= 0, got {ridge}")
    if x.shape[0] == 0:                 # b_out is the mean of the rows: none, no mean
        raise ValueError("x: expected at least 1 row (a state to fit on), got 0")
    z = np.concatenate([x, u], axis=1).astype(np.float64)
    y = y.astype(np.float64)
    # BEGIN SOLUTION eq. (6) of docs/esn.rst: the ridge readout W
    z_mean, y_mean = z.mean(axis=0), y.mean(axis=0)
    U, s, Vt = np.linalg.svd(z - z_mean, full_matrices=False)
    filt = np.divide(s, s * s + ridge, out=np.zeros_like(s), where=s * s + ridge > 0)
    W = ((Vt.T * filt) @ (U.T @ (y - y_mean))).T                        # eq. (6)
    # END SOLUTION
    N = x.shape[1]
    return {"W_out": W[:, :N], "W_u": W[:, N:], "b_out": y_mean - W @ z_mean}


def readout(ro, x, u):
    """y = W_out x + W_u u + b_out (eq. 4) for states x (..., N) and inputs u (..., D);
    u has no columns when the readout has none for it."""
    _, N, D = _readout(ro)
    checks.shape("x", x, (*np.shape(x)[:-1], N))
    checks.shape("u", u, (*np.shape(x)[:-1], D))
    return x @ ro["W_out"].T + u @ ro["W_u"].T + ro["b_out"]


def generate(params, ro, u0, x0, steps, leak):
    """Closed loop (eq. 7) from the input u0 (B, D) and the state x0 (B, N) it led to:
    y (steps, B, D), where y[0] = readout(x0, u0) and each y[s] is the next input,
    and the states x (steps, B, N) that produced them. CPU only."""
    W_in, W, b = _reservoir(params)
    B, (N, D) = x0.shape[0], W_in.shape
    checks.float_array("x0", x0, 2, W.dtype)
    checks.shape("x0", x0, (B, N))
    checks.float_array("u0", u0, 2, W.dtype)
    checks.shape("u0", u0, (B, D))
    inputs_read = _readout(ro)[2]
    checks.shape("W_out", ro["W_out"], (D, N))              # y is fed back as the input
    if inputs_read:
        checks.shape("W_u", ro["W_u"], (D, D))
    _leak(leak)
    steps = checks.count("steps", steps)
    W_u = ro["W_u"] if inputs_read else np.zeros((D, D))     # no input columns: W_u = 0
    cast = lambda a: np.ascontiguousarray(a, W.dtype)       # noqa: E731
    return kernels.generate_cpu(u0, x0, W_in, b, *csr(W), W.dtype.type(leak),
                                cast(ro["W_out"]), cast(W_u), cast(ro["b_out"]), steps)


def _reservoir(params):
    N = checks.parameter_shape(params, "W", 2)[0]
    checks.parameters(params, W=(N, N), W_in=(N, None), b=(N,))
    return params["W_in"], params["W"], params["b"]


def _readout(ro):
    """(D_out, N, D) of a readout's W_out (D_out, N), W_u (D_out, D) and b_out (D_out,),
    D = 0 when it reads no input. Each array may have its own float dtype: generate casts
    them to the reservoir's, readout lets NumPy promote (fit_readout solves in float64)."""
    D_out, N = checks.parameter_shape(ro, "W_out", 2)
    for name, want in (("W_u", (D_out, None)), ("b_out", (D_out,))):
        checks.parameters(ro, **{name: want})
    return D_out, N, ro["W_u"].shape[1]


def _leak(leak):
    checks.number("leak", leak)
    if not 0 < leak <= 1:
        raise ValueError(f"leak: expected a rate in (0, 1], got {leak}")
