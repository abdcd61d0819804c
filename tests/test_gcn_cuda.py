"""The GCN's CUDA sparse x dense kernel equals the CPU kernel (simulator here; a real
GPU where lent), alone, in its transposed use, and inside a GCN and a GNN layer."""
import numpy as np
import pytest

from minirnn import gcn
from minirnn.gradcheck import rel_error

pytestmark = pytest.mark.cudasim


def graph(rng, N=6, E=9):
    return rng.integers(0, N, (E, 2)), N


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_spmm_and_its_transpose_equal_cpu(rng, dtype):
    X = rng.random((5, 7)) * (rng.random((5, 7)) < 0.5)
    X[2] = 0.0                                          # an empty row
    A = gcn.CSR.from_dense(X.astype(dtype))
    M, G = rng.standard_normal((7, 3)).astype(dtype), rng.standard_normal((5, 3)).astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert rel_error(gcn.propagate(A, M, "cuda"), gcn.propagate(A, M, "cpu")) < tol
    assert rel_error(gcn.propagate(A.T, G, "cuda"), gcn.propagate(A.T, G, "cpu")) < tol


def test_gcn_and_gnn_on_cuda_equal_cpu(rng):
    edges, N = graph(rng)
    A_hat, A = gcn.normalized_adjacency(edges, N), gcn.adjacency(edges, N)
    params = gcn.init(rng, [4, 3, 2], np.float64)
    X = rng.standard_normal((N, 4))
    labels, nodes = rng.integers(0, 2, N), np.array([0, 1, 4])
    runs = [gcn.loss_and_grads(params, A_hat, X, labels, nodes, 0.5, 0.1,
                               np.random.default_rng(7), device) for device in ("cpu", "cuda")]
    assert abs(runs[0][0] - runs[1][0]) < 1e-12
    for k in params:
        assert rel_error(runs[0][1][k], runs[1][1][k]) < 1e-12
    gnn = gcn.gnn_init(rng, 4, 3, np.float64)
    (out_c, cache_c), (out_g, cache_g) = (gcn.gnn_forward(gnn, A, X, device=d) for d in ("cpu", "cuda"))
    assert rel_error(out_g, out_c) < 1e-12
    dout = rng.standard_normal(out_c.shape)
    (dH_c, g_c), (dH_g, g_g) = gcn.gnn_backward(dout, cache_c), gcn.gnn_backward(dout, cache_g)
    assert rel_error(dH_g, dH_c) < 1e-12
    assert all(rel_error(g_g[k], g_c[k]) < 1e-12 for k in g_c)
