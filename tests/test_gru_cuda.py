"""The GRU's CUDA twins equal the CPU kernels (simulator here; a real GPU where one is lent)."""
import numpy as np
import pytest

from minirnn import gru
from tests.cells import assert_cuda_equals_cpu

pytestmark = pytest.mark.cudasim


@pytest.mark.parametrize("variant", ["after", "before"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cuda_twin_equals_cpu_kernel(rng, variant, dtype):
    T, B, D, H = 5, 3, 2, 4
    p = gru.init(rng, D, H, dtype, variant)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    hc = assert_cuda_equals_cpu(gru, p, x, (h0,), dh, np.array([5, 2, 0]), variant=variant)
    assert np.array_equal(hc[:, 2], np.broadcast_to(h0[2], (T, H)))   # length 0 keeps h0
