"""GRU: kernels vs the NumPy reference and torch.nn.GRU, gradient checks, padding, bad input."""
import re

import numpy as np
import pytest
from numba import types

from minirnn import gru
from minirnn.kernels import gru as kernels
from minirnn.gradcheck import check, rel_error
from tests.cells import (assert_chunks_compose, backward_blocks,  # noqa: F401 (a fixture)
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


def test_float32_forward_close_to_float64_reference(rng):
    p, x, h0 = problem(rng, T=50, B=8, D=16, H=32)
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    h, _ = gru.forward(p32, x.astype(np.float32), h0.astype(np.float32))
    assert h.dtype == np.float32
    assert np.abs(h - reference.gru_forward(p, x, h0)).max() < 1e-5


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
    """A padded batch gives each sequence exactly what it gives alone, whatever the padding."""
    p, x, h0 = problem(rng, variant=variant)
    lengths = np.array([7, 2, 0, 5])
    x_other = x.copy()
    for n, L in enumerate(lengths):
        x_other[L:, n] = 1e3 * rng.standard_normal(x[L:, n].shape)
    dh = rng.standard_normal((7, 4, 5))
    for n, L in enumerate(lengths):
        dh[L:, n] = 0                             # nothing downstream reads padded outputs
    runs = []
    for xs in (x, x_other):
        h, cache = gru.forward(p, xs, h0, lengths, variant)
        runs.append((h, *gru.backward(dh, cache)))
    (h, dx, dh0, g), (h2, dx2, dh02, g2) = runs
    assert np.array_equal(h, h2) and np.array_equal(dh0, dh02)
    assert all(np.array_equal(g[k], g2[k]) for k in g)
    for n, L in enumerate(lengths):
        assert np.all(dx[L:, n] == 0)
        last = h[L - 1, n] if L else h0[n]
        assert np.array_equal(h[L:, n], np.broadcast_to(last, h[L:, n].shape))
        if L == 0:
            continue
        h_alone, cache = gru.forward(p, x[:L, n:n + 1], h0[n:n + 1], variant=variant)
        dx_alone, dh0_alone, _ = gru.backward(dh[:L, n:n + 1], cache)
        assert np.allclose(h[:L, n], h_alone[:, 0], rtol=1e-13, atol=1e-15)
        assert np.allclose(dx[:L, n], dx_alone[:, 0], rtol=1e-12, atol=1e-14)
        assert np.allclose(dh0[n], dh0_alone[0], rtol=1e-12, atol=1e-14)


def test_truncated_bptt_chunks_compose_to_the_whole_sequence(rng):
    p, x, h0 = problem(rng, T=10)
    assert_chunks_compose(gru, p, x, h0, rng.standard_normal((10, 4, 5)), split=6)


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


def test_kernels_are_deterministic(rng):
    p, x, h0 = problem(rng, T=30, B=16, D=8, H=32, dtype=np.float32)
    out = []
    for _ in range(2):
        h, cache = gru.forward(p, x, h0)
        out.append((h, *gru.backward(np.ones_like(h), cache)))
    assert np.array_equal(out[0][0], out[1][0]) and np.array_equal(out[0][1], out[1][1])
    assert all(np.array_equal(out[0][3][k], out[1][3][k]) for k in p)


@pytest.mark.parametrize("change, message", [
    (lambda p, x, h0: (p, x[0], h0, None), "x: expected 3 dimensions"),
    (lambda p, x, h0: (p, x[:, :, :2], h0, None), "x: expected shape (?, ?, 3)"),
    (lambda p, x, h0: (p, x.astype(np.float32), h0, None),
     "x: expected dtype float64, got float32"),
    (lambda p, x, h0: (p, x.astype(int), h0, None), "x: expected dtype float64, got int64"),
    (lambda p, x, h0: (p, x, h0[:2], None), "h0: expected shape (4, 5), got (2, 5)"),
    (lambda p, x, h0: (p, x, h0.astype(np.float32), None),
     "h0: expected dtype float64, got float32"),
    (lambda p, x, h0: (p, x, h0, [7, 7]), "lengths: expected 4 integers"),
    (lambda p, x, h0: (p, x, h0, [8, 1, 1, 1]), "lengths: expected values in [0, 7]"),
    (lambda p, x, h0: (p, np.where(x > 2, np.nan, x), h0, None),
     "x: non-finite value nan at index"),
    (lambda p, x, h0: (p, x, h0 * np.inf, None), "h0: non-finite value"),
    (lambda p, x, h0: ({**p, "b_h": p["b_h"][:10]}, x, h0, None),
     "b_h: expected shape (15,) for variant='after', got (10,)"),
])
def test_bad_input_names_expected_and_got(rng, change, message):
    p, x, h0 = problem(rng)
    x[3, 1, 2] = 2.5                     # guarantee one NaN for the NaN case
    with pytest.raises(ValueError, match=re.escape(message)):
        gru.forward(*change(p, x, h0))


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
