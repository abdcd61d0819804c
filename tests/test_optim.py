"""Optimizers against their published update rules, written out by hand."""
import numpy as np
import pytest

from minirnn import optim


def test_adam_follows_kingma_ba_algorithm_1(rng):
    theta0 = rng.standard_normal(4)
    grads_seq = [rng.standard_normal(4) for _ in range(3)]
    params, state = {"w": theta0.copy()}, {}
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    m = v = np.zeros(4)
    theta = theta0.copy()
    for t, g in enumerate(grads_seq, start=1):
        optim.adam(params, {"w": g.copy()}, state, lr)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        theta = theta - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    assert np.allclose(params["w"], theta, rtol=1e-12, atol=0)
    assert int(state["t"]) == 3


def test_adam_first_step_moves_each_weight_by_lr():
    params = {"w": np.array([1.0, -2.0])}
    optim.adam(params, {"w": np.array([0.3, -50.0])}, {}, lr=0.1)
    assert np.allclose(params["w"], [0.9, -1.9])        # m/sqrt(v) = sign(g) at t = 1


def test_sgd_momentum_matches_recursion():
    params, state = {"w": np.array([1.0])}, {}
    for g in (1.0, 2.0):
        optim.sgd(params, {"w": np.array([g])}, state, lr=0.1, momentum=0.5)
    # v1 = -0.1, w1 = 0.9; v2 = 0.5 * -0.1 - 0.2 = -0.25, w2 = 0.65
    assert params["w"][0] == pytest.approx(0.65)


def test_clip_global_norm_scales_all_arrays_together():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    norm = optim.clip_global_norm(grads, 1.0)
    assert norm == pytest.approx(5.0)
    assert np.allclose(grads["a"], [0.6, 0]) and np.allclose(grads["b"], [[0.8]])
    assert optim.clip_global_norm(grads, 10.0) == pytest.approx(1.0)
    assert np.allclose(grads["a"], [0.6, 0])            # under the bound: unchanged
