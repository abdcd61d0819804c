"""The HMM CUDA twins (scaled forward, Viterbi; one thread per sequence) equal the CPU
kernels (simulator here; a real GPU where lent)."""
import numpy as np
import pytest

from minirnn import hmm

pytestmark = pytest.mark.cudasim


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_cuda_twins_equal_cpu_kernels(rng, kind):
    K, T, lengths = 3, 7, np.array([7, 3, 0, 5, 1])
    if kind == "categorical":
        p = hmm.init_categorical(rng, K, 4)
    else:
        p = {"pi": rng.dirichlet(np.ones(K)), "A": rng.dirichlet(np.ones(K), K),
             "mu": rng.standard_normal((K, 2)), "var": rng.uniform(0.5, 2, (K, 2))}
    _, x = hmm.sample(p, rng, T, len(lengths))
    assert np.allclose(hmm.loglik(p, x, lengths, device="cuda"), hmm.loglik(p, x, lengths),
                       rtol=1e-12, atol=0)
    path_gpu, logp_gpu = hmm.viterbi(p, x, lengths, device="cuda")
    path_cpu, logp_cpu = hmm.viterbi(p, x, lengths)
    assert np.array_equal(path_gpu, path_cpu)
    assert np.allclose(logp_gpu, logp_cpu, rtol=1e-12, atol=0)
