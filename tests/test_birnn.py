"""Bidirectional and stacked RNNs: reversal, per-sequence reference, padding, gradient
checks, stacking, dropout, and PyTorch's nn.RNN."""
import re

import numpy as np
import pytest

from minirnn import birnn, elman
from minirnn.gradcheck import check, perturbed

LENGTHS = np.array([6, 3, 0, 1])          # full, short, empty, one step (T = 6)


@pytest.fixture(params=["elman", "lstm", "gru"])
def cell(request):
    return pytest.importorskip(f"minirnn.{request.param}")


def problem(rng, cell, num_layers=1, bidirectional=True, T=6, B=4, D=3, H=4, **init_options):
    """float64 params with no zero entries (init zeroes biases), and an input x."""
    p = perturbed(birnn.init(rng, cell, D, H, num_layers, bidirectional, np.float64,
                             **init_options), rng)
    return p, rng.standard_normal((T, B, D))


def cell_params(p, prefix):
    return {k.split("/")[1]: v for k, v in p.items() if k.startswith(prefix + "/")}


def test_reverse_within_lengths_by_hand():
    x = 10 * np.arange(4)[:, None] + np.arange(3)           # x[t, b] = 10 t + b
    want = np.array([[30, 11, 2],
                     [20, 1, 12],
                     [10, 21, 22],
                     [0, 31, 32]])
    assert np.array_equal(birnn.reverse_within_lengths(x, np.array([4, 2, 0])), want)


def test_reverse_within_lengths_is_its_own_inverse(rng):
    x = rng.standard_normal((6, 4, 3))
    once = birnn.reverse_within_lengths(x, LENGTHS)
    assert np.array_equal(birnn.reverse_within_lengths(once, LENGTHS), x)
    assert np.array_equal(once[:, 1], np.concatenate([x[2::-1, 1], x[3:, 1]]))


def test_forward_matches_each_sequence_alone(rng, cell):
    """Direction fwd reads x[:L], direction bwd reads x[:L] reversed, one sequence at a
    time; padded steps and final_states repeat [last fwd state | first bwd state]."""
    p, x = problem(rng, cell)
    out, _ = birnn.forward(p, cell, x, LENGTHS)
    assert out.shape == (6, 4, 8)
    final = birnn.final_states(out)
    for b, L in enumerate(LENGTHS):
        if L == 0:
            assert np.all(out[:, b] == 0) and np.all(final[b] == 0)
            continue
        seq = x[:L, b:b + 1]
        hf, _ = cell.forward(cell_params(p, "l0.fwd"), seq)
        hb, _ = cell.forward(cell_params(p, "l0.bwd"), np.ascontiguousarray(seq[::-1]))
        want = np.concatenate([hf[:, 0], hb[::-1, 0]], axis=1)
        assert np.allclose(out[:L, b], want, rtol=1e-12, atol=1e-14)
        summary = np.concatenate([hf[-1, 0], hb[-1, 0]])
        assert np.allclose(final[b], summary, rtol=1e-12, atol=1e-14)
        assert np.allclose(out[L:, b], summary, rtol=1e-12, atol=1e-14)


def test_padding_never_leaks_in(rng, cell):
    p, x = problem(rng, cell, num_layers=2)
    x_other = x.copy()
    for b, L in enumerate(LENGTHS):
        x_other[L:, b] = 1e4 * rng.standard_normal(x[L:, b].shape)
    dout = rng.standard_normal((6, 4, 8))     # padded outputs too: they repeat valid states
    runs = []
    for xs in (x, x_other):
        out, cache = birnn.forward(p, cell, xs, LENGTHS, num_layers=2)
        runs.append((out, *birnn.backward(dout, cache)))
    (out, dx, g), (out2, dx2, g2) = runs
    assert np.array_equal(out, out2) and np.array_equal(dx, dx2)
    assert g.keys() == p.keys() and all(np.array_equal(g[k], g2[k]) for k in g)
    for b, L in enumerate(LENGTHS):
        assert np.all(dx[L:, b] == 0)


def gradcheck_errors(rng, cell, num_layers, bidirectional=True, dropout=0.0, init_options=None,
                     **options):
    """Relative errors of all parameters and x for L = sum_t <out_t, R_t>. A dropout rng
    is re-seeded on every call, so all numerical differences see the same mask."""
    p, x = problem(rng, cell, num_layers, bidirectional, D=2, H=3, **(init_options or {}))
    R = rng.standard_normal((6, 4, 3 * len(birnn.directions(bidirectional))))

    def f():
        out, cache = birnn.forward(p, cell, x, LENGTHS, num_layers, bidirectional, dropout,
                                   rng=np.random.default_rng(5) if dropout else None, **options)
        dx, grads = birnn.backward(R, cache)
        return float((out * R).sum()), {**grads, "x": dx}
    return check(f, {**p, "x": x})


