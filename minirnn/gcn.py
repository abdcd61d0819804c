"""Graph convolutional networks (Kipf & Welling 2017) and the plain GNN update
(``docs/gcn.rst``).

Rows are nodes: features X (N, F), states H (N, D). A graph is a sparse (N, N)
matrix in CSR form (``CSR``), and the only sparse operation is A M (eq. 5).

The plain GNN update (separate self and neighbour weights, A the 0/1 adjacency)::

    h'_v = relu(h_v W_self + sum_{u in N(v)} h_u W_neigh),
    i.e. H' = relu(H W_self + A H W_neigh)                        (1)
    dP = dH' * relu'(P),  dW_self = H^T dP,  dW_neigh = (A H)^T dP,
    dH = dP W_self^T + A^T dP W_neigh^T                           (2)

The GCN, with the renormalisation trick::

    A~ = A + I,   d~_i = sum_j A~_ij                               (3)
    A^ = D~^-1/2 A~ D~^-1/2,   A^_ij = A~_ij / sqrt(d~_i d~_j)     (4)
    (A M)_i = sum_{k in row i} data_k M_{indices_k}               (5)
    H_{l+1} = relu(A^ dropout(H_l) W_l),  last layer no relu      (6)
    Z = A^ dropout(relu(A^ dropout(X) W_0)) W_1   (two layers)    (7)
    L = -(1/|V_L|) sum_{i in V_L} log softmax(Z_i)_{y_i}
        + (lambda/2) ||W_0||^2                                    (8)

Backward through one layer, P = A^ (H~ W) with H~ = dropout(H)::

    dP = dH_{l+1} * relu'(P),  S = A^T dP,
    dW = H~^T S,               dH~ = S W^T                        (9)
    dW_0 += lambda W_0                                            (10)
"""
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import checks
from .kernels import gcn as kernels
from .layers import (dropout_backward, dropout_forward, relu_backward, relu_forward,
                     softmax_cross_entropy)


# ----------------------------------------------------------------------- graphs

@dataclass(eq=False)
class CSR:
    """A sparse (rows, cols) matrix by rows: row i holds ``data[indptr[i]:indptr[i+1]]``
    in columns ``indices[indptr[i]:indptr[i+1]]`` (sorted)."""
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: tuple

    @classmethod
    def from_dense(cls, M):
        """The nonzeros of a dense 2-d array."""
        rows, cols = np.nonzero(M)
        return cls.from_entries(rows, cols, M[rows, cols], M.shape)

    @classmethod
    def from_entries(cls, rows, cols, values, shape):
        """The matrix with ``values[k]`` at (rows[k], cols[k]); entries sorted by row,
        then column. Repeated positions are kept as separate entries (they add up)."""
        order = np.lexsort((cols, rows))
        return cls(_row_pointers(rows, shape[0]), np.asarray(cols, np.int64)[order],
                   np.asarray(values)[order], tuple(shape))

    def rows(self):
        """The row of every stored entry (the coordinate CSR leaves implicit)."""
        return np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))

    @cached_property
    def _transpose_order(self):
        """Entry k of A.T is entry order[k] of A: sorted by column, then row."""
        return np.lexsort((self.rows(), self.indices))

    @cached_property
    def T(self):
        """The transpose, built once: the backward pass multiplies by it (eqs. 2, 9)."""
        order = self._transpose_order
        return CSR(_row_pointers(self.indices, self.shape[1]), self.rows()[order],
                   self.data[order], self.shape[::-1])

    def with_data(self, data):
        """The matrix with the same nonzero pattern and new values (dropout on sparse
        features); it shares the pattern's transpose order instead of sorting again."""
        other = CSR(self.indptr, self.indices, data, self.shape)
        other.__dict__["_transpose_order"] = self._transpose_order
        return other

    def astype(self, dtype):
        return CSR(self.indptr, self.indices, self.data.astype(dtype), self.shape)

    def todense(self):
        """The dense array, for small examples and tests."""
        dense = np.zeros(self.shape, self.data.dtype)
        np.add.at(dense, (self.rows(), self.indices), self.data)
        return dense


