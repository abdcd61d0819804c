"""minirnn.gcn against dense NumPy references written from the equations, gradient
checks, and the errors bad input gets."""
import numpy as np
import pytest

from minirnn import gcn
from minirnn.gradcheck import PROBLEMS, check
from tests.reference import gcn as ref

# pairs {0,1} {1,2} {0,2} {3,4} {2,6}, listed both ways and repeated, one self-edge (5);
# node 7 is isolated
EDGES = np.array([[0, 1], [1, 2], [2, 0], [3, 4], [1, 0], [5, 5], [4, 3], [6, 2], [2, 6]])
N = 8


def sparse_features(rng, N, F):
    """Bag-of-words-like features: mostly zeros, row 3 all zero."""
    X = rng.random((N, F)) * (rng.random((N, F)) < 0.4)
    X[3] = 0.0
    return X


def test_adjacency_counts_each_pair_once():
    A = gcn.adjacency(EDGES, N)
    assert np.array_equal(A.todense(), ref.adjacency_dense(EDGES, N))
    assert A.data.size == 2 * 5


def test_normalized_adjacency_equals_dense_formula():
    A_hat = gcn.normalized_adjacency(EDGES, N)
    assert np.allclose(A_hat.todense(), ref.normalized_adjacency_dense(EDGES, N),
                       rtol=1e-15, atol=0)
    assert A_hat.todense()[7, 7] == 1.0               # isolated: only its own loop, 1/sqrt(1*1)
    assert A_hat.todense()[0, 1] == 1 / 3             # degrees 2 + 1 and 2 + 1


def test_csr_product_and_transpose_equal_dense(rng):
    M = rng.standard_normal((5, 3))
    A = gcn.CSR.from_dense(sparse_features(rng, 7, 5))
    assert np.allclose(gcn.propagate(A, M), A.todense() @ M, rtol=1e-14, atol=1e-15)
    assert np.array_equal(A.T.todense(), A.todense().T)
    G = rng.standard_normal((7, 2))
    assert np.allclose(gcn.propagate(A.T, G), A.todense().T @ G, rtol=1e-14, atol=1e-15)
    # the same pattern with new values keeps a correct transpose
    B = A.with_data(2 * A.data)
    assert np.array_equal(B.T.todense(), 2 * A.todense().T)


@pytest.mark.parametrize("sparse", [False, True])
def test_two_layer_gcn_equals_reference(rng, sparse):
    F, H, C = 6, 4, 3
    X = sparse_features(rng, N, F)
    A_hat = gcn.normalized_adjacency(EDGES, N)
    params = gcn.init(rng, [F, H, C], np.float64)
    labels, nodes = rng.integers(0, C, N), np.array([0, 3, 5, 7])
    L, grads, Z = gcn.loss_and_grads(params, A_hat, gcn.CSR.from_dense(X) if sparse else X,
                                     labels, nodes, weight_decay=0.3)
    A_dense = ref.normalized_adjacency_dense(EDGES, N)
    L_ref, dW_0, dW_1, Z_ref = ref.gcn_two_layers(
        params["W_0"], params["W_1"], lambda M: A_dense @ M, lambda W: X @ W,
        lambda G: X.T @ G, labels, nodes, weight_decay=0.3)
    assert np.allclose(Z, Z_ref, rtol=1e-13, atol=1e-15)
    assert abs(L - L_ref) < 1e-13
    assert np.allclose(grads["W_0"], dW_0, rtol=1e-12, atol=1e-15)
    assert np.allclose(grads["W_1"], dW_1, rtol=1e-12, atol=1e-15)


def test_reduceat_reference_equals_dense(rng):
    """The benchmark's NumPy CSR product (with empty rows) is right too."""
    X = sparse_features(rng, N, 5)
    A = gcn.CSR.from_dense(X)
    M = rng.standard_normal((5, 3))
    assert np.allclose(ref.csr_matmul(A.indptr, A.indices, A.data, M), X @ M, atol=1e-15)