@pytest.mark.parametrize("num_layers", [1, 2])
def test_gradcheck_whole_padded_sequence(rng, cell, num_layers):
    errors = gradcheck_errors(rng, cell, num_layers)
    assert max(errors.values()) <= 1e-6, errors


@pytest.mark.parametrize("options", [dict(dropout=0.5), dict(bidirectional=False)],
                         ids=["dropout", "one direction"])
def test_gradcheck_two_layers_with_dropout_or_one_direction(rng, options):
    """The cell makes no difference here: elman alone."""
    errors = gradcheck_errors(rng, elman, 2, **options)
    assert max(errors.values()) <= 1e-6, errors


@pytest.mark.parametrize("name, init_options, options", [
    ("lstm", dict(peephole=True), {}), ("gru", dict(variant="before"), dict(variant="before")),
    ("elman", {}, dict(nonlinearity="relu"))])
def test_gradcheck_two_layers_with_each_cells_options(rng, name, init_options, options):
    """Options reach every cell of the stack, in init and forward and in the backward pass."""
    cell = pytest.importorskip(f"minirnn.{name}")
    errors = gradcheck_errors(rng, cell, 2, init_options=init_options, **options)
    assert max(errors.values()) <= 1e-6, errors


def test_gradcheck_final_states(rng):
    """A classifier's loss on final_states: gradients reach both ends of each sequence."""
    p, x = problem(rng, elman)
    r = rng.standard_normal((4, 8))

    def f():
        out, cache = birnn.forward(p, elman, x, LENGTHS)
        dx, grads = birnn.backward(birnn.final_states_backward(r, 6), cache)
        return float((birnn.final_states(out) * r).sum()), {**grads, "x": dx}
    errors = check(f, {**p, "x": x})
    assert max(errors.values()) <= 1e-6, errors


def lower_layer(p, k):
    """Layer k of a stack as a one-layer model of its own."""
    return {k_.replace(f"l{k}.", "l0.", 1): v for k_, v in p.items() if k_.startswith(f"l{k}.")}


def test_two_layers_are_one_layer_on_top_of_another(rng, cell):
    p, x = problem(rng, cell, num_layers=2)
    out, _ = birnn.forward(p, cell, x, LENGTHS, num_layers=2)
    out0, _ = birnn.forward(lower_layer(p, 0), cell, x, LENGTHS)
    out1, _ = birnn.forward(lower_layer(p, 1), cell, out0, LENGTHS)
    assert np.allclose(out, out1, rtol=1e-13, atol=1e-15)


def test_evaluation_without_backprop_gives_the_same_out(rng, cell):
    """backprop=False reaches every cell (each returns no cache) and changes no number."""
    p, x = problem(rng, cell, num_layers=2)
    out, cache = birnn.forward(p, cell, x, LENGTHS, num_layers=2, backprop=False)
    assert cache is None
    assert np.array_equal(out, birnn.forward(p, cell, x, LENGTHS, num_layers=2)[0])
    q = cell_params(p, "l0.fwd")
    h, cell_cache = cell.forward(q, x, lengths=LENGTHS, backprop=False)
    assert cell_cache is None and np.array_equal(h, cell.forward(q, x, lengths=LENGTHS)[0])


def test_dropout_is_inverted_between_layers_only(rng):
    p, x = problem(rng, elman, num_layers=2)
    clean, _ = birnn.forward(p, elman, x, LENGTHS, num_layers=2)
    evaluation, _ = birnn.forward(p, elman, x, LENGTHS, num_layers=2, dropout=0.5)
    assert np.array_equal(evaluation, clean)                 # rng=None: no dropout
    one = lower_layer(p, 0)
    assert np.array_equal(birnn.forward(one, elman, x, LENGTHS, dropout=0.5,
                                        rng=np.random.default_rng(3))[0],
                          birnn.forward(one, elman, x, LENGTHS)[0])    # not after the last
    out, _ = birnn.forward(p, elman, x, LENGTHS, num_layers=2, dropout=0.25,
                           rng=np.random.default_rng(3))
    out0, _ = birnn.forward(one, elman, x, LENGTHS)
    keep = np.random.default_rng(3).random(out0.shape) >= 0.25
    want, _ = birnn.forward(lower_layer(p, 1), elman, out0 * keep / 0.75, LENGTHS)
    assert np.allclose(out, want, rtol=1e-13, atol=1e-15)