def _row_pointers(rows, n):
    """indptr (n + 1,) of a CSR whose entries lie in ``rows``: where each row starts."""
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr


def check_edges(edges, N):
    """edges (E, 2) of integer node ids in [0, N); returned as an int64 array."""
    edges = np.asarray(edges)
    if edges.ndim != 2 or edges.shape[1] != 2 or not np.issubdtype(edges.dtype, np.integer):
        raise ValueError(f"edges: expected an (E, 2) integer array of node pairs, got "
                         f"{edges.dtype} array of shape {edges.shape}")
    if edges.size and (edges.min() < 0 or edges.max() >= N):
        raise ValueError(f"edges: node ids must lie in [0, {N}) for a graph of {N} nodes, "
                         f"got [{edges.min()}, {edges.max()}]")
    return edges.astype(np.int64)


def adjacency(edges, N, dtype=np.float64):
    """The 0/1 adjacency A (N, N) of the undirected graph with ``edges`` (E, 2): each
    pair counts once whichever way round and however often it is listed. Self-loops
    are dropped: eq. (3) adds every node's loop back exactly once."""
    edges = check_edges(edges, N)
    pairs = np.unique(np.sort(edges, axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
    return CSR.from_entries(rows, cols, np.ones(rows.size, dtype), (N, N))


def normalized_adjacency(edges, N, dtype=np.float64):
    """A^ = D~^-1/2 (A + I) D~^-1/2 (eqs. 3-4), the renormalisation trick, as CSR."""
    A = adjacency(edges, N, dtype)
    rows = np.concatenate([np.repeat(np.arange(N), np.diff(A.indptr)), np.arange(N)])
    cols = np.concatenate([A.indices, np.arange(N)])                      # eq. (3): + I
    degree = np.diff(A.indptr) + 1.0                                      # eq. (3): d~
    values = 1.0 / np.sqrt(degree[rows] * degree[cols])                   # eq. (4)
    return CSR.from_entries(rows, cols, values.astype(dtype), (N, N))


def row_normalize(X):
    """Each feature row divided by its sum (rows that sum to 0 stay 0), as Kipf's code
    preprocesses bag-of-words features."""
    sums = X.sum(axis=1, keepdims=True)
    return np.divide(X, sums, out=np.zeros_like(X), where=sums != 0)


def propagate(A, M, device="cpu"):
    """A M (eq. 5) for A a CSR (N, N') and M (N', C), by the ``device`` kernel."""
    if device not in kernels.KERNELS:
        raise ValueError(f"device: expected one of {sorted(kernels.KERNELS)}, got {device!r}")
    checks.float_array("M", M, 2)
    checks.shape("M", M, (A.shape[1], None))               # the kernels check no bounds
    out = np.empty((A.shape[0], M.shape[1]), M.dtype)
    kernels.KERNELS[device](A.indptr, A.indices, A.data.astype(M.dtype, copy=False),
                            np.ascontiguousarray(M), out)
    return out


def _graph_inputs(A, H, W, name):
    """Checks of a layer's inputs: A a CSR whose columns are H's rows, H (N, D), dense
    or CSR, of W's dtype and input size, finite; ``name`` names H in the errors."""
    if not isinstance(A, CSR):
        raise ValueError(f"A: expected a minirnn.gcn.CSR (see normalized_adjacency), "
                         f"got {type(A).__name__}")
    values = H.data if isinstance(H, CSR) else H
    checks.float_array(name, values, 1 if isinstance(H, CSR) else 2, W.dtype)
    if H.shape != (A.shape[1], W.shape[0]):
        raise ValueError(f"{name}: expected shape ({A.shape[1]}, {W.shape[0]}) (nodes, "
                         f"features), got {H.shape}")
    checks.finite(name, values)


# -------------------------------------------------------------------------- GCN

def _dropout(H, p, rng):
    """Dropout on dense H, or on the stored values of a CSR H (Kipf's sparse dropout:
    zeros stay zero either way). Returns H~ and the mask."""
    if not isinstance(H, CSR):
        return dropout_forward(H, p, rng)
    values, mask = dropout_forward(H.data, p, rng)
    return H.with_data(values), mask


def _times(H, W, device, transpose=False):
    """H W (or H^T W), by BLAS for dense H, by the sparse kernel for a CSR H."""
    if isinstance(H, CSR):
        return propagate(H.T if transpose else H, W, device)
    return (H.T if transpose else H) @ W


def init(rng, sizes, dtype=np.float32):
    """Weights {W_0 (sizes[0], sizes[1]), W_1, ...}, one per layer, Glorot uniform
    (+-sqrt(6 / (fan_in + fan_out))) as in Kipf's code; no biases, as there."""
    params = {}
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        s = np.sqrt(6.0 / (fan_in + fan_out))
        params[f"W_{l}"] = rng.uniform(-s, s, (fan_in, fan_out)).astype(dtype)
    return params


def layer_names(params):
    """The names W_0, W_1, ... of the layers' weights, in order, after checking them:
    numbered from 0 without a gap, 2-d float arrays of one dtype, each reading the
    outputs of the one before. The layers are counted from the keys; any other key
    (W_01 included) is an error: this GCN has weights only, as Kipf's code."""
    names = sorted((k for k in params if re.fullmatch(r"W_(0|[1-9]\d*)", k)),
                   key=lambda k: int(k[2:]))
    others = sorted(k for k in params if k not in names)
    if others:
        raise ValueError(f"params: unexpected key(s) {others}: a GCN's only parameters are "
                         f"its layers' weights W_0, W_1, ... (no biases, as in Kipf's code)")
    if not names:
        raise ValueError("params: expected the layers' weights W_0, W_1, ..., got none")
    gaps = [f"W_{l}" for l in range(int(names[-1][2:]) + 1) if f"W_{l}" not in params]
    if gaps:
        raise ValueError(f"params: has {', '.join(names)} but no {', '.join(gaps)} (the "
                         f"layers' weights are W_0, W_1, ..., numbered without a gap)")
    checks.parameters(params, **{k: (None, None) for k in names})
    for before, name in zip(names, names[1:]):
        checks.shape(name, params[name], (params[before].shape[1], None))
    return names


def forward(params, A_hat, X, dropout=0.0, rng=None, device="cpu"):
    """Logits Z (N, C) of a GCN with layers W_0, W_1, ... over the graph A_hat (eq. 6);
    as many layers as params has weights (see ``layer_names``).

    X (N, F) is dense or a CSR (sparse bag-of-words features, as Kipf's code keeps
    them). Dropout with rate ``dropout`` is applied to every layer's input when ``rng``
    is given (training), not otherwise (evaluation). Returns Z and the cache.
    """
    names = layer_names(params)
    _graph_inputs(A_hat, X, params["W_0"], "X")
    H, layers = X, []
    last = len(names) - 1
    for l in range(len(names)):
        H_drop, mask = _dropout(H, dropout, rng)
        # BEGIN SOLUTION eq. (6) of docs/gcn.rst: one layer, P and H
        P = propagate(A_hat, _times(H_drop, params[f"W_{l}"], device), device)  # eq. (6)
        H, relu_cache = relu_forward(P) if l < last else (P, None)
        # END SOLUTION
        layers.append((H_drop, mask, relu_cache))
    return H, (params, A_hat, layers, device)


def backward(dZ, cache, weight_decay=0.0):
    """dL/dZ (N, C) -> dX (N, F) and grads {W_l}; ``weight_decay`` lambda adds the
    gradient of (lambda/2) ||W_0||^2 (eq. 10). Runs the layers of eq. 9 top down.
    dX is None for CSR features (nothing upstream of them to train)."""
    params, A_hat, layers, device = cache
    checks.shape("dZ", dZ, (A_hat.shape[0], params[f"W_{len(layers) - 1}"].shape[1]))
    grads, dH = {}, dZ
    for l in reversed(range(len(layers))):
        H_drop, mask, relu_cache = layers[l]
        dP = dH if relu_cache is None else relu_backward(dH, relu_cache)
        # BEGIN SOLUTION eq. (9) of docs/gcn.rst: S and the gradient of W_l
        S = propagate(A_hat.T, dP, device)                                # eq. (9)
        grads[f"W_{l}"] = _times(H_drop, S, device, transpose=True)
        # END SOLUTION
        if l == 0 and isinstance(H_drop, CSR):
            return None, _with_decay(grads, params, weight_decay)
        dH = dropout_backward(S @ params[f"W_{l}"].T, mask)
    return dH, _with_decay(grads, params, weight_decay)


def _with_decay(grads, params, weight_decay):
    """grads in the order of params, with the weight decay's lambda W_0 (eq. 10) added."""
    grads["W_0"] += weight_decay * params["W_0"]                          # eq. (10)
    return {k: grads[k] for k in params}


def loss(params, Z, labels, nodes, weight_decay=0.0):
    """Eq. (8): mean cross-entropy of Z over the labelled ``nodes`` plus
    (weight_decay/2) ||W_0||^2. Returns (L, dL/dZ); backward adds the decay's gradient."""
    checks.parameters(params, W_0=(None, None))
    ce, dz = softmax_cross_entropy(Z[nodes], labels[nodes])
    dZ = np.zeros_like(Z)
    dZ[nodes] = dz
    W_0 = params["W_0"]
    return ce + 0.5 * weight_decay * float((W_0.astype(np.float64) ** 2).sum()), dZ


def accuracy(Z, labels, nodes):
    """Fraction of ``nodes`` whose largest logit is their label."""
    if not np.size(nodes):                  # a mean over no nodes: NaN and a warning
        raise ValueError("nodes: expected at least one node to score, got none")
    return float((Z[nodes].argmax(axis=1) == labels[nodes]).mean())


def loss_and_grads(params, A_hat, X, labels, nodes, dropout=0.0, weight_decay=0.0,
                   rng=None, device="cpu"):
    """One training pass: forward (eq. 7), loss (eq. 8), backward (eqs. 9-10).
    Returns (L, grads, Z)."""
    Z, cache = forward(params, A_hat, X, dropout, rng, device)
    L, dZ = loss(params, Z, labels, nodes, weight_decay)
    _, grads = backward(dZ, cache, weight_decay)
    return L, grads, Z


# --------------------------------------------------------------------- plain GNN

def gnn_init(rng, D, H, dtype=np.float32):
    """{W_self (D, H), W_neigh (D, H)}, Glorot uniform."""
    s = np.sqrt(6.0 / (D + H))
    return {"W_self": rng.uniform(-s, s, (D, H)).astype(dtype),
            "W_neigh": rng.uniform(-s, s, (D, H)).astype(dtype)}


def gnn_forward(params, A, H, activation=True, device="cpu"):
    """One plain GNN update (eq. 1) over the 0/1 adjacency A (see ``adjacency``):
    H (N, D) -> H' (N, H_out); ``activation=False`` leaves out the relu."""
    D, D_out = checks.parameter_shape(params, "W_self", 2)
    checks.parameters(params, W_self=(D, D_out), W_neigh=(D, D_out))
    W_self, W_neigh = params["W_self"], params["W_neigh"]
    _graph_inputs(A, H, W_self, "H")
    AH = propagate(A, H, device)                                          # eq. (1)
    P = H @ W_self + AH @ W_neigh
    out, relu_cache = relu_forward(P) if activation else (P, None)
    return out, (params, A, H, AH, relu_cache, device)


def gnn_backward(dout, cache):
    """dL/dH' -> dH (N, D) and grads {W_self, W_neigh} (eq. 2)."""
    params, A, H, AH, relu_cache, device = cache
    checks.shape("dout", dout, (H.shape[0], params["W_self"].shape[1]))
    dP = dout if relu_cache is None else relu_backward(dout, relu_cache)
    grads = {"W_self": H.T @ dP, "W_neigh": AH.T @ dP}                     # eq. (2)
    dH = dP @ params["W_self"].T + propagate(A.T, dP @ params["W_neigh"].T, device)
    return dH, grads
