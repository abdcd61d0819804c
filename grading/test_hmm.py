"""Graded: the HMM forward recursion (docs/hmm.rst) against brute-force enumeration of
all K^T state paths (tests/reference/hmm.py): no recursion in the reference at all."""
import numpy as np

from minirnn.grade import check_close, graded
from tests.reference.hmm import categorical_likelihoods, enumerate_paths

LENGTHS = np.array([6, 3, 0])          # a full sequence, a short one, an empty one
K, M, T = 3, 4, 6


def categorical(seed):
    """Random parameters {pi, A, B} and symbols x (T, B), padded past each length."""
    rng = np.random.default_rng(seed)
    params = {"pi": rng.dirichlet(np.ones(K)), "A": rng.dirichlet(np.ones(K), K),
              "B": rng.dirichlet(np.ones(M), K)}
    return params, rng.integers(0, M, (T, len(LENGTHS)))


def prefix_logliks(params, L):
    """log P(x_1:t) for t = 1..T by enumeration."""
    return np.array([enumerate_paths(params["pi"], params["A"], L[:t])[0]
                     for t in range(1, len(L) + 1)])


@graded(points=2)
def test_loglik():
    """loglik: log P(x) of each sequence (eqs. 2-6) against enumerating all paths"""
    from minirnn import hmm
    params, x = categorical(0)
    expected = [enumerate_paths(params["pi"], params["A"],
                                categorical_likelihoods(params["B"], x[:n, b]))[0] if n else 0.0
                for b, n in enumerate(LENGTHS)]
    check_close("log P(x) (one per sequence, shape (B,))", hmm.loglik(params, x, LENGTHS), expected)


@graded(points=3)
def test_forward():
    """forward: the scaled alpha_t = P(z_t | x_1:t) and log c_t = log P(x_t | x_1:t-1)"""
    from minirnn import hmm
    params, x = categorical(1)
    alpha, log_c = hmm.forward(params, x, LENGTHS)
    want_alpha, want_log_c = np.zeros((T, len(LENGTHS), K)), np.zeros((T, len(LENGTHS)))
    for b, n in enumerate(LENGTHS):
        L = categorical_likelihoods(params["B"], x[:n, b])
        for t in range(n):                 # the filter at t is the smoother of x_1:t at t
            want_alpha[t, b] = enumerate_paths(params["pi"], params["A"], L[:t + 1])[1][-1]
        want_log_c[:n, b] = np.diff(prefix_logliks(params, L), prepend=0.0)
    check_close("alpha (T, B, K), 0 on padded steps", alpha, want_alpha)
    check_close("log c (T, B), 0 on padded steps", log_c, want_log_c)
