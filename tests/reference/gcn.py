"""Plain NumPy GCN, written from Kipf & Welling's equations (docs/gcn.rst) without
minirnn: dense matrices for the tests, and a CSR product by ``np.add.reduceat`` for the
NumPy baseline of benchmarks/gcn.py."""
import numpy as np


def adjacency_dense(edges, N):
    """0/1 symmetric adjacency, no self-loops, each undirected pair once."""
    A = np.zeros((N, N))
    for i, j in edges:
        if i != j:
            A[i, j] = A[j, i] = 1.0
    return A


def normalized_adjacency_dense(edges, N):
    """D~^-1/2 (A + I) D~^-1/2 with D~ the diagonal of the row sums of A + I."""
    A_tilde = adjacency_dense(edges, N) + np.eye(N)
    D_inv_sqrt = np.diag(1.0 / np.sqrt(A_tilde.sum(axis=1)))
    return D_inv_sqrt @ A_tilde @ D_inv_sqrt


def gnn_dense(W_self, W_neigh, A, H, relu=True):
    """h'_v = h_v W_self + (sum over the neighbours u of v of h_u) W_neigh, node by node."""
    out = np.empty((H.shape[0], W_self.shape[1]))
    for v in range(H.shape[0]):
        neighbours = np.flatnonzero(A[v])
        out[v] = H[v] @ W_self + H[neighbours].sum(axis=0) @ W_neigh
    return np.maximum(out, 0) if relu else out


def csr_matmul(indptr, indices, data, M):
    """A M for A in CSR, row sums of the scaled rows of M by np.add.reduceat."""
    out = np.zeros((indptr.size - 1, M.shape[1]), M.dtype)
    if data.size == 0:
        return out
    starts = np.minimum(indptr[:-1], data.size - 1)
    sums = np.add.reduceat(data[:, None] * M[indices], starts, axis=0)
    filled = np.diff(indptr) > 0                   # reduceat gives junk for empty rows
    out[filled] = sums[filled]
    return out


def gcn_two_layers(W_0, W_1, matmul_A, matmul_X, matmul_XT, labels, nodes,
                   weight_decay=0.0, masks=(1.0, 1.0)):
    """Loss of eq. (6) and its gradients for Z = A^ (m_1 * relu(A^ ((m_0 * X) W_0))) W_1.

    The products are passed in as functions (dense or CSR): matmul_A(M) = A^ M (A^ is
    symmetric, so it also serves A^T), matmul_X(W) = (m_0 * X) W, matmul_XT(G) =
    (m_0 * X)^T G; masks = (m_0, m_1) are dropout masks already scaled by 1/(1-p) (the
    first one is applied by the caller through matmul_X). Returns L, dW_0, dW_1, Z.
    """
    P_0 = matmul_A(matmul_X(W_0))
    H = np.maximum(P_0, 0) * masks[1]
    Z = matmul_A(H @ W_1)
    shifted = Z[nodes] - Z[nodes].max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(nodes)
    L = -log_p[np.arange(n), labels[nodes]].mean() + 0.5 * weight_decay * (W_0 ** 2).sum()
    dZ = np.zeros_like(Z)
    dZ[nodes] = np.exp(log_p)
    dZ[nodes, labels[nodes]] -= 1.0
    dZ /= n
    S_1 = matmul_A(dZ)
    dW_1 = H.T @ S_1
    dP_0 = (S_1 @ W_1.T) * masks[1] * (P_0 > 0)
    dW_0 = matmul_XT(matmul_A(dP_0)) + weight_decay * W_0
    return L, dW_0, dW_1, Z
