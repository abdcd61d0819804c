"""The ESN's CUDA run kernel equals the CPU kernel (simulator here; a real GPU where lent)."""
import numpy as np
import pytest

from minirnn import esn

pytestmark = pytest.mark.cudasim


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_cuda_run_equals_cpu_kernel(rng, dtype, tol):
    T, B, D, N = 6, 3, 2, 10           # a batch of series, one thread per (series, unit)
    p = esn.init(rng, D, N, spectral_radius=0.9, density=0.3, input_density=0.5,
                 bias_scaling=0.2, dtype=dtype)
    u = rng.standard_normal((T, B, D)).astype(dtype)
    x0 = rng.standard_normal((B, N)).astype(dtype)
    cpu = esn.forward(p, u, 0.3, x0, device="cpu")
    cuda = esn.forward(p, u, 0.3, x0, device="cuda")
    assert cuda.dtype == dtype and np.allclose(cuda, cpu, rtol=tol, atol=tol)
