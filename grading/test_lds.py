"""Graded: the Kalman filter (docs/lds.rst) against the textbook filter with explicit
inverses (tests/reference/lds.py) and the whole sequence as one joint Gaussian."""
import numpy as np

from minirnn.grade import check_close, graded
from tests.reference import lds as ref

N, M, T = 3, 2, 6


def spd(rng, n):
    """A random symmetric positive definite matrix, well conditioned."""
    G = rng.standard_normal((n, n))
    return G @ G.T / n + 0.5 * np.eye(n)


def problem(seed, missing=()):
    """Parameters {F, H, Q, R, mu0, P0} and observations y (T, M); rows in
    ``missing`` are NaN (not observed)."""
    rng = np.random.default_rng(seed)
    params = {"F": 0.6 * rng.standard_normal((N, N)) / np.sqrt(N), "H": rng.standard_normal((M, N)),
              "Q": spd(rng, N), "R": spd(rng, M), "mu0": rng.standard_normal(N), "P0": spd(rng, N)}
    y = rng.standard_normal((T, M))
    y[list(missing)] = np.nan
    return params, y


def check_filter(params, y):
    """Means, covariances and log-likelihood against the textbook filter."""
    from minirnn import lds
    mu, P, ll = lds.filter(params, y)
    want_mu, want_P, want_ll = ref.kalman_filter(params, y)
    check_close("filtered means mu (T, n)", mu, want_mu)
    check_close("filtered covariances P (T, n, n)", P, want_P)
    check_close("log-likelihood", ll, want_ll)


@graded(points=3)
def test_filter():
    """filter: means and covariances (eqs. 3-7) against the textbook filter"""
    check_filter(*problem(0))


@graded(points=2)
def test_loglik():
    """loglik: log p(y_1:T) (eq. 8) against the joint Gaussian of the whole sequence"""
    from minirnn import lds
    params, y = problem(1)
    check_close("log-likelihood", lds.filter(params, y)[2], ref.log_likelihood(params, y))
