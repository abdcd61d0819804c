"""Hidden Markov models: filtering, smoothing, decoding and EM (``docs/hmm.rst``).

A K-state HMM has an initial distribution pi (K,), transitions A (K, K) with
A[i, j] = P(z_t = j | z_{t-1} = i), and emissions b_j(x) = p(x_t = x | z_t = j)::

    categorical  b_j(v) = B[j, v],                     B (K, M), symbols v in 0..M-1
    Gaussian     b_j(x) = N(x; mu_j, diag(var_j)),     mu, var (K, D)

    P(x, z) = pi_{z_1} b_{z_1}(x_1) prod_{t>1} A_{z_{t-1} z_t} b_{z_t}(x_t)      (1)
    alpha_1(j) = pi_j b_j(x_1)                                                   (2)
    alpha_t(j) = [sum_i alpha_{t-1}(i) A_ij] b_j(x_t)                            (3)
    P(x) = sum_j alpha_T(j)                                                      (4)
    c_t = sum_j alpha~_t(j),  alpha^_t = alpha~_t / c_t    (alpha~: (2-3) on alpha^) (5)
    log P(x) = sum_t log c_t,  c_t = P(x_t | x_1:t-1)                            (6)
    log alpha_t(j) = logsumexp_i(log alpha_{t-1}(i) + log A_ij) + log b_j(x_t)   (7)
    beta^_T = 1,  beta^_t(i) = sum_j A_ij b_j(x_{t+1}) beta^_{t+1}(j) / c_{t+1}  (8)
    gamma_t(i) = P(z_t = i | x) = alpha^_t(i) beta^_t(i)                         (9)
    xi_t(i, j) = alpha^_t(i) A_ij b_j(x_{t+1}) beta^_{t+1}(j) / c_{t+1}          (10)
    delta_1(j) = log pi_j + log b_j(x_1)                                         (11)
    delta_t(j) = max_i(delta_{t-1}(i) + log A_ij) + log b_j(x_t), psi_t(j) = argmax (12)
    z*_T = argmax_j delta_T(j),  z*_{t-1} = psi_t(z*_t)                          (13)
    EM:  pi_i ~ sum_n gamma_1(i),  A_ij ~ sum_n sum_t xi_t(i, j)                 (14)
    EM:  B_jv ~ sum_n sum_t gamma_t(j) [x_t = v]                                 (15)
    EM:  mu_j, var_j = the gamma-weighted mean and variance of x                 (16)

Sequences are time-major: x is (T, B) symbols or (T, B, D) values, with ``lengths``
(B,); one sequence is ``x[:, None]``. The recursions run in ``minirnn/kernels/hmm.py``,
which sees emissions only as a per-step likelihood table; this module builds the
table, checks inputs and does the M-step.
"""
import numpy as np

from . import checks
from .kernels import hmm as kernels

MIN_VAR = 1e-3      # floor on the Gaussian variances in EM, as hmmlearn's min_covar


# ----------------------------------------------------------------------- parameters

def _sticky_transitions(rng, K):
    """Rows of A from a flat Dirichlet, plus a self-transition bonus so that states
    persist, as they do in data (then renormalised)."""
    A = rng.dirichlet(np.ones(K), K) + np.eye(K)
    return A / A.sum(1, keepdims=True)


def init_categorical(rng, K, M):
    """A random start for EM: pi and each row of B (K, M) from a flat Dirichlet, A
    from ``_sticky_transitions``."""
    return {"pi": rng.dirichlet(np.ones(K)), "A": _sticky_transitions(rng, K),
            "B": rng.dirichlet(np.ones(M), K)}


def init_gaussian(rng, K, x, lengths=None):
    """A random start for EM on x (T, B, D): means at K distinct observations drawn at
    random, every variance the data's, pi uniform, A from ``_sticky_transitions``."""
    values = _observed(x, checks.lengths(lengths, x.shape[1], x.shape[0]))
    if K > len(values):
        raise ValueError(f"K = {K} states start from {K} different observations, but x "
                         f"has only {len(values)}")
    return {"pi": np.full(K, 1 / K), "A": _sticky_transitions(rng, K),
            "mu": values[rng.choice(len(values), K, replace=False)],
            "var": np.tile(values.var(0) + MIN_VAR, (K, 1))}


