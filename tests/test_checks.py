"""Input checks at the public functions: each bad input is an error that names it.

The kernels check no bounds, so every case here was, before its check, a silently
wrong result (a read past the end of an array, or NumPy's -1 meaning the last row).
"""
import re

import numpy as np
import pytest

from minirnn import ar, attention, birnn, elman, esn, gcn, gru, hmm, layers, lstm, optim

CELLS = {"elman": (elman, "b"), "lstm": (lstm, "b"), "gru": (gru, "b_x")}


@pytest.mark.parametrize("name", CELLS)
def test_a_bias_of_the_wrong_size_is_named(rng, name):
    cell, bias = CELLS[name]
    params = cell.init(rng, 3, 4, np.float64)
    x = rng.standard_normal((5, 2, 3))
    params[bias] = params[bias][:-1]
    with pytest.raises(ValueError, match=f"{bias}: expected shape"):
        cell.forward(params, x)
    del params[bias]
    with pytest.raises(ValueError, match=f"params: missing '{bias}'"):
        cell.forward(params, x)


@pytest.mark.parametrize("name", CELLS)
def test_the_weight_the_sizes_come_from_is_named_when_it_is_wrong(rng, name):
    """H comes from W_h's rows and D from W_x's: a W_h with a row too few is named
    itself (it was W_x, measured against it), and x's mismatch shows W_x's shape."""
    cell, _ = CELLS[name]
    params = cell.init(rng, 3, 4, np.float64)
    x = rng.standard_normal((5, 2, 3))
    with pytest.raises(ValueError, match=r"^W_h: expected shape \(3, \d+\), got \(3, \d+\)"):
        cell.forward({**params, "W_h": params["W_h"][1:]}, x)
    W_x = params["W_x"][1:]
    message = f"x: expected shape (?, ?, 2) (to match W_x of shape {W_x.shape}), got (5, 2, 3)"
    with pytest.raises(ValueError, match=re.escape(message)):
        cell.forward({**params, "W_x": W_x}, x)


def test_peepholes_of_the_wrong_size_or_dtype_are_named(rng):
    params = lstm.init(rng, 3, 4, np.float64, peephole=True)
    x = rng.standard_normal((5, 2, 3))
    params["p_f"] = np.zeros(7)
    with pytest.raises(ValueError, match=r"p_f: expected shape \(4,\)"):
        lstm.forward(params, x)
    params["p_f"] = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="p_f: expected dtype float64"):
        lstm.forward(params, x)


@pytest.mark.parametrize("pool", [layers.mean_pool_forward, layers.max_pool_forward])
@pytest.mark.parametrize("lengths", [[4, 2], [-1, 2], [3]])
def test_pooling_refuses_lengths_outside_the_steps(rng, pool, lengths):
    with pytest.raises(ValueError, match="lengths: expected"):
        pool(rng.standard_normal((3, 2, 5)), np.array(lengths))


def test_ids_outside_the_table_or_classes_are_refused(rng):
    E = rng.standard_normal((4, 2))
    with pytest.raises(ValueError, match=r"idx: expected ids in \[0, 4\), got \[-1, 2\]"):
        layers.embedding_forward(E, np.array([2, -1]))
    with pytest.raises(ValueError, match="idx: expected integer ids"):
        layers.embedding_forward(E, np.array([0.0, 1.0]))
    _, cache = layers.embedding_forward(E, np.array([[0, 3]]))
    with pytest.raises(ValueError, match=r"dout: expected shape \(1, 2, 2\)"):
        layers.embedding_backward(np.ones((1, 2, 3)), cache)
    z = rng.standard_normal((2, 3))
    with pytest.raises(ValueError, match=r"y: expected ids in \[0, 3\)"):
        layers.softmax_cross_entropy(z, np.array([0, -1]))


@pytest.mark.parametrize("p", [1.0, -0.1])
def test_dropout_rate_outside_0_1_is_refused(rng, p):
    with pytest.raises(ValueError, match="p: expected a dropout rate"):
        layers.dropout_forward(np.ones(3), p, rng)


