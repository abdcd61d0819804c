"""Checks every recurrent cell must pass, written once and called from each cell's tests.

A cell here is a module with ``forward(params, x, *states, ..., device=...)`` and
``dx, *dstates, grads = backward(dh, cache)`` (minirnn.elman, .lstm, .gru).
"""
import re

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


def run(cell, params, x, states, dh, **options):
    """One forward and backward pass: [h, dx, the states' gradients, the weight
    gradients in the order of their names]."""
    h, cache = cell.forward(params, x, *states, **options)
    dx, *dstates, grads = cell.backward(dh, cache)
    return [h, dx, *dstates] + [grads[k] for k in sorted(grads)]


def assert_float32_close_to_float64(cell, params, x, states, lengths, rng, **options):
    """float32's outputs and gradients within float32's rounding of float64's, which the
    reference and the gradient checks vouch for: the kernels' float32 code (its own
    tanh polynomial, constants, flush threshold) computes the same numbers."""
    dh = rng.standard_normal(x.shape[:2] + states[0].shape[1:])
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    want = run(cell, params, x, states, dh, lengths=lengths, **options)
    got = run(cell, {k: f32(v) for k, v in params.items()}, f32(x), [f32(s) for s in states],
              f32(dh), lengths=lengths, **options)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.float32 and rel_error(g, w) < 1e-5, rel_error(g, w)


def assert_deterministic(cell, params, x, states, **options):
    """Two runs give the same numbers to the bit: the CPU kernels are serial, so no
    sum depends on how threads split it (docs/elman.rst, "No prange")."""
    dh = np.ones(x.shape[:2] + states[0].shape[1:], x.dtype)
    first, second = (run(cell, params, x, states, dh, **options) for _ in range(2))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def assert_small_gradients_kept_subnormals_flushed(cell, params, x, states, lengths, rng,
                                                   **options):
    """The backward pass is linear in dh and scaling by a power of two is exact, so dh
    times 2^-400 (gradients near 1e-121) gives every gradient times 2^-400, to the bit:
    nothing above common.flush_below (1e-154 in float64) is flushed. With dh times
    2^-1015, just above the smallest normal number, what the flush is for: no gradient
    is subnormal, the range where x86 arithmetic is slow. (dh > 0: what padded steps
    pass on unflushed is a sum of dh, which then cannot cancel into that range.)"""
    dh = rng.uniform(1, 2, x.shape[:2] + states[0].shape[1:])
    grads, small, tiny = (run(cell, params, x, states, np.ldexp(dh, -k), lengths=lengths,
                              **options)[1:] for k in (0, 400, 1015))
    assert all(np.array_equal(np.ldexp(g, -400), s) for g, s in zip(grads, small, strict=True))
    assert all(np.all((g == 0) | (np.abs(g) >= np.finfo(g.dtype).tiny)) for g in tiny)


def assert_padding_changes_nothing(cell, params, x, states, lengths, rng, **options):
    """A padded batch gives each sequence exactly what it gives alone, whatever the
    padding holds: padded steps keep the state, get dx = 0 and add to no gradient."""
    x_other, dh = x.copy(), rng.standard_normal(x.shape[:2] + states[0].shape[1:])
    for n, L in enumerate(lengths):
        x_other[L:, n] = 1e3 * rng.standard_normal(x[L:, n].shape)
        dh[L:, n] = 0                             # nothing downstream reads padded outputs
    first, second = (run(cell, params, xs, states, dh, lengths=lengths, **options)
                     for xs in (x, x_other))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    h, dx, *dstates = first[:2 + len(states)]
    for n, L in enumerate(lengths):
        assert np.all(dx[L:, n] == 0)
        last = h[L - 1, n] if L else states[0][n]
        assert np.array_equal(h[L:, n], np.broadcast_to(last, h[L:, n].shape))
        if L:
            alone = run(cell, params, x[:L, n:n + 1], [s[n:n + 1] for s in states],
                        dh[:L, n:n + 1], **options)[:2 + len(states)]
            got = [h[:L, n:n + 1], dx[:L, n:n + 1], *(d[n:n + 1] for d in dstates)]
            assert all(np.allclose(a, b, rtol=1e-12, atol=1e-14)
                       for a, b in zip(got, alone, strict=True))


# Inputs every cell must refuse by name, for a problem with T=7, B=4, D=3, H=5:
# change(params, x, states) gives the (params, x, states, lengths) to call forward with.
BAD_INPUTS = [
    (lambda p, x, s: (p, x[0], s, None), "x: expected 3 dimensions"),
    (lambda p, x, s: (p, x[:, :, :2], s, None), "x: expected shape (?, ?, 3)"),
    (lambda p, x, s: (p, x.astype(np.float32), s, None), "x: expected dtype float64, got float32"),
    (lambda p, x, s: (p, x.astype(int), s, None), "x: expected dtype float64, got int64"),
    (lambda p, x, s: (p, x, [s[0][:2], *s[1:]], None), "h0: expected shape (4, 5), got (2, 5)"),
    (lambda p, x, s: (p, x, [s[0].astype(np.float32), *s[1:]], None),
     "h0: expected dtype float64, got float32"),
    (lambda p, x, s: (p, x, [s[0] * np.inf, *s[1:]], None), "h0: non-finite value"),
    (lambda p, x, s: (p, x, s, [7, 7]), "lengths: expected 4 integers"),
    (lambda p, x, s: (p, x, s, [8, 1, 1, 1]), "lengths: expected values in [0, 7]"),
    (lambda p, x, s: (p, np.where(x > 2, np.nan, x), s, None), "x: non-finite value nan at index"),
]


def assert_names_bad_input(cell, params, x, states, change, message, **options):
    """forward refuses the changed input with a ValueError that says ``message``."""
    x[3, 1, 2] = 2.5                     # one value > 2, for the NaN case
    params, x, states, lengths = change(params, x, states)
    with pytest.raises(ValueError, match=re.escape(message)):
        cell.forward(params, x, *states, lengths, **options)


def assert_cuda_equals_cpu(cell, params, x, states, dh, lengths, **options):
    """The CUDA twin gives the CPU kernel's outputs and every gradient (1e-12 in
    float64, 1e-5 in float32). Returns the CUDA run's h."""
    runs = {device: run(cell, params, x, states, dh, lengths=lengths, device=device, **options)
            for device in ("cpu", "cuda")}
    tol = 1e-12 if x.dtype == np.float64 else 1e-5
    for cpu, cuda in zip(runs["cpu"], runs["cuda"]):
        assert np.allclose(cpu, cuda, rtol=tol, atol=tol)
    return runs["cuda"][0]