def emission(params):
    """'categorical' (params hold B) or 'gaussian' (mu and var)."""
    if "B" in params:
        return "categorical"
    if "mu" in params and "var" in params:
        return "gaussian"
    raise ValueError(f"params: expected emissions B (categorical) or mu and var (gaussian), "
                     f"got keys {sorted(params)}")


def check_params(params):
    """pi, rows of A and of B must be probability vectors; var > 0; all finite."""
    kind = emission(params)
    if not isinstance(params.get("pi"), np.ndarray) or params["pi"].ndim != 1:
        raise ValueError("params['pi']: expected a (K,) array of initial probabilities")
    K = params["pi"].shape[0]
    stochastic = {"pi": (K,), "A": (K, K)} | ({"B": (K, None)} if kind == "categorical" else {})
    for name, shape in stochastic.items():
        p = np.asarray(params[checks.present(params, name)])
        checks.float_array(name, p, len(shape))
        checks.shape(name, p, shape)
        checks.finite(name, p)
        checks.nonnegative(name, p)
        if not np.allclose(p.sum(-1), 1, atol=np.sqrt(np.finfo(p.dtype).eps)):
            raise ValueError(f"{name}: expected probabilities (>= 0, each row summing to 1), "
                             f"got row sums {np.round(p.sum(-1), 6)}")
    if kind == "gaussian":
        for name in ("mu", "var"):
            checks.float_array(name, params[name], 2)
            checks.shape(name, params[name], (K, params["mu"].shape[1]))
            checks.finite(name, params[name])
        if params["var"].min() <= 0:
            raise ValueError(f"var: expected variances > 0, got minimum {params['var'].min()}")
    return kind


def check_x(params, x, lengths):
    """The observations fit the emissions; returns lengths (B,) as int64."""
    kind = check_params(params)
    if kind == "categorical":
        M = params["B"].shape[1]
        if not isinstance(x, np.ndarray) or x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"x: expected (T, B) integer symbols (one sequence: x[:, None]), "
                             f"got {type(x).__name__} {getattr(x, 'dtype', '')} of shape "
                             f"{np.shape(x)}")
        if x.size and (x.min() < 0 or x.max() >= M):
            raise ValueError(f"x: symbols must lie in 0..{M - 1} (B has {M} columns), got "
                             f"{x.min()}..{x.max()}")
    else:
        checks.float_array("x", x, 3)
        checks.shape("x", x, (None, None, params["mu"].shape[1]))
        checks.finite("x", x)
    return checks.lengths(lengths, x.shape[1], x.shape[0])


# ------------------------------------------------------------------------ emissions

def _log_densities(params, x):
    """log b_j(x_t) (T*B, K) of the Gaussian emissions."""
    mu, var = params["mu"], params["var"]
    values = x.reshape(-1, 1, mu.shape[1])
    return -0.5 * (np.log(2 * np.pi * var) + (values - mu) ** 2 / var).sum(-1)


def likelihood_table(params, x, log=False):
    """(table, index, shift): b_j(x[t, b]) = table[index[t, b], j] * exp(shift[t, b]),
    or with ``log``, log b_j(x[t, b]) = table[index[t, b], j] (shift 0).

    Categorical: table = B^T (M, K), index = x. Gaussian: one row per step; each row
    is divided by its largest density (shift = its log) so that no step underflows
    to all zeros, however far x lies from every mean; the scales c_t absorb it.
    """
    T, B = x.shape[:2]
    if emission(params) == "categorical":
        table = np.ascontiguousarray(params["B"].T)
        return (np.log(table) if log else table), x.astype(np.int64, copy=False), np.zeros((T, B))
    index = np.arange(T * B).reshape(T, B)
    log_b = _log_densities(params, x)
    if log:
        return log_b, index, np.zeros((T, B))
    shift = log_b.max(1, keepdims=True)
    return np.exp(log_b - shift), index, shift.reshape(T, B)