def test_adam_refuses_a_parameter_it_cannot_update_in_place():
    tied = {"W": np.ones((3, 2)).T}                  # a transposed view, as a tied weight
    with pytest.raises(ValueError, match=r"params\['W'\]: .*C-contiguous"):
        optim.adam(tied, {"W": np.ones((2, 3))}, {}, lr=0.1)


def test_adam_with_a_fortran_ordered_gradient_equals_a_c_ordered_one(rng):
    g = rng.standard_normal((3, 4))
    runs = []
    for grad in (g, np.asfortranarray(g)):
        params, state = {"W": np.zeros((3, 4))}, {}
        for _ in range(3):
            optim.adam(params, {"W": grad}, state, lr=0.1)
        runs.append(params["W"])
    assert np.array_equal(runs[0], runs[1]) and np.abs(runs[0]).min() > 0.1


def test_gcn_propagate_refuses_m_whose_rows_are_not_a_columns():
    A = gcn.normalized_adjacency(np.array([[0, 1], [1, 2]]), 3)
    with pytest.raises(ValueError, match=r"M: expected shape \(3, \?\)"):
        gcn.propagate(A, np.ones((2, 4)))
    with pytest.raises(ValueError, match="M: expected float32 or float64"):
        gcn.propagate(A, np.ones((3, 4), np.int64))


def test_esn_generate_refuses_a_readout_of_the_wrong_size(rng):
    params = esn.init(rng, 1, 20)
    ro = {"W_out": np.ones((1, 20)), "W_u": np.ones((1, 1)), "b_out": np.zeros(2)}
    u0, x0 = np.zeros((1, 1)), np.zeros((1, 20))
    with pytest.raises(ValueError, match=r"b_out: expected shape \(1,\)"):
        esn.generate(params, ro, u0, x0, 3, 1.0)
    ro["b_out"], ro["W_u"] = np.zeros(1), np.ones((1, 5))
    with pytest.raises(ValueError, match=r"W_u: expected shape \(1, 1\)"):
        esn.generate(params, ro, u0, x0, 3, 1.0)


@pytest.mark.parametrize("leak", [np.array([0.3]), np.array([[0.3]]), np.full(2, 0.3)])
def test_esn_refuses_a_leak_that_is_an_array(rng, leak):
    """The kernels take the leak rate as a scalar: an array reached them as a Numba
    typing error (one element) or NumPy's ambiguous truth value (several)."""
    params = esn.init(rng, 1, 20)
    ro = {"W_out": np.ones((1, 20)), "W_u": np.ones((1, 1)), "b_out": np.zeros(1)}
    u, x0 = rng.standard_normal((4, 1, 1)), np.zeros((1, 20))
    message = re.escape(f"leak: expected one number, got an array of shape {leak.shape}")
    with pytest.raises(ValueError, match=message):
        esn.forward(params, u, leak)
    with pytest.raises(ValueError, match=message):
        esn.generate(params, ro, u[0], x0, 3, leak)
    x = esn.forward(params, u, np.array(0.3))               # a 0-d array is one number
    assert np.array_equal(x, esn.forward(params, u, 0.3))


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_refuses_a_read_only_parameter_before_changing_anything(momentum):
    params = {"a": np.ones(3), "b": np.broadcast_to(np.ones(2), (2, 2))}   # b: read-only
    grads, state = {"a": np.ones(3), "b": np.ones((2, 2))}, {}
    with pytest.raises(ValueError, match=r"params\['b'\]: SGD updates it in place, .*read-only"):
        optim.sgd(params, grads, state, lr=0.1, momentum=momentum)
    assert np.array_equal(params["a"], np.ones(3)) and state == {}


def test_sgd_updates_a_transposed_view_in_place():
    """SGD's update is NumPy's in-place arithmetic, which follows any strides: unlike
    Adam's flat pass it needs no C-contiguous parameter, so it does not refuse one."""
    W = np.arange(6.0).reshape(2, 3)
    params = {"W_T": W.T}                                     # a tied weight
    optim.sgd(params, {"W_T": np.ones((3, 2))}, {}, lr=0.5)
    assert np.array_equal(W, np.arange(6.0).reshape(2, 3) - 0.5)


