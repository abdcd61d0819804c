"""Empty batches: T = 0 steps, B = 0 sequences, every length 0.

Where the math defines the empty case the functions return it: a sum over no steps is
0, so the outputs are empty arrays of the right shape, every weight gradient and the
gradient of an initial state are zeros, and no observations have log-likelihood 0. A
negative number of steps to draw means nothing and is refused by name.
"""
import numpy as np
import pytest

from minirnn import ar, attention, birnn, elman, esn, gru, hmm, layers, lds, lstm
from minirnn.kernels import common
from minirnn.tasks.charlm import CharLM, Settings
from minirnn.tasks.tracking import constant_velocity

D, H = 3, 4
CELLS = {"elman": (elman, {}, {}), "lstm": (lstm, {}, {}),
         "lstm peepholes": (lstm, {"peephole": True}, {}), "gru": (gru, {}, {}),
         "gru reset-before": (gru, {"variant": "before"}, {"variant": "before"})}
EMPTY = [(0, 3), (5, 0), (0, 0)]           # (T, B): no steps, no sequences, neither
EMPTY_IDS = [f"T={T},B={B}" for T, B in EMPTY]


def run_cell(name, T, B, rng, device="cpu"):
    """forward and backward of cell ``name`` over x (T, B, D) from random initial
    states, with dL/dh = 1: (h, dx, dstates, grads, params)."""
    cell, init_options, options = CELLS[name]
    params = cell.init(rng, D, H, np.float64, **init_options)
    states = [rng.standard_normal((B, H)) for _ in range(2 if cell is lstm else 1)]
    h, cache = cell.forward(params, rng.standard_normal((T, B, D)), *states, device=device,
                            **options)
    dx, *dstates, grads = cell.backward(np.ones((T, B, H)), cache)
    return h, dx, dstates, grads, params


def assert_zero_gradients(grads, params):
    assert sorted(grads) == sorted(params)
    for k in params:
        assert grads[k].shape == params[k].shape and grads[k].dtype == params[k].dtype
        assert not grads[k].any(), k


@pytest.mark.parametrize("T, B", EMPTY, ids=EMPTY_IDS)
@pytest.mark.parametrize("name", CELLS)
def test_cells_run_over_an_empty_batch(rng, name, T, B):
    """h (T, B, H) and dx (T, B, D) are empty; no step uses a weight or the initial
    states, so all their gradients are zeros (B, H) and zeros of each weight's shape."""
    h, dx, dstates, grads, params = run_cell(name, T, B, rng)
    assert h.shape == (T, B, H) and dx.shape == (T, B, D)
    for dstate in dstates:
        assert dstate.shape == (B, H) and not dstate.any()
    assert_zero_gradients(grads, params)


@pytest.mark.cudasim
@pytest.mark.parametrize("T, B", EMPTY, ids=EMPTY_IDS)
@pytest.mark.parametrize("name", CELLS)
def test_cuda_cells_run_over_an_empty_batch(rng, name, T, B):
    h, dx, dstates, grads, params = run_cell(name, T, B, rng, device="cuda")
    assert h.shape == (T, B, H) and dx.shape == (T, B, D)
    for dstate in dstates:
        assert dstate.shape == (B, H) and not dstate.any()
    assert_zero_gradients(grads, params)


def test_backward_blocks_of_an_empty_batch():
    """B = 0: steps of no bytes, so an eighth of T alone sizes the blocks."""
    assert common.backward_blocks(16, 0) == (2, [(14, 16), (12, 14), (10, 12), (8, 10),
                                                 (6, 8), (4, 6), (2, 4), (0, 2)])
    assert common.backward_blocks(0, 0) == (1, [])


def test_previous_state_gradient_over_no_steps_is_zero(rng):
    """sum_t h_{t-1}^T d_t over t < T = 0 is the zero (H, G) matrix."""
    h0, h, d = rng.standard_normal((3, 4)), np.empty((0, 3, 4)), np.empty((0, 3, 5))
    assert np.array_equal(common.previous_state_gradient(h0, h, d), np.zeros((4, 5)))


class FakeKernel:
    """Records the launches that a CUDA kernel would get."""
    def __init__(self):
        self.launches = []

    def __getitem__(self, config):
        return lambda *args: self.launches.append((config, args))


