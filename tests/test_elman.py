"""Elman RNN: kernels vs the NumPy reference, gradient checks, padding, TBPTT, bad input."""
import re

import numpy as np
import pytest
from numba import types

from minirnn import elman
from minirnn.kernels import elman as kernels
from minirnn.gradcheck import check
from tests.cells import assert_chunks_compose, float32_return_type
from tests.reference import elman as reference


def problem(rng, T=7, B=4, D=3, H=5, dtype=np.float64):
    p = elman.init(rng, D, H, dtype)
    p["b"] = rng.standard_normal(H).astype(dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    return p, x, h0


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_forward_matches_reference_with_lengths(rng, nonlinearity):
    p, x, h0 = problem(rng)
    lengths = np.array([7, 2, 0, 5])
    h, _ = elman.forward(p, x, h0, lengths, nonlinearity)
    ref = reference.elman_forward(p["W_x"], p["W_h"], p["b"], x, h0, lengths, nonlinearity == "relu")
    assert np.allclose(h, ref, rtol=1e-12, atol=1e-14)


def test_float32_forward_close_to_float64_reference(rng):
    p, x, h0 = problem(rng, T=50, B=8, D=16, H=32)
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    h, _ = elman.forward(p32, x.astype(np.float32), h0.astype(np.float32))
    assert h.dtype == np.float32
    assert np.abs(h - reference.elman_forward(p["W_x"], p["W_h"], p["b"], x, h0)).max() < 1e-5


def test_backward_matches_reference_bptt(rng):
    p, x, h0 = problem(rng, T=9, B=3)
    h, cache = elman.forward(p, x, h0)
    dh = rng.standard_normal(h.shape)
    dx, dh0, grads = elman.backward(dh, cache)
    ref = reference.elman_backward_batched(p["W_x"], p["W_h"], x, h0, h, dh)
    for got, want in zip((dx, dh0, grads["W_x"], grads["W_h"], grads["b"]), ref):
        assert np.allclose(got, want, rtol=1e-12, atol=1e-13)


def loss_and_grads(p, x, h0, R, lengths, nonlinearity="tanh"):
    def f():
        h, cache = elman.forward(p, x, h0, lengths, nonlinearity)
        dx, dh0, grads = elman.backward(R, cache)
        return float((h * R).sum()), {**grads, "x": dx, "h0": dh0}
    return f


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_gradcheck_whole_padded_sequence(rng, nonlinearity):
    p, x, h0 = problem(rng, T=12, B=3)
    R = rng.standard_normal((12, 3, 5))
    errors = check(loss_and_grads(p, x, h0, R, np.array([12, 5, 0]), nonlinearity),
                   {**p, "x": x, "h0": h0})
    assert max(errors.values()) <= 1e-6, errors


def test_gradcheck_one_step(rng):
    p, x, h0 = problem(rng, T=1, B=2)
    R = rng.standard_normal((1, 2, 5))
    errors = check(loss_and_grads(p, x, h0, R, None), {**p, "x": x, "h0": h0})
    assert max(errors.values()) <= 1e-8, errors


def test_padded_steps_change_nothing(rng):
    """A padded batch gives each sequence exactly what it gives alone, whatever the padding."""
    p, x, h0 = problem(rng)
    lengths = np.array([7, 2, 0, 5])
    x_other = x.copy()
    for n, L in enumerate(lengths):
        x_other[L:, n] = 1e3 * rng.standard_normal(x[L:, n].shape)
    dh = rng.standard_normal((7, 4, 5))
    for n, L in enumerate(lengths):
        dh[L:, n] = 0                             # nothing downstream reads padded outputs
    runs = []
    for xs in (x, x_other):
        h, cache = elman.forward(p, xs, h0, lengths)
        runs.append((h, *elman.backward(dh, cache)))
    (h, dx, dh0, g), (h2, dx2, dh02, g2) = runs
    assert np.array_equal(h, h2) and np.array_equal(dh0, dh02)
    assert all(np.array_equal(g[k], g2[k]) for k in g)
    for n, L in enumerate(lengths):
        assert np.all(dx[L:, n] == 0)
        if L == 0:
            assert np.array_equal(h[:, n], np.broadcast_to(h0[n], h[:, n].shape))
            continue
        h_alone, cache = elman.forward(p, x[:L, n:n + 1], h0[n:n + 1])
        dx_alone, dh0_alone, _ = elman.backward(dh[:L, n:n + 1], cache)
        assert np.allclose(h[:L, n], h_alone[:, 0], rtol=1e-13, atol=1e-15)
        assert np.allclose(dx[:L, n], dx_alone[:, 0], rtol=1e-12, atol=1e-14)
        assert np.allclose(dh0[n], dh0_alone[0], rtol=1e-12, atol=1e-14)


def test_truncated_bptt_chunks_compose_to_the_whole_sequence(rng):
    p, x, h0 = problem(rng, T=10)
    assert_chunks_compose(elman, p, x, h0, rng.standard_normal((10, 4, 5)), split=6)


def test_kernels_are_deterministic(rng):
    p, x, h0 = problem(rng, T=30, B=16, D=8, H=32, dtype=np.float32)
    out = []
    for _ in range(2):
        h, cache = elman.forward(p, x, h0)
        out.append((h, *elman.backward(np.ones_like(h), cache)))
    assert np.array_equal(out[0][0], out[1][0]) and np.array_equal(out[0][1], out[1][1])
    assert all(np.array_equal(out[0][3][k], out[1][3][k]) for k in p)


@pytest.mark.parametrize("change, message", [
    (lambda p, x, h0: (p, x[0], h0, None), "x: expected 3 dimensions"),
    (lambda p, x, h0: (p, x[:, :, :2], h0, None), "x: expected shape (?, ?, 3)"),
    (lambda p, x, h0: (p, x.astype(np.float32), h0, None), "x: expected dtype float64, got float32"),
    (lambda p, x, h0: (p, x.astype(int), h0, None), "x: expected dtype float64, got int64"),
    (lambda p, x, h0: (p, x, h0[:2], None), "h0: expected shape (4, 5), got (2, 5)"),
    (lambda p, x, h0: (p, x, h0, [7, 7]), "lengths: expected 4 integers"),
    (lambda p, x, h0: (p, x, h0, [8, 1, 1, 1]), "lengths: expected values in [0, 7]"),
    (lambda p, x, h0: (p, np.where(x > 2, np.nan, x), h0, None), "x: non-finite value nan at index"),
])
def test_bad_input_names_expected_and_got(rng, change, message):
    p, x, h0 = problem(rng)
    x[3, 1, 2] = 2.5                     # guarantee one NaN for the last case
    with pytest.raises(ValueError, match=re.escape(message)):
        elman.forward(*change(p, x, h0))


def test_unknown_nonlinearity_and_device(rng):
    p, x, h0 = problem(rng)
    with pytest.raises(ValueError, match="nonlinearity: expected one of"):
        elman.forward(p, x, h0, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="device: expected one of"):
        elman.forward(p, x, h0, device="tpu")


@pytest.mark.parametrize("act", [kernels.TANH, kernels.RELU])
def test_float32_dphi_computes_in_float32(act):
    """phi' (eq. 5) returns float32 for float32 h: float64 literals in it ran the whole
    float32 backward loop in float64 (docs/lstm.rst, "How it is computed")."""
    assert float32_return_type(kernels._dphi_cpu, 0.5, act) == types.float32