def test_adam_refuses_before_changing_anything():
    params = {"a": np.ones(3), "b": np.ones((3, 2)).T}
    state = {}
    with pytest.raises(ValueError, match=r"params\['b'\]: Adam .*C-contiguous"):
        optim.adam(params, {"a": np.ones(3), "b": np.ones((2, 3))}, state, lr=0.1)
    assert np.array_equal(params["a"], np.ones(3)) and state == {}


# ------------------------------------------- parameters: missing, misshapen, mixed dtypes
#
# Each case below failed with NumPy's broadcast or matmul message, a KeyError or an
# AttributeError, named the wrong array, or ran on silently, before its check.

@pytest.mark.parametrize("name", CELLS)
def test_the_state_weight_missing_or_not_an_array_is_named(rng, name):
    cell, _ = CELLS[name]
    params = cell.init(rng, 3, 4, np.float64)
    x = rng.standard_normal((5, 2, 3))
    params["W_h"] = params["W_h"].tolist()
    with pytest.raises(ValueError, match="W_h: expected a numpy array, got list"):
        cell.forward(params, x)
    del params["W_h"]
    with pytest.raises(ValueError, match="params: missing 'W_h'"):
        cell.forward(params, x)


@pytest.mark.parametrize("name", CELLS)
def test_a_weight_of_another_dtype_names_the_one_it_differs_from(rng, name):
    cell, _ = CELLS[name]
    params = cell.init(rng, 3, 4, np.float64)
    params["W_x"] = params["W_x"].astype(np.float32)
    message = r"W_x: expected dtype float64 \(that of W_h\), got float32"
    with pytest.raises(ValueError, match=message):
        cell.forward(params, rng.standard_normal((5, 2, 3)).astype(np.float32))


def test_lstm_peepholes_come_all_three_or_none(rng):
    params = lstm.init(rng, 3, 4, np.float64, peephole=True)
    del params["p_i"]                        # p_f and p_o alone were silently dropped
    with pytest.raises(ValueError, match="params: missing 'p_i'"):
        lstm.forward(params, rng.standard_normal((5, 2, 3)))


@pytest.mark.parametrize("name", CELLS)
def test_birnn_names_the_cell_of_a_bad_parameter_before_running_any(rng, name, monkeypatch):
    cell, _ = CELLS[name]
    x = rng.standard_normal((5, 2, 3))
    good = birnn.init(rng, cell, 3, 4, num_layers=2, dtype=np.float64)
    ran, run = [], cell.forward
    monkeypatch.setattr(cell, "forward", lambda *a, **k: ran.append(1) or run(*a, **k))
    for change, message in [
            (lambda p: p.pop("l1.bwd/W_h"), r"params: missing 'l1.bwd/W_h'"),
            (lambda p: p.update({"l1.fwd/W_x": p["l1.fwd/W_x"][:4]}),
             r"l1.fwd/W_x: expected shape \(8, \d+\), got \(4, \d+\)"),
            (lambda p: p.update({"l1.bwd/W_x": p["l1.bwd/W_x"].astype(np.float32)}),
             "l1.bwd/W_x: expected dtype float64, got float32")]:
        params = dict(good)
        change(params)
        with pytest.raises(ValueError, match=message):
            birnn.forward(params, cell, x, num_layers=2)
        assert not ran                       # no layer ran before the check


@pytest.mark.parametrize("keys, message", [
    (("W_0", "W_2"), r"params: has W_0, W_2 but no W_1"),
    (("W_1", "W_2"), r"params: has W_1, W_2 but no W_0"),
    (("W_0", "W_1", "bias"), r"params: unexpected key\(s\) \['bias'\]"),
])
def test_gcn_counts_its_layers_from_the_keys_and_names_a_gap(rng, keys, message):
    A_hat = gcn.normalized_adjacency(np.array([[0, 1], [1, 2]]), 3)
    weights = list(gcn.init(rng, [4, 5, 2], np.float64).values()) + [np.zeros(2)]
    with pytest.raises(ValueError, match=message):
        gcn.forward(dict(zip(keys, weights)), A_hat, rng.standard_normal((3, 4)))