def test_float32_with_dropout(rng):
    p = birnn.init(rng, elman, 3, 4, num_layers=2)
    x = rng.standard_normal((6, 4, 3)).astype(np.float32)
    out, cache = birnn.forward(p, elman, x, LENGTHS, num_layers=2, dropout=0.5,
                               rng=np.random.default_rng(0))
    dx, grads = birnn.backward(np.ones_like(out), cache)
    assert out.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize("bidirectional", [True, False])
def test_matches_torch_rnn_full_and_packed(rng, bidirectional):
    torch = pytest.importorskip("torch")
    T, B, D, H = 6, 4, 3, 5
    p, x = problem(rng, elman, 2, bidirectional, T, B, D, H)
    net = torch.nn.RNN(D, H, num_layers=2, bidirectional=bidirectional, dtype=torch.float64)
    with torch.no_grad():
        for k in range(2):
            for d, suffix in zip(birnn.directions(bidirectional), ("", "_reverse")):
                c = cell_params(p, f"l{k}.{d}")
                getattr(net, f"weight_ih_l{k}{suffix}").copy_(torch.from_numpy(c["W_x"].T))
                getattr(net, f"weight_hh_l{k}{suffix}").copy_(torch.from_numpy(c["W_h"].T))
                getattr(net, f"bias_ih_l{k}{suffix}").copy_(torch.from_numpy(c["b"]))
                getattr(net, f"bias_hh_l{k}{suffix}").zero_()
        full, _ = net(torch.from_numpy(x))
        lengths = np.array([6, 3, 1, 5])                    # torch packs no empty sequence
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            torch.from_numpy(x), torch.from_numpy(lengths), enforce_sorted=False)
        packed_out, h_n = net(packed)
        padded, _ = torch.nn.utils.rnn.pad_packed_sequence(packed_out, total_length=T)
    out, _ = birnn.forward(p, elman, x, num_layers=2, bidirectional=bidirectional)
    assert np.allclose(out, full.numpy(), rtol=1e-10, atol=1e-10)
    out, _ = birnn.forward(p, elman, x, lengths, num_layers=2, bidirectional=bidirectional)
    for b, L in enumerate(lengths):
        assert np.allclose(out[:L, b], padded.numpy()[:L, b], rtol=1e-10, atol=1e-10)
    last_layer = h_n.numpy()[-len(birnn.directions(bidirectional)):]   # (dirs, B, H)
    assert np.allclose(birnn.final_states(out, bidirectional),
                       np.concatenate(list(last_layer), axis=1), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("options, message", [
    (dict(num_layers=2), "params: expected cells ['l0.bwd', 'l0.fwd', 'l1.bwd', 'l1.fwd']"),
    (dict(bidirectional=False), "params: expected cells ['l0.fwd'] (num_layers=1, bidirectional"
                                "=False, as given to init), got ['l0.bwd', 'l0.fwd']"),
    (dict(num_layers=0), "num_layers: expected a positive integer, got 0"),
    (dict(dropout=1.0), "dropout: expected a rate in [0, 1), got 1.0"),
    (dict(lengths=[6, 6]), "lengths: expected 4 integers"),
])
def test_bad_input_names_expected_and_got(rng, options, message):
    p, x = problem(rng, elman)
    with pytest.raises(ValueError, match=re.escape(message)):
        birnn.forward(p, elman, x, **options)


def test_bad_dout_shape(rng):
    p, x = problem(rng, elman)
    _, cache = birnn.forward(p, elman, x)
    message = "dout: expected shape (6, 4, 8), got (6, 4, 4)"
    with pytest.raises(ValueError, match=re.escape(message)):
        birnn.backward(np.zeros((6, 4, 4)), cache)



def test_cell_options_reach_every_cell(rng):
    p, x = problem(rng, elman, num_layers=2)
    out, _ = birnn.forward(p, elman, x, num_layers=2, nonlinearity="relu")
    out0, _ = birnn.forward(lower_layer(p, 0), elman, x, nonlinearity="relu")
    hf, _ = elman.forward(cell_params(p, "l1.fwd"), out0, nonlinearity="relu")
    assert np.allclose(out[..., :4], hf, rtol=1e-13, atol=1e-15)
    lstm = pytest.importorskip("minirnn.lstm")
    p = birnn.init(rng, lstm, 3, 4, num_layers=2, peephole=True)
    assert {"l0.fwd/p_i", "l0.bwd/p_f", "l1.bwd/p_o"} <= p.keys()
