"""GRU: kernels vs the NumPy reference and torch.nn.GRU, gradient checks, padding, bad input."""
import re

import numpy as np
import pytest
from numba import types

from minirnn import gru
from minirnn.kernels import gru as kernels
from minirnn.gradcheck import check, rel_error
from tests.cells import (BAD_INPUTS, assert_chunks_compose, assert_deterministic,
                         assert_float32_close_to_float64,
                         assert_names_bad_input, assert_padding_changes_nothing,
                         assert_small_gradients_kept_subnormals_flushed,
                         backward_blocks,  # noqa: F401 (a fixture)
                         float32_return_type)
from tests.reference import gru as reference

VARIANTS = ["after", "before"]


def problem(rng, T=7, B=4, D=3, H=5, dtype=np.float64, variant="after"):
    p = gru.init(rng, D, H, dtype, variant)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    return p, x, h0


@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_matches_reference_with_lengths(rng, variant):
    p, x, h0 = problem(rng, variant=variant)
    lengths = np.array([7, 2, 0, 5])
    h, _ = gru.forward(p, x, h0, lengths, variant)
    assert np.allclose(h, reference.gru_forward(p, x, h0, lengths, variant), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("variant", VARIANTS)
def test_float32_close_to_float64(rng, variant):
    p, x, h0 = problem(rng, T=50, B=8, D=16, H=32, variant=variant)
    assert_float32_close_to_float64(gru, p, x, [h0], np.array([50, 31, 0, 7, 50, 1, 50, 12]), rng, variant=variant)


def loss_and_grads(p, x, h0, R, lengths, variant):
    def f():
        h, cache = gru.forward(p, x, h0, lengths, variant)
        dx, dh0, grads = gru.backward(R, cache)
        return float((h * R).sum()), {**grads, "x": dx, "h0": dh0}
    return f


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradcheck_whole_padded_sequence(rng, backward_blocks, variant):
    p, x, h0 = problem(rng, T=13, B=3, variant=variant)
    R = rng.standard_normal((13, 3, 5))
    errors = check(loss_and_grads(p, x, h0, R, np.array([13, 3, 0]), variant),
                   {**p, "x": x, "h0": h0})
    assert max(errors.values()) <= 1e-6, errors


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradcheck_one_step(rng, variant):
    p, x, h0 = problem(rng, T=1, B=2, variant=variant)
    R = rng.standard_normal((1, 2, 5))
    errors = check(loss_and_grads(p, x, h0, R, None, variant), {**p, "x": x, "h0": h0})
    assert max(errors.values()) <= 1e-8, errors


@pytest.mark.parametrize("variant", VARIANTS)
def test_padded_steps_change_nothing(rng, variant):
    p, x, h0 = problem(rng, variant=variant)
    assert_padding_changes_nothing(gru, p, x, [h0], np.array([7, 2, 0, 5]), rng, variant=variant)


@pytest.mark.parametrize("variant", VARIANTS)
def test_small_gradients_kept_subnormals_flushed(rng, variant):
    p, x, h0 = problem(rng, variant=variant)
    assert_small_gradients_kept_subnormals_flushed(gru, p, x, [h0], np.array([7, 2, 0, 5]), rng,
                                                   variant=variant)


@pytest.mark.parametrize("variant", VARIANTS)
def test_truncated_bptt_chunks_compose_to_the_whole_sequence(rng, variant):
    p, x, h0 = problem(rng, T=10, variant=variant)
    assert_chunks_compose(gru, p, x, h0, rng.standard_normal((10, 4, 5)), split=6,
                          variant=variant)


def test_same_numbers_as_torch_nn_gru(rng):
    """The documented layout loads into torch.nn.GRU; outputs and every gradient agree,
    with variable lengths through a packed sequence."""
    torch = pytest.importorskip("torch")
    T, B, D, H = 6, 3, 4, 5
    p, x, h0 = problem(rng, T, B, D, H)
    lengths = np.array([6, 3, 1])                 # packing needs lengths >= 1
    R = rng.standard_normal((T, B, H))
    for n, L in enumerate(lengths):
        R[L:, n] = 0
    h, cache = gru.forward(p, x, h0, lengths)
    dx, dh0, grads = gru.backward(R, cache)

    net = torch.nn.GRU(D, H, dtype=torch.float64)
    with torch.no_grad():
        for name, value in [("weight_ih_l0", p["W_x"].T), ("weight_hh_l0", p["W_h"].T),
                            ("bias_ih_l0", p["b_x"]), ("bias_hh_l0", p["b_h"])]:
            getattr(net, name).copy_(torch.from_numpy(value))
    x_t, h0_t = torch.tensor(x, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x_t, torch.tensor(lengths),
                                                     enforce_sorted=False)
    out, h_n = net(packed, h0_t)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    (out * torch.from_numpy(R)).sum().backward()

    for n, L in enumerate(lengths):
        assert rel_error(h[:L, n], out[:L, n].detach().numpy()) < 1e-10
    assert rel_error(h[-1], h_n[0].detach().numpy()) < 1e-10
    for got, want in [(dx, x_t.grad), (dh0, h0_t.grad[0]), (grads["W_x"], net.weight_ih_l0.grad.T),
                      (grads["W_h"], net.weight_hh_l0.grad.T), (grads["b_x"], net.bias_ih_l0.grad),
                      (grads["b_h"], net.bias_hh_l0.grad)]:
        assert rel_error(got, want.numpy()) < 1e-10


def test_init_shapes_per_variant(rng):
    assert {k: v.shape for k, v in gru.init(rng, 3, 5).items()} == {
        "W_x": (3, 15), "W_h": (5, 15), "b_x": (15,), "b_h": (15,)}
    p = gru.init(rng, 3, 5, np.float64, "before")
    assert p["b_h"].shape == (10,) and p["W_x"].dtype == np.float64
    assert all(np.abs(v).max() <= 1 / np.sqrt(5) for v in p.values())


@pytest.mark.parametrize("variant", VARIANTS)
def test_kernels_are_deterministic(rng, variant):
    p, x, h0 = problem(rng, T=30, B=16, D=8, H=32, dtype=np.float32, variant=variant)
    assert_deterministic(gru, p, x, [h0], variant=variant)


@pytest.mark.parametrize("change, message", BAD_INPUTS + [
    (lambda p, x, s: ({**p, "b_h": p["b_h"][:10]}, x, s, None),
     "b_h: expected shape (15,) for variant='after', got (10,)")])
def test_bad_input_names_expected_and_got(rng, change, message):
    p, x, h0 = problem(rng)
    assert_names_bad_input(gru, p, x, [h0], change, message)


def test_unknown_variant_and_device(rng):
    p, x, h0 = problem(rng)
    with pytest.raises(ValueError, match="variant: expected one of"):
        gru.forward(p, x, h0, variant="middle")
    with pytest.raises(ValueError, match="variant: expected one of"):
        gru.init(rng, 3, 5, variant="middle")
    with pytest.raises(ValueError, match="device: expected one of"):
        gru.forward(p, x, h0, device="tpu")
    message = "b_h: expected shape (10,) for variant='before'"
    with pytest.raises(ValueError, match=re.escape(message)):
        gru.forward(p, x, h0, variant="before")      # params made for "after"


@pytest.mark.parametrize("helper, n_args, returns", [
    ("_blend_cpu", 3, types.float32),
    ("_blend_backward_cpu", 4, types.UniTuple(types.float32, 3)),
    ("_dsigmoid_cpu", 2, types.float32)])
def test_float32_helpers_compute_in_float32(helper, n_args, returns):
    """Eqs. 5, 8-10 return float32 for float32 inputs: a float64 literal in them ran the
    float32 loops in float64 (docs/gru.rst)."""
    args = np.linspace(0.1, 0.9, n_args).tolist()
    assert float32_return_type(getattr(kernels, helper), *args) == returns
