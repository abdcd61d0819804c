"""The CUDA twins equal the CPU kernels (simulator here; a real GPU where one is lent)."""
import numpy as np
import pytest

from minirnn import elman

pytestmark = pytest.mark.cudasim


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cuda_twin_equals_cpu_kernel(rng, nonlinearity, dtype):
    T, B, D, H = 5, 3, 2, 4
    p = elman.init(rng, D, H, dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    lengths = np.array([5, 2, 0])
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    results = {}
    for device in ("cpu", "cuda"):
        h, cache = elman.forward(p, x, h0, lengths, nonlinearity, device=device)
        results[device] = (h, *elman.backward(dh, cache))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    (h, dx, dh0, g), (hc, dxc, dh0c, gc) = results["cpu"], results["cuda"]
    for a, b in [(h, hc), (dx, dxc), (dh0, dh0c)] + [(g[k], gc[k]) for k in g]:
        assert np.allclose(a, b, rtol=tol, atol=tol)
