"""Each layer's forward against a direct formula, each backward against centred differences."""
import numpy as np
import pytest

from minirnn import layers
from minirnn.gradcheck import check, numerical_gradient, rel_error


def test_embedding_looks_up_rows_and_sums_repeated_ids(rng):
    E = rng.standard_normal((5, 3))
    idx = np.array([[0, 4], [4, 2]])
    out, cache = layers.embedding_forward(E, idx)
    assert np.array_equal(out[1, 0], E[4])
    dout = rng.standard_normal(out.shape)
    dE = layers.embedding_backward(dout, cache)
    assert np.allclose(dE[4], dout[0, 1] + dout[1, 0])
    assert np.allclose(dE[[1, 3]], 0)
    assert rel_error(dE, numerical_gradient(lambda: (layers.embedding_forward(E, idx)[0] * dout).sum(), E)) < 1e-8


def test_affine_gradients_on_time_major_input(rng):
    x, W, b = rng.standard_normal((4, 3, 5)), rng.standard_normal((5, 2)), rng.standard_normal(2)
    dout = rng.standard_normal((4, 3, 2))

    def f():
        out, cache = layers.affine_forward(x, W, b)
        dx, dW, db = layers.affine_backward(dout, cache)
        return (out * dout).sum(), {"x": dx, "W": dW, "b": db}
    assert max(check(f, {"x": x, "W": W, "b": b}).values()) < 1e-8


def naive_cross_entropy(z, y, mask):
    """Textbook formula with no shift: fine for small logits."""
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    nll = -np.log(np.take_along_axis(p, y[..., None], -1)[..., 0])
    return (nll * mask).sum() / mask.sum()


def test_softmax_cross_entropy_matches_formula_and_gradient(rng):
    z = rng.standard_normal((6, 4, 7))
    y = rng.integers(0, 7, (6, 4))
    mask = (rng.random((6, 4)) < 0.7).astype(float)
    loss, dz = layers.softmax_cross_entropy(z, y, mask)
    assert loss == pytest.approx(naive_cross_entropy(z, y, mask), rel=1e-12)
    assert np.all(dz[mask == 0] == 0)
    num = numerical_gradient(lambda: layers.softmax_cross_entropy(z, y, mask)[0], z)
    assert rel_error(dz, num) < 1e-8


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0]])
    loss, dz = layers.softmax_cross_entropy(z, np.array([1]))
    assert loss == pytest.approx(1000.0)
    assert np.all(np.isfinite(dz)) and dz[0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
def test_activation_gradients(rng, name):
    x = rng.standard_normal((3, 4))
    x[np.abs(x) < 1e-3] = 0.5          # keep clear of relu's kink
    fwd, bwd = getattr(layers, name + "_forward"), getattr(layers, name + "_backward")
    dout = rng.standard_normal(x.shape)
    out, cache = fwd(x)
    num = numerical_gradient(lambda: (fwd(x)[0] * dout).sum(), x)
    assert rel_error(bwd(dout, cache), num) < 1e-8


def test_sigmoid_matches_formula_without_overflow():
    x = np.array([-800.0, -3.0, 0.0, 2.0, 800.0])
    with np.errstate(over="raise"):
        out, _ = layers.sigmoid_forward(x)
    assert np.allclose(out[1:4], 1 / (1 + np.exp(-x[1:4])))
    assert out[0] == 0.0 and out[-1] == 1.0


def test_dropout_keeps_expectation_and_routes_gradient(rng):
    x = np.ones((200, 100))
    out, cache = layers.dropout_forward(x, 0.3, rng)
    assert set(np.unique(out)) == {0.0, 1 / 0.7}
    assert abs(out.mean() - 1) < 0.02                     # E[out] = x
    assert np.array_equal(layers.dropout_backward(np.ones_like(x), cache), out)
    same, none = layers.dropout_forward(x, 0.3, None)    # evaluation: identity
    assert same is x and layers.dropout_backward(x, none) is x


def test_word_dropout_drops_whole_vectors(rng):
    x = rng.standard_normal((50, 40, 6)) + 3            # no entry is 0 by chance
    out, cache = layers.dropout_forward(x, 0.25, rng, shape=(50, 40, 1))
    dropped = (out == 0).all(axis=2)
    assert np.array_equal(dropped, (out == 0).any(axis=2))     # all of a vector or none
    assert abs(dropped.mean() - 0.25) < 0.03
    assert np.allclose(out[~dropped], x[~dropped] / 0.75)
    assert np.array_equal(layers.dropout_backward(np.ones_like(x), cache) * x, out)


def test_pooling_matches_per_sequence_numpy(rng):
    h = rng.standard_normal((6, 4, 3))
    lengths = np.array([6, 1, 0, 3])
    mean, _ = layers.mean_pool_forward(h, lengths)
    top, _ = layers.max_pool_forward(h, lengths)
    for b, L in enumerate(lengths):
        want_mean = h[:L, b].mean(0) if L else np.zeros(3)
        want_max = h[:L, b].max(0) if L else np.zeros(3)
        assert np.allclose(mean[b], want_mean) and np.allclose(top[b], want_max)


@pytest.mark.parametrize("kind", ["mean", "max"])
def test_pooling_gradients(rng, kind):
    h = rng.standard_normal((5, 3, 4))
    lengths = np.array([5, 2, 0])
    fwd, bwd = getattr(layers, kind + "_pool_forward"), getattr(layers, kind + "_pool_backward")
    dout = rng.standard_normal((3, 4))

    def f():
        out, cache = fwd(h, lengths)
        return float((out * dout).sum()), {"h": bwd(dout, cache)}
    assert check(f, {"h": h})["h"] < 1e-8
