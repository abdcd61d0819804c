"""The GRU's CUDA twins equal the CPU kernels (simulator here; a real GPU where one is lent)."""
import numpy as np
import pytest

from minirnn import gru

pytestmark = pytest.mark.cudasim


@pytest.mark.parametrize("variant", ["after", "before"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cuda_twin_equals_cpu_kernel(rng, variant, dtype):
    T, B, D, H = 5, 3, 2, 4
    p = gru.init(rng, D, H, dtype, variant)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    lengths = np.array([5, 2, 0])
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    results = {}
    for device in ("cpu", "cuda"):
        h, cache = gru.forward(p, x, h0, lengths, variant, device=device)
        results[device] = (h, *gru.backward(dh, cache))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    (h, dx, dh0, g), (hc, dxc, dh0c, gc) = results["cpu"], results["cuda"]
    for a, b in [(h, hc), (dx, dxc), (dh0, dh0c)] + [(g[k], gc[k]) for k in g]:
        assert np.allclose(a, b, rtol=tol, atol=tol)
    assert np.array_equal(hc[:, 2], np.broadcast_to(h0[2], (T, H)))   # length 0 keeps h0
