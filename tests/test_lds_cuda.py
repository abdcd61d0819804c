"""The Kalman filter's CUDA twin equals the CPU kernel (simulator here; a real GPU where lent)."""
import numpy as np
import pytest

from minirnn import lds
from tests.test_lds import data, random_params

pytestmark = pytest.mark.cudasim


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cuda_twin_equals_cpu_kernel(rng, dtype):
    p = random_params(rng, n=3, m=2)
    y = np.stack([data(rng, p, 6, missing) for missing in [(), (0,), (2, 5)]], axis=1)
    p = {k: v.astype(dtype) for k, v in p.items()}
    y = y.astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for cpu, cuda in zip(lds.filter(p, y), lds.filter(p, y, device="cuda")):
        assert cpu.shape == cuda.shape and np.allclose(cpu, cuda, rtol=tol, atol=tol)