@pytest.mark.parametrize("config, runs", [((0, 32), False), (((0, 1), (8, 32)), False),
                                          (((2, 0), (8, 32)), False), ((3, 32), True),
                                          (((2, 1), (8, 32)), True)])
def test_launch_skips_a_grid_of_no_blocks(config, runs):
    """CUDA refuses a launch of zero blocks (invalid configuration argument); an empty
    batch has nothing to compute, so common.launch does not launch it."""
    kernel = FakeKernel()
    common.launch(kernel, config, "a", 1)
    assert kernel.launches == ([(config, ("a", 1))] if runs else [])


@pytest.mark.parametrize("T, B", EMPTY, ids=EMPTY_IDS)
@pytest.mark.parametrize("cell", [elman, lstm, gru], ids=lambda c: c.__name__.split(".")[1])
def test_birnn_over_an_empty_batch(rng, cell, T, B):
    """Two bidirectional layers: out (T, B, 2H), dx (T, B, D), zero weight gradients;
    final_states are zeros (B, 2H), as for an empty sequence among others."""
    params = birnn.init(rng, cell, D, H, num_layers=2, dtype=np.float64)
    out, cache = birnn.forward(params, cell, rng.standard_normal((T, B, D)), num_layers=2)
    dx, grads = birnn.backward(np.ones_like(out), cache)
    assert out.shape == (T, B, 2 * H) and dx.shape == (T, B, D)
    assert_zero_gradients(grads, params)
    final = birnn.final_states(out)
    assert final.shape == (B, 2 * H) and not final.any()
    dout = birnn.final_states_backward(np.ones((B, 2 * H)), T)
    assert dout.shape == (T, B, 2 * H)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_final_states_of_no_steps_are_the_zero_initial_states(rng, bidirectional):
    """T = 0: each sequence is empty, and its summary the zero initial states, as for
    a sequence of length 0 in a longer batch (test_birnn)."""
    width = H * len(birnn.directions(bidirectional))
    final = birnn.final_states(np.empty((0, 3, width)), bidirectional)
    assert np.array_equal(final, np.zeros((3, width)))
    dout = birnn.final_states_backward(rng.standard_normal((3, width)), 0, bidirectional)
    assert dout.shape == (0, 3, width)


@pytest.mark.parametrize("kind", ["mean", "max"])
@pytest.mark.parametrize("T, B", EMPTY, ids=EMPTY_IDS)
def test_pooling_no_steps_gives_zeros(rng, kind, T, B):
    """Pooling an empty sequence gives 0 (training eq. 15), and no gradient."""
    forward, backward = {"mean": (layers.mean_pool_forward, layers.mean_pool_backward),
                         "max": (layers.max_pool_forward, layers.max_pool_backward)}[kind]
    out, cache = forward(rng.standard_normal((T, B, H)), None)
    assert np.array_equal(out, np.zeros((B, H)))
    dh = backward(rng.standard_normal((B, H)), cache)
    assert dh.shape == (T, B, H)


@pytest.mark.parametrize("T, B", EMPTY, ids=EMPTY_IDS)
def test_multihead_attention_over_an_empty_batch(rng, T, B):
    E, heads = 4, 2
    params = attention.multihead_init(rng, E, np.float64)
    y, A, cache = attention.multihead_forward(params, rng.standard_normal((T, B, E)), heads)
    assert y.shape == (T, B, E) and A.shape == (B, heads, T, T)
    dx, grads = attention.multihead_backward(np.ones_like(y), cache)
    assert dx.shape == (T, B, E)
    assert_zero_gradients(grads, params)


def hmm_params(rng, kind):
    params = hmm.init_categorical(rng, 3, 4)
    if kind == "gaussian":
        params = {"pi": params["pi"], "A": params["A"], "mu": rng.standard_normal((3, 2)),
                  "var": rng.uniform(0.5, 2, (3, 2))}
    return params


def hmm_observations(rng, kind, T, B):
    return np.zeros((T, B), np.int64) if kind == "categorical" else rng.standard_normal((T, B, 2))


@pytest.mark.parametrize("T, B, lengths", [(0, 3, None), (5, 0, None), (0, 0, None),
                                           (5, 2, [0, 0])])
