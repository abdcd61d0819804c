"""Elman RNN: kernels vs the NumPy reference, gradient checks, padding, TBPTT, bad input."""

import numpy as np
import pytest
from numba import types

from minirnn import elman
from minirnn.kernels import elman as kernels
from minirnn.gradcheck import check
from tests.cells import (BAD_INPUTS, assert_chunks_compose, assert_deterministic,
                         assert_float32_close_to_float64,
                         assert_names_bad_input, assert_padding_changes_nothing,
                         assert_small_gradients_kept_subnormals_flushed, float32_return_type)
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


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_float32_close_to_float64(rng, nonlinearity):
    p, x, h0 = problem(rng, T=50, B=8, D=16, H=32)
    assert_float32_close_to_float64(elman, p, x, [h0], np.array([50, 31, 0, 7, 50, 1, 50, 12]), rng,
                                    nonlinearity=nonlinearity)


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
    p, x, h0 = problem(rng)
    assert_padding_changes_nothing(elman, p, x, [h0], np.array([7, 2, 0, 5]), rng)


def test_small_gradients_kept_subnormals_flushed(rng):
    p, x, h0 = problem(rng)
    assert_small_gradients_kept_subnormals_flushed(elman, p, x, [h0], np.array([7, 2, 0, 5]), rng)


def test_truncated_bptt_chunks_compose_to_the_whole_sequence(rng):
    p, x, h0 = problem(rng, T=10)
    assert_chunks_compose(elman, p, x, h0, rng.standard_normal((10, 4, 5)), split=6)


def test_kernels_are_deterministic(rng):
    p, x, h0 = problem(rng, T=30, B=16, D=8, H=32, dtype=np.float32)
    assert_deterministic(elman, p, x, [h0])


@pytest.mark.parametrize("change, message", BAD_INPUTS)
def test_bad_input_names_expected_and_got(rng, change, message):
    p, x, h0 = problem(rng)
    assert_names_bad_input(elman, p, x, [h0], change, message)


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