def test_gcn_weights_must_chain_and_share_a_dtype(rng):
    A_hat = gcn.normalized_adjacency(np.array([[0, 1], [1, 2]]), 3)
    X = rng.standard_normal((3, 4))
    params = gcn.init(rng, [4, 5, 2], np.float64)
    params["W_1"] = np.zeros((6, 2))
    with pytest.raises(ValueError, match=r"W_1: expected shape \(5, \?\), got \(6, 2\)"):
        gcn.forward(params, A_hat, X)
    params["W_1"] = np.zeros((5, 2), np.float32)
    with pytest.raises(ValueError, match=r"W_1: expected dtype float64 \(that of W_0\)"):
        gcn.forward(params, A_hat, X)
    with pytest.raises(ValueError, match="params: missing 'W_0'"):
        gcn.loss({"W_1": params["W_1"]}, np.zeros((3, 2)), np.zeros(3, int), np.arange(2))
    gnn = gcn.gnn_init(rng, 4, 5, np.float64)
    gnn["W_neigh"] = gnn["W_neigh"][:, :3]
    with pytest.raises(ValueError, match=r"W_neigh: expected shape \(4, 5\), got \(4, 3\)"):
        gcn.gnn_forward(gnn, gcn.adjacency(np.array([[0, 1]]), 3), X)


def test_attention_weights_are_named(rng):
    q, k, v = (rng.standard_normal(s) for s in ((4, 2, 3), (5, 2, 6), (5, 2, 2)))
    params = attention.additive_init(rng, 3, 6, 7, np.float64)
    with pytest.raises(ValueError, match=r"W_q: expected shape \(\?, 7\), got \(3, 8\)"):
        attention.additive_forward({**params, "W_q": np.zeros((3, 8))}, q, k, v)
    with pytest.raises(ValueError, match="params: missing 'w'"):
        attention.additive_forward({"W_q": params["W_q"], "W_k": params["W_k"]}, q, k, v)
    with pytest.raises(ValueError, match="q: expected dtype float64, got float32"):
        attention.additive_forward(params, *(a.astype(np.float32) for a in (q, k, v)))
    params = attention.multihead_init(rng, 8, np.float64)
    x = rng.standard_normal((5, 2, 8))
    with pytest.raises(ValueError, match=r"b_v: expected shape \(8,\), got \(7,\)"):
        attention.multihead_forward({**params, "b_v": np.zeros(7)}, x, 2)
    with pytest.raises(ValueError, match=r"W_o: expected dtype float64 \(that of W_q\)"):
        attention.multihead_forward({**params, "W_o": params["W_o"].astype(np.float32)}, x, 2)


def test_esn_reservoir_and_readout_keys_are_named(rng):
    params = esn.init(rng, 1, 20)
    u = rng.standard_normal((6, 2, 1))
    with pytest.raises(ValueError, match="params: missing 'W_in'"):
        esn.forward({"W": params["W"], "b": params["b"]}, u, 0.3)
    ro = {"W_out": np.ones((1, 20)), "W_u": np.ones((1, 1)), "b_out": np.zeros(1)}
    with pytest.raises(ValueError, match="params: missing 'W_u'"):
        esn.generate(params, {"W_out": ro["W_out"], "b_out": ro["b_out"]},
                     np.zeros((2, 1)), np.zeros((2, 20)), 3, 0.3)
    x, u2 = np.zeros((4, 20)), np.zeros((4, 1))
    with pytest.raises(ValueError, match=r"b_out: expected shape \(1,\), got \(2,\)"):
        esn.readout({**ro, "b_out": np.zeros(2)}, x, u2)        # it broadcast to (4, 2)
    with pytest.raises(ValueError, match=r"x: expected shape \(4, 20\), got \(4, 19\)"):
        esn.readout(ro, x[:, :19], u2)