@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_hmm_em_without_observations_keeps_the_parameters(rng, kind, T, B, lengths):
    """No sequence has a first step or a transition, and no state is visited: the
    M-step has nothing to count and keeps every parameter (as it keeps an unvisited
    state's emissions); each log P(x) is 0, so EM stops after one iteration."""
    params = hmm_params(rng, kind)
    x = hmm_observations(rng, kind, T, B)
    gamma, xi, loglik = hmm.posteriors(params, x, lengths)
    assert np.array_equal(loglik, np.zeros(B))
    new = hmm.m_step(params, x, lengths, gamma, xi)
    for k in params:
        assert np.array_equal(new[k], params[k]), k
    fitted, history = hmm.baum_welch(params, x, lengths)
    assert history == [0.0, 0.0]
    for k in params:
        assert np.array_equal(fitted[k], params[k]), k


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_hmm_sample_of_no_steps(rng, kind):
    params = hmm_params(rng, kind)
    z, x = hmm.sample(params, rng, 0, 3)
    assert z.shape == (0, 3) and x.shape == hmm_observations(rng, kind, 0, 3).shape


def test_lds_sample_of_no_steps(rng):
    params = constant_velocity(1.0, 0.1, 1.0)
    x, y = lds.sample(params, 0, rng)
    assert x.shape == (0, 4) and y.shape == (0, 2)


def test_samplers_refuse_a_negative_number_of_steps(rng):
    esn_params = esn.init(rng, 1, 20)
    readout = {"W_out": np.ones((1, 20)), "W_u": np.ones((1, 1)), "b_out": np.zeros(1)}
    ar_params = {"c": 0.0, "phi": np.array([0.5, 0.2])}
    task = CharLM(Settings(hidden=8, embed=4, dtype="float64"), "\nab")
    calls = {"steps": lambda: esn.generate(esn_params, readout, np.zeros((1, 1)),
                                           np.zeros((1, 20)), -1, 1.0),
             "steps ": lambda: ar.generate(ar_params, np.ones(3), -1),
             "T": lambda: hmm.sample(hmm_params(rng, "categorical"), rng, -1),
             "B": lambda: hmm.sample(hmm_params(rng, "categorical"), rng, 5, -2),
             "T ": lambda: lds.sample(constant_velocity(1.0, 0.1, 1.0), -1, rng),
             "length": lambda: task.sample(task.init_params(rng), rng, length=-1)}
    for name, call in calls.items():
        with pytest.raises(ValueError, match=f"{name.strip()}: expected an integer >= 0, got -"):
            call()


def test_samplers_draw_nothing_for_zero_steps(rng):
    esn_params = esn.init(rng, 1, 20)
    readout = {"W_out": np.ones((1, 20)), "W_u": np.ones((1, 1)), "b_out": np.zeros(1)}
    y, x = esn.generate(esn_params, readout, np.zeros((2, 1)), np.zeros((2, 20)), 0, 1.0)
    assert y.shape == (0, 2, 1) and x.shape == (0, 2, 20)
    assert ar.generate({"c": 0.0, "phi": np.array([0.5])}, np.ones(3), 0).shape == (0,)
    task = CharLM(Settings(hidden=8, embed=4, dtype="float64"), "\nab")
    assert task.sample(task.init_params(rng), rng, length=0, prime="ab") == "ab"


def test_a_number_of_steps_is_an_integer():
    with pytest.raises(ValueError, match="steps: expected an integer >= 0, got 2.5"):
        ar.generate({"c": 0.0, "phi": np.array([0.5])}, np.ones(3), 2.5)


@pytest.mark.parametrize("n", [0, 1])
def test_charlm_loss_needs_a_character_to_predict(rng, n):
    """The mean over no predictions is 0 / 0: refused, not a ZeroDivisionError."""
    task = CharLM(Settings(hidden=8, embed=4, dtype="float64"), "\nab")
    with pytest.raises(ValueError, match=f"ids: expected at least 2 characters, got {n}"):
        task.loss(task.init_params(rng), np.zeros(n, np.int32))


def test_esn_readout_needs_a_row_to_fit(rng):
    """The ridge readout centres on the mean of the rows: no rows, no mean (NaN)."""
    with pytest.raises(ValueError, match=r"x: expected at least 1 row \(a state to fit "
                                         r"on\), got 0"):
        esn.fit_readout(np.zeros((0, 20)), np.zeros((0, 1)), 1e-3)
