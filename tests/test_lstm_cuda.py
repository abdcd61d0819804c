"""The LSTM CUDA twins equal the CPU kernels (simulator here; a real GPU where lent)."""
import numpy as np
import pytest

from minirnn import lstm

pytestmark = pytest.mark.cudasim


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cuda_twin_equals_cpu_kernel(rng, peephole, dtype):
    T, B, D, H = 4, 3, 2, 3
    p = lstm.init(rng, D, H, dtype, peephole)
    for k in p:
        p[k] = (p[k] + 0.3 * rng.standard_normal(p[k].shape)).astype(dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0, c0 = (rng.standard_normal((B, H)).astype(dtype) for _ in range(2))
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    lengths = np.array([4, 2, 0])
    out = {}
    for device in ("cpu", "cuda"):
        h, cache = lstm.forward(p, x, h0, c0, lengths, device=device)
        out[device] = (h, *lstm.backward(dh, cache))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    (h, dx, dh0, dc0, g), (hc, dxc, dh0c, dc0c, gc) = out["cpu"], out["cuda"]
    for a, b in [(h, hc), (dx, dxc), (dh0, dh0c), (dc0, dc0c)] + [(g[k], gc[k]) for k in g]:
        assert np.allclose(a, b, rtol=tol, atol=tol)