def _valid(lengths, T):
    """(T, B) mask of the steps inside each sequence."""
    return np.arange(T)[:, None] < lengths


def _observed(x, lengths):
    """The observations inside the sequences, (N,) or (N, D), in time-major order."""
    return x[_valid(lengths, x.shape[0])]


# ------------------------------------------------------------------------- inference

def _device_kernels(device):
    """(score, Viterbi) kernels of ``device``: "cpu" or "cuda"."""
    if device not in kernels.KERNELS:
        raise ValueError(f"device: expected one of {sorted(kernels.KERNELS)}, got {device!r}")
    return kernels.KERNELS[device]


def loglik(params, x, lengths=None, device="cpu"):
    """log P(x_1:l) (B,) for each sequence by the scaled forward pass (eqs. 2-6), without
    storing alpha. ``device="cuda"`` runs one GPU thread per sequence."""
    lengths = check_x(params, x, lengths)
    score, _ = _device_kernels(device)
    table, index, shift = likelihood_table(params, x)
    ll = score(params["pi"], params["A"], table, index, lengths)
    return ll + np.where(_valid(lengths, x.shape[0]), shift, 0).sum(0)


def forward(params, x, lengths=None):
    """The scaled forward pass (eqs. 2-6).

    Returns alpha^ (T, B, K) = P(z_t | x_1:t) and log c (T, B) = log P(x_t | x_1:t-1);
    both are 0 on padded steps, so log c.sum(0) is each sequence's log P(x).
    """
    lengths = check_x(params, x, lengths)
    table, index, shift = likelihood_table(params, x)
    _, alpha, c = kernels.forward_cpu(params["pi"], params["A"], table, index, lengths)
    valid = _valid(lengths, x.shape[0])
    with np.errstate(divide="ignore"):                  # c_t = 0: x is impossible
        return alpha, np.where(valid, np.log(np.where(valid, c, 1)) + shift, 0)


def backward(params, x, alpha, log_c, lengths=None):
    """The scaled backward pass (eq. 8) and the expected transitions (eq. 10).

    alpha, log_c: ``forward``'s. Returns beta^ (T, B, K) (0 on padded steps) and
    xi (B, K, K) = sum_t xi_t, each sequence's expected number of i -> j transitions.
    """
    lengths = check_x(params, x, lengths)
    if not np.isfinite(log_c).all():
        raise ValueError("x has probability 0 under params (some c_t = 0): no posterior "
                         "exists; give every symbol some probability in B")
    table, index, shift = likelihood_table(params, x)
    c = np.exp(log_c - shift)           # the scales of the shifted table the kernel sees
    return kernels.backward_cpu(params["A"], table, index, lengths, alpha, c)


def posteriors(params, x, lengths=None):
    """gamma (T, B, K) = P(z_t = i | x) (eq. 9; 0 on padded steps), xi (B, K, K), the
    expected transition counts summed over t (eq. 10), and log P(x) (B,)."""
    alpha, log_c = forward(params, x, lengths)
    beta, xi = backward(params, x, alpha, log_c, lengths)
    return alpha * beta, xi, log_c.sum(0)


def log_forward(params, x, lengths=None):
    """The forward pass in log space (eq. 7): log alpha (T, B, K) (-inf on padded
    steps) and log P(x) (B,). Slower than ``forward`` (a log and exp per term), but
    it needs no scaling: the textbook alternative."""
    lengths = check_x(params, x, lengths)
    table, index, _ = likelihood_table(params, x, log=True)
    with np.errstate(divide="ignore"):
        return kernels.log_forward_cpu(np.log(params["pi"]), np.log(params["A"]), table,
                                       index, lengths)


