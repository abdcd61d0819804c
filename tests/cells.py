"""Checks every recurrent cell must pass, written once and called from each cell's tests.

A cell here is a module with ``forward(params, x, *states, ..., device=...)`` and
``dx, *dstates, grads = backward(dh, cache)`` (minirnn.elman, .lstm, .gru).
"""
import numpy as np
import pytest
from numba import types

from minirnn.gradcheck import rel_error
from minirnn.kernels import common


def float32_return_type(helper, *args):
    """The Numba type a scalar kernel helper returns when called with float32 ``args``:
    a float64 literal inside it would make it float64, and the float32 loops calling it
    would then compute in float64."""
    helper(*(np.float32(a) if isinstance(a, float) else a for a in args))
    (sig,) = [s for s in helper.nopython_signatures if s.args[0] == types.float32]
    return sig.return_type


@pytest.fixture(params=["default blocks", "one step per block"])
def backward_blocks(request, monkeypatch):
    """Runs a test with the CPU backward pass's default blocks of steps
    (common.backward_blocks: an eighth of T, rounded up, so T = 11 gives [9, 11), ..,
    [1, 3), [0, 1)) and again with one step per block, so that the sums over blocks and
    each block's first step are checked. Import it into the test module to use it."""
    if request.param == "one step per block":
        monkeypatch.setattr(common, "BLOCK_BYTES", 1)
    return request.param


def assert_chunks_compose(cell, params, x, h0, dh, split, **options):
    """Carrying h across chunks reproduces the full forward; carrying dh0 back into the
    previous chunk's dh[-1] reproduces full BPTT (what truncated BPTT drops)."""
    h_full, cache = cell.forward(params, x, h0, **options)
    dx_full, dh0_full, g_full = cell.backward(dh, cache)
    h1, c1 = cell.forward(params, x[:split], h0, **options)
    h2, c2 = cell.forward(params, x[split:], h1[-1], **options)
    assert np.allclose(np.concatenate([h1, h2]), h_full, rtol=1e-13, atol=1e-15)
    dx2, dcarry, g2 = cell.backward(dh[split:], c2)
    dh_first = dh[:split].copy()
    dh_first[-1] += dcarry
    dx1, dh0, g1 = cell.backward(dh_first, c1)
    assert np.allclose(np.concatenate([dx1, dx2]), dx_full, rtol=1e-12, atol=1e-14)
    assert np.allclose(dh0, dh0_full, rtol=1e-12, atol=1e-14)
    for k in g_full:
        assert rel_error(g1[k] + g2[k], g_full[k]) < 1e-12


def assert_cuda_equals_cpu(cell, params, x, states, dh, lengths, **options):
    """The CUDA twin gives the CPU kernel's outputs and every gradient (1e-12 in
    float64, 1e-5 in float32). Returns the CUDA run's h."""
    runs = {}
    for device in ("cpu", "cuda"):
        h, cache = cell.forward(params, x, *states, lengths=lengths, device=device, **options)
        dx, *dstates, grads = cell.backward(dh, cache)
        runs[device] = [h, dx, *dstates] + [grads[k] for k in sorted(grads)]
    tol = 1e-12 if x.dtype == np.float64 else 1e-5
    for cpu, cuda in zip(runs["cpu"], runs["cuda"]):
        assert np.allclose(cpu, cuda, rtol=tol, atol=tol)
    return runs["cuda"][0]
