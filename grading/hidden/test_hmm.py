"""Graded, hidden: HMM posteriors with Gaussian emissions, by enumeration."""
import numpy as np

from minirnn.grade import check_close, graded
from tests.reference.hmm import enumerate_paths, gaussian_likelihoods

from grading.test_hmm import LENGTHS, K, T


@graded(points=2, visibility="hidden")
def test_gaussian_posteriors():
    """posteriors: gamma_t = P(z_t | x) with Gaussian emissions, padded batch"""
    from minirnn import hmm
    rng = np.random.default_rng(2)
    params = {"pi": rng.dirichlet(np.ones(K)), "A": rng.dirichlet(np.ones(K), K),
              "mu": rng.standard_normal((K, 2)), "var": rng.uniform(0.5, 2, (K, 2))}
    x = rng.standard_normal((T, len(LENGTHS), 2))
    gamma, _, _ = hmm.posteriors(params, x, LENGTHS)
    expected = np.zeros_like(gamma)
    for b, n in enumerate(LENGTHS):
        if n:
            L = gaussian_likelihoods(params["mu"], params["var"], x[:n, b])
            expected[:n, b] = enumerate_paths(params["pi"], params["A"], L)[1]
    check_close("gamma (T, B, K), 0 on padded steps", gamma, expected)
