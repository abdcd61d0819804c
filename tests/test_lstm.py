"""LSTM: kernels vs the NumPy reference and torch.nn.LSTM, gradient checks, padding."""
import numpy as np
import pytest
from numba import types

from minirnn import lstm
from minirnn.kernels import lstm as kernels
from minirnn.gradcheck import check
from tests.cells import (BAD_INPUTS, assert_deterministic, assert_float32_close_to_float64,
                         assert_names_bad_input, assert_padding_changes_nothing,
                         assert_small_gradients_kept_subnormals_flushed, float32_return_type,
                         backward_blocks)  # noqa: F401 (a fixture)
from tests.reference.lstm import lstm_forward


def problem(rng, T=7, B=4, D=3, H=5, peephole=False, dtype=np.float64):
    p = lstm.init(rng, D, H, dtype, peephole)
    for k in p:                                # move away from the special init values
        p[k] = (p[k] + 0.3 * rng.standard_normal(p[k].shape)).astype(dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0, c0 = (rng.standard_normal((B, H)).astype(dtype) for _ in range(2))
    return p, x, h0, c0


def test_init_matches_the_documented_layout(rng):
    p = lstm.init(rng, 3, 4, peephole=True)
    assert p["W_x"].shape == (3, 16) and p["W_h"].shape == (4, 16)
    assert np.array_equal(p["b"], np.r_[np.zeros(4), np.ones(4), np.zeros(8)])   # forget bias 1
    assert all(np.array_equal(p[k], np.zeros(4)) for k in ("p_i", "p_f", "p_o"))


@pytest.mark.parametrize("peephole", [False, True])
def test_forward_matches_reference_with_lengths(rng, peephole):
    p, x, h0, c0 = problem(rng, peephole=peephole)
    lengths = np.array([7, 2, 0, 5])
    h, _ = lstm.forward(p, x, h0, c0, lengths)
    assert np.allclose(h, lstm_forward(p, x, h0, c0, lengths), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("peephole", [False, True])
def test_gradcheck_whole_padded_sequence(rng, backward_blocks, peephole):
    p, x, h0, c0 = problem(rng, T=11, B=3, peephole=peephole)
    R = rng.standard_normal((11, 3, 5))
    lengths = np.array([11, 4, 0])

    def f():
        h, cache = lstm.forward(p, x, h0, c0, lengths)
        dx, dh0, dc0, grads = lstm.backward(R, cache)
        return float((h * R).sum()), {**grads, "x": dx, "h0": dh0, "c0": dc0}
    errors = check(f, {**p, "x": x, "h0": h0, "c0": c0})
    assert max(errors.values()) <= 1e-6, errors


def test_gradcheck_one_step(rng):
    p, x, h0, c0 = problem(rng, T=1, B=2, peephole=True)
    R = rng.standard_normal((1, 2, 5))

    def f():
        h, cache = lstm.forward(p, x, h0, c0)
        dx, dh0, dc0, grads = lstm.backward(R, cache)
        return float((h * R).sum()), {**grads, "x": dx, "h0": dh0, "c0": dc0}
    assert max(check(f, {**p, "x": x, "h0": h0, "c0": c0}).values()) <= 1e-8


def test_padded_steps_change_nothing(rng):
    p, x, h0, c0 = problem(rng, peephole=True)
    assert_padding_changes_nothing(lstm, p, x, [h0, c0], np.array([7, 2, 0, 5]), rng)


def test_small_gradients_kept_subnormals_flushed(rng):
    p, x, h0, c0 = problem(rng, peephole=True)
    assert_small_gradients_kept_subnormals_flushed(lstm, p, x, [h0, c0], np.array([7, 2, 0, 5]),
                                                   rng)


def test_empty_sequence_passes_its_whole_gradient_to_h0(rng):
    """Length 0: h_t = h0 at every step, so dL/dh0 = sum_t dL/dh_t and c0 gets nothing."""
    p, x, h0, c0 = problem(rng)
    dh = rng.standard_normal((7, 4, 5))
    h, cache = lstm.forward(p, x, h0, c0, np.array([7, 2, 0, 5]))
    _, dh0, dc0, _ = lstm.backward(dh, cache)
    assert np.array_equal(h[:, 2], np.broadcast_to(h0[2], (7, 5)))
    assert np.allclose(dh0[2], dh[:, 2].sum(0), rtol=1e-14) and np.all(dc0[2] == 0)


def test_float32_close_to_float64(rng):
    p, x, h0, c0 = problem(rng, T=50, B=8, D=16, H=32, peephole=True)
    assert_float32_close_to_float64(lstm, p, x, [h0, c0], np.array([50, 31, 0, 7, 50, 1, 50, 12]), rng)


def test_same_numbers_as_torch_lstm(rng):
    torch = pytest.importorskip("torch")
    p, x, h0, c0 = problem(rng, T=9, B=3, D=4, H=6)
    dh = rng.standard_normal((9, 3, 6))
    m = torch.nn.LSTM(4, 6, dtype=torch.float64)
    with torch.no_grad():                      # the layout documented in minirnn/lstm.py
        m.weight_ih_l0.copy_(torch.from_numpy(p["W_x"].T))
        m.weight_hh_l0.copy_(torch.from_numpy(p["W_h"].T))
        m.bias_ih_l0.copy_(torch.from_numpy(p["b"]))
        m.bias_hh_l0.zero_()
    tx, th0, tc0 = (torch.from_numpy(a).requires_grad_() for a in (x, h0[None], c0[None]))
    out, _ = m(tx, (th0, tc0))
    out.backward(torch.from_numpy(dh))
    h, cache = lstm.forward(p, x, h0, c0)
    dx, dh0, dc0, g = lstm.backward(dh, cache)
    pairs = [(h, out.detach()), (dx, tx.grad), (dh0, th0.grad[0]), (dc0, tc0.grad[0]),
             (g["W_x"], m.weight_ih_l0.grad.T), (g["W_h"], m.weight_hh_l0.grad.T),
             (g["b"], m.bias_ih_l0.grad)]
    for ours, theirs in pairs:
        assert np.allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_kernels_are_deterministic(rng):
    p, x, h0, c0 = problem(rng, T=30, B=16, D=8, H=32, peephole=True, dtype=np.float32)
    assert_deterministic(lstm, p, x, [h0, c0])


@pytest.mark.parametrize("change, message", BAD_INPUTS + [
    (lambda p, x, s: (p, x, [s[0], s[1][:, :4]], None), "c0: expected shape (4, 5), got (4, 4)"),
    (lambda p, x, s: (p, x, [s[0], s[1] * np.inf], None), "c0: non-finite value")])
def test_bad_input_names_expected_and_got(rng, change, message):
    p, x, h0, c0 = problem(rng)
    assert_names_bad_input(lstm, p, x, [h0, c0], change, message)


def test_forward_without_backprop_gives_the_same_h(rng):
    p, x, h0, c0 = problem(rng, peephole=True)
    lengths = np.array([7, 2, 0, 5])
    h, cache = lstm.forward(p, x, h0, c0, lengths, backprop=False)
    assert cache is None
    assert np.array_equal(h, lstm.forward(p, x, h0, c0, lengths)[0])


def test_float32_backward_helper_computes_in_float32():
    """Eqs. 7-10 return float32 for float32 inputs: a float64 literal in them ran the
    whole float32 backward loop in float64 (docs/lstm.rst, "How it is computed")."""
    args = np.linspace(0.1, 0.9, 11).tolist()
    returns = float32_return_type(kernels._unit_backward_cpu, *args)
    assert returns == types.UniTuple(types.float32, 5)