def test_hmm_and_ar_parameters_are_named(rng):
    params = hmm.init_categorical(rng, 2, 6)
    del params["A"]
    with pytest.raises(ValueError, match="params: missing 'A'"):
        hmm.loglik(params, rng.integers(0, 6, (10, 2)))
    s = np.sin(np.arange(50) / 5)
    fitted = ar.fit(s, 3)
    with pytest.raises(ValueError, match=r"phi: expected 1 dimensions, got shape \(3, 2\)"):
        ar.predict({**fitted, "phi": np.zeros((3, 2))}, s)      # returned (47, 2) values
    with pytest.raises(ValueError, match="params: missing 'c'"):
        ar.generate({"phi": fitted["phi"]}, s, 4)
    with pytest.raises(ValueError, match=r"c: expected one number, got an array of shape \(2,\)"):
        ar.generate({**fitted, "c": np.zeros(2)}, s, 4)


def test_affine_and_embedding_weights_are_named(rng):
    x = rng.standard_normal((5, 2, 3))
    with pytest.raises(ValueError, match=r"W: expected shape \(3, \?\), got \(4, 6\)"):
        layers.affine_forward(x, np.zeros((4, 6)), np.zeros(6))
    with pytest.raises(ValueError, match="b: expected 1 dimensions"):
        layers.affine_forward(x, np.zeros((3, 6)), np.zeros((2, 6)))   # broadcast silently
    with pytest.raises(ValueError, match="W: expected dtype float64, got float32"):
        layers.affine_forward(x, np.zeros((3, 6), np.float32), np.zeros(6, np.float32))
    with pytest.raises(ValueError, match="E: expected 2 dimensions"):
        layers.embedding_forward(np.zeros(5), np.array([1, 2]))      # gave (2,) scalars


def test_tasks_name_their_own_parameters(rng):
    from minirnn.tasks import charlm, sentiment, seq2seq
    task = charlm.CharLM(charlm.Settings(hidden=16, embed=8, dtype="float64"), "abcde")
    params, x, h0 = task.init_params(rng), np.array([[0, 1], [2, 3]]), np.zeros((2, 16))
    with pytest.raises(ValueError, match=r"W_y: expected shape \(16, 5\), got \(16, 6\)"):
        task.forward({**params, "W_y": np.zeros((16, 6))}, x, h0)
    with pytest.raises(ValueError, match=r"W_x: expected shape \(8, 16\), got \(7, 16\)"):
        task.forward({**params, "W_x": np.zeros((7, 16))}, x, h0)
    task = sentiment.Sentiment(sentiment.Settings(model="gru", hidden=4, embed=6), "abc")
    params = task.init_params(rng)
    with pytest.raises(ValueError, match=r"E: expected shape \(3, 6\), got \(3, 5\)"):
        task.forward({**params, "E": np.zeros((3, 5), np.float32)}, np.zeros((2, 2), int), [2, 1])
    with pytest.raises(ValueError, match="b_y: expected dtype float32, got float64"):
        task.forward({**params, "b_y": np.zeros(2)}, np.zeros((2, 2), int), [2, 1])
    task = seq2seq.Seq2Seq(seq2seq.Settings(hidden=4, embed=6))
    params = task.init_params(rng)
    inputs, lengths = np.zeros((3, 2), int), np.array([3, 2])
    with pytest.raises(ValueError, match=r"dec.W_x: expected shape \(6, 24\), got \(5, 24\)"):
        task.loss_and_grads({**params, "dec.W_x": np.zeros((5, 24), np.float32)}, inputs,
                            lengths, np.zeros((11, 2), int))
    with pytest.raises(ValueError, match=r"W_s: expected shape \(8, 8\), got \(8, 7\)"):
        task.encode({**params, "W_s": np.zeros((8, 7), np.float32)}, inputs, lengths)
