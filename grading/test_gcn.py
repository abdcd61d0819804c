"""Graded: the graph convolutional network (docs/gcn.rst) against dense NumPy matrices
(tests/reference/gcn.py) and finite differences of them."""
import numpy as np

from minirnn.grade import check_close, check_gradients, graded
from tests.reference.gcn import gcn_two_layers, normalized_adjacency_dense

N, F, H, C = 7, 5, 4, 3
EDGES = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 4], [1, 5], [2, 2]])
LABELS, NODES = np.array([0, 1, 2, 0, 1, 2, 0]), np.array([0, 2, 3, 6])
WEIGHT_DECAY = 0.1


def problem(seed):
    """Weights {W_0 (F, H), W_1 (H, C)} and features X (N, F)."""
    rng = np.random.default_rng(seed)
    return {"W_0": rng.standard_normal((F, H)), "W_1": rng.standard_normal((H, C)),
            "X": rng.standard_normal((N, F))}


def run(arrays):
    """The submission's logits Z and its gradients {W_0, W_1, X} of the loss (eq. 8)."""
    from minirnn import gcn
    params = {"W_0": arrays["W_0"], "W_1": arrays["W_1"]}
    Z, cache = gcn.forward(params, gcn.normalized_adjacency(EDGES, N), arrays["X"])
    _, dZ = gcn.loss(params, Z, LABELS, NODES, weight_decay=WEIGHT_DECAY)
    dX, grads = gcn.backward(dZ, cache, weight_decay=WEIGHT_DECAY)
    return Z, {**grads, "X": dX}


def reference(arrays):
    """Loss, dW_0, dW_1 and Z of the dense two-layer GCN."""
    A_hat = normalized_adjacency_dense(EDGES, N)
    X = arrays["X"]
    return gcn_two_layers(arrays["W_0"], arrays["W_1"], lambda M: A_hat @ M, lambda W: X @ W,
                          lambda G: X.T @ G, LABELS, NODES, WEIGHT_DECAY)


@graded(points=2)
def test_forward():
    """forward: logits Z = A^ relu(A^ X W_0) W_1 (eq. 6) against dense matrices"""
    arrays = problem(0)
    check_close("Z (N, C)", run(arrays)[0], reference(arrays)[3])


@graded(points=3)
def test_backward():
    """backward: dL/dW_0 and dL/dW_1 (eqs. 9-10, weight decay 0.1) against dense matrices"""
    arrays = problem(1)
    _, dW_0, dW_1, _ = reference(arrays)
    check_gradients(run(arrays)[1], {"W_0": dW_0, "W_1": dW_1})