def viterbi(params, x, lengths=None, device="cpu"):
    """The most probable state path (eqs. 11-13): path (T, B) (-1 on padded steps) and
    max_z log P(x, z) (B,). ``device="cuda"`` runs one GPU thread per sequence."""
    lengths = check_x(params, x, lengths)
    _, decode = _device_kernels(device)
    table, index, _ = likelihood_table(params, x, log=True)
    with np.errstate(divide="ignore"):                  # log 0 = -inf: impossible moves
        log_pi, log_A = np.log(params["pi"]), np.log(params["A"])
    return decode(log_pi, log_A, table, index, lengths)


# -------------------------------------------------------------------------- learning

def m_step(params, x, lengths, gamma, xi):
    """New parameters from the posteriors (eqs. 14-16). A state that no step visits
    keeps its old emissions; a transition row never left keeps its old row; pi stays
    when no sequence has a first step (T = 0, or every length 0)."""
    lengths = checks.lengths(lengths, x.shape[1], x.shape[0])
    started = lengths > 0
    counts = xi.sum(0)
    leave = counts.sum(1, keepdims=True)
    if started.any():
        first = gamma[0, started].sum(0)
        pi = first / first.sum()                                                # eq. (14)
    else:
        pi = params["pi"]
    new = {"pi": pi,
           "A": np.where(leave > 0, counts / np.where(leave > 0, leave, 1), params["A"])}
    valid = _valid(lengths, x.shape[0])
    w = gamma[valid]                                      # (N, K) posterior weights
    occupancy = w.sum(0)[:, None]
    visited = occupancy > 0
    total = np.where(visited, occupancy, 1)
    if emission(params) == "categorical":
        M = params["B"].shape[1]
        hits = np.stack([np.bincount(x[valid], weights=w[:, k], minlength=M)
                         for k in range(w.shape[1])])
        new["B"] = np.where(visited, hits / total, params["B"])                 # eq. (15)
    else:
        values = x[valid]
        mu = w.T @ values / total                                               # eq. (16)
        var = w.T @ values ** 2 / total - mu ** 2
        new["mu"] = np.where(visited, mu, params["mu"])
        new["var"] = np.where(visited, np.maximum(var, MIN_VAR), params["var"])
    return {k: v.astype(params[k].dtype) for k, v in new.items()}


def baum_welch(params, x, lengths=None, iterations=100, tol=1e-6, log=None):
    """EM from ``params`` over the sequences x: E-step ``posteriors``, M-step ``m_step``,
    until log P(x) rises by less than ``tol`` (summed over sequences) or after
    ``iterations`` E-steps. ``log(iteration, loglik)`` reports each E-step.

    Returns the parameters and the log-likelihood of each E-step, which never
    decreases (EM's guarantee; the tests check it).
    """
    history = []
    for k in range(iterations):
        gamma, xi, ll = posteriors(params, x, lengths)
        history.append(float(ll.sum()))
        if log:
            log(k + 1, history[-1])
        if k and history[-1] - history[-2] < tol:
            break
        params = m_step(params, x, lengths, gamma, xi)
    return params, history


# -------------------------------------------------------------------------- sampling

def _draw(P, rng):
    """One index per row of the probability rows P (N, K), by inverting the CDF."""
    u = rng.random((P.shape[0], 1))
    return np.minimum((u > np.cumsum(P, 1)).sum(1), P.shape[1] - 1)


def sample(params, rng, T, B=1):
    """B sequences of T steps from the model (eq. 1): states z (T, B) and
    observations x, (T, B) symbols or (T, B, D) values."""
    kind = check_params(params)
    T, B = checks.count("T", T), checks.count("B", B)
    z = np.empty((T, B), np.int64)
    z[:1] = _draw(np.tile(params["pi"], (B, 1)), rng)     # a slice: T = 0 sets nothing
    for t in range(1, T):
        z[t] = _draw(params["A"][z[t - 1]], rng)
    if kind == "categorical":
        return z, _draw(params["B"][z.ravel()], rng).reshape(T, B)
    noise = rng.standard_normal((T, B, params["mu"].shape[1]))
    return z, params["mu"][z] + np.sqrt(params["var"][z]) * noise
