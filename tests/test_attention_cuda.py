"""The attention CUDA twins (masked softmax and its backward) equal the CPU kernels
(simulator here; a real GPU where lent)."""
import numpy as np
import pytest

from minirnn import attention

pytestmark = pytest.mark.cudasim


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dot_product_cuda_equals_cpu(rng, causal, dtype):
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in ((4, 3, 2), (4, 3, 2), (4, 3, 3)))
    dout = rng.standard_normal((4, 3, 3)).astype(dtype)
    lengths = np.array([4, 2, 0])                       # full, padded, fully masked
    runs = {}
    for device in ("cpu", "cuda"):
        out, A, cache = attention.dot_product_forward(q, k, v, lengths, causal, device)
        runs[device] = (out, A, *attention.dot_product_backward(dout, cache))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for cpu, cuda in zip(runs["cpu"], runs["cuda"]):
        assert np.allclose(cpu, cuda, rtol=tol, atol=tol)


def test_multihead_cuda_equals_cpu(rng):
    x = rng.standard_normal((3, 2, 4))
    params = attention.multihead_init(rng, 4, np.float64)
    dy = rng.standard_normal((3, 2, 4))
    runs = {}
    for device in ("cpu", "cuda"):
        y, A, cache = attention.multihead_forward(params, x, 2, np.array([3, 1]), True, device)
        dx, grads = attention.multihead_backward(dy, cache)
        runs[device] = (y, A, dx, *(grads[key] for key in sorted(grads)))
    for cpu, cuda in zip(runs["cpu"], runs["cuda"]):
        assert np.allclose(cpu, cuda, rtol=1e-12, atol=1e-12)
