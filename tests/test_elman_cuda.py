"""The CUDA twins equal the CPU kernels (simulator here; a real GPU where one is lent)."""
import numpy as np
import pytest

from minirnn import elman
from tests.cells import assert_cuda_equals_cpu

pytestmark = pytest.mark.cudasim


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cuda_twin_equals_cpu_kernel(rng, nonlinearity, dtype):
    T, B, D, H = 5, 3, 2, 4
    p = elman.init(rng, D, H, dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    assert_cuda_equals_cpu(elman, p, x, (h0,), dh, np.array([5, 2, 0]), nonlinearity=nonlinearity)
