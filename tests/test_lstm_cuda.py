"""The LSTM CUDA twins equal the CPU kernels (simulator here; a real GPU where lent)."""
import numpy as np
import pytest

from minirnn import lstm
from tests.cells import assert_cuda_equals_cpu

pytestmark = pytest.mark.cudasim


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cuda_twin_equals_cpu_kernel(rng, peephole, dtype):
    T, B, D, H = 4, 3, 2, 3
    p = lstm.init(rng, D, H, dtype, peephole)
    for k in p:
        p[k] = (p[k] + 0.3 * rng.standard_normal(p[k].shape)).astype(dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    states = tuple(rng.standard_normal((B, H)).astype(dtype) for _ in range(2))
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    assert_cuda_equals_cpu(lstm, p, x, states, dh, np.array([4, 2, 0]))