def test_dropout_is_off_without_rng_and_scales_with_it(rng):
    A_hat = gcn.normalized_adjacency(EDGES, N)
    params = gcn.init(rng, [4, 3, 2], np.float64)
    X = rng.standard_normal((N, 4))
    Z_eval, _ = gcn.forward(params, A_hat, X, dropout=0.5)
    Z_plain, _ = gcn.forward(params, A_hat, X)
    assert np.array_equal(Z_eval, Z_plain)
    Z_train, cache = gcn.forward(params, A_hat, X, dropout=0.5, rng=rng)
    mask = cache[2][0][1]
    assert set(np.unique(mask)) <= {0.0, 2.0} and not np.array_equal(Z_train, Z_eval)


def test_gnn_update_equals_neighbour_sums(rng):
    A = gcn.adjacency(EDGES, N)
    params = gcn.gnn_init(rng, 3, 4, np.float64)
    H = rng.standard_normal((N, 3))
    for relu in (True, False):
        out, _ = gcn.gnn_forward(params, A, H, activation=relu)
        want = ref.gnn_dense(params["W_self"], params["W_neigh"], ref.adjacency_dense(EDGES, N),
                             H, relu)
        assert np.allclose(out, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", ["gcn", "gnn"])
def test_gradients_match_centred_differences(name):
    errors = check(*PROBLEMS[name](np.random.default_rng(0)))
    assert max(errors.values()) <= 1e-6, errors


def test_row_normalize_divides_by_sums_and_keeps_zero_rows():
    X = np.array([[1.0, 3.0], [0.0, 0.0], [2.0, 2.0]])
    assert np.array_equal(gcn.row_normalize(X), [[0.25, 0.75], [0.0, 0.0], [0.5, 0.5]])


def test_glorot_range_and_shapes(rng):
    params = gcn.init(rng, [1433, 16, 7])
    assert params["W_0"].shape == (1433, 16) and params["W_1"].shape == (16, 7)
    assert params["W_0"].dtype == np.float32
    bound = np.sqrt(6 / (1433 + 16))
    assert np.abs(params["W_0"]).max() <= bound and np.abs(params["W_0"]).max() > 0.95 * bound


@pytest.mark.parametrize("edges, message", [
    (np.array([[0, 1, 2]]), r"edges: expected an \(E, 2\) integer array"),
    (np.array([[0.0, 1.0]]), r"edges: expected an \(E, 2\) integer array"),
    (np.array([[0, 8]]), r"node ids must lie in \[0, 8\)"),
    (np.array([[-1, 2]]), r"node ids must lie in \[0, 8\)"),
])
def test_bad_edges_are_named(edges, message):
    with pytest.raises(ValueError, match=message):
        gcn.normalized_adjacency(edges, N)


def test_bad_inputs_are_named(rng):
    A_hat = gcn.normalized_adjacency(EDGES, N)
    params = gcn.init(rng, [4, 3, 2], np.float64)
    X = rng.standard_normal((N, 4))
    with pytest.raises(ValueError, match=r"X: expected shape \(8, 4\)"):
        gcn.forward(params, A_hat, X[:5])
    with pytest.raises(ValueError, match=r"X: expected dtype float64, got float32"):
        gcn.forward(params, A_hat, X.astype(np.float32))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X: non-finite value nan at index \(2, 1\)"):
        gcn.forward(params, A_hat, X)
    with pytest.raises(ValueError, match=r"A: expected a minirnn.gcn.CSR"):
        gcn.forward(params, A_hat.todense(), X)
    with pytest.raises(ValueError, match=r"device: expected one of \['cpu', 'cuda'\]"):
        gcn.forward(params, A_hat, rng.standard_normal((N, 4)), device="tpu")
    _, cache = gcn.forward(params, A_hat, rng.standard_normal((N, 4)))
    with pytest.raises(ValueError, match=r"dZ: expected shape \(8, 2\)"):
        gcn.backward(np.zeros((N, 3)), cache)


def test_accuracy_counts_hits_and_refuses_no_nodes():
    Z = np.array([[2.0, 1.0], [0.0, 3.0], [5.0, 4.0]])          # predicts 0, 1, 0
    labels = np.array([0, 0, 0])
    assert gcn.accuracy(Z, labels, np.array([0, 1, 2])) == 2 / 3
    with pytest.raises(ValueError, match="nodes: expected at least one node"):
        gcn.accuracy(Z, labels, np.array([], int))     # was NaN and a RuntimeWarning
