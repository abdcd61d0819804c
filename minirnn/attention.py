"""Attention (``docs/attention.rst``): each query reads a weighted average of values,
weighted by how well it matches each key.

Scaled dot-product attention, for query i and key j of batch row b, d the key size::

    s_ij = q_i . k_j / sqrt(d)                                          (1)
    V_i  = {j < l_b}, and j <= i too when causal                        (2)
    a_ij = exp(s_ij) / sum_{k in V_i} exp(s_ik) for j in V_i, else 0;
           a_i = 0 when V_i is empty (all keys masked)                  (3)
    o_i  = sum_j a_ij v_j                                               (4)

Backward, from dL/do (the softmax Jacobian J = diag(a_i) - a_i^T a_i per row)::

    da_ij = do_i . v_j,            dv_j = sum_i a_ij do_i               (5)
    dq_i = sum_j ds_ij k_j / sqrt(d),  dk_j = sum_i ds_ij q_i / sqrt(d) (6)
    ds_ij = a_ij (da_ij - sum_k a_ik da_ik)          (ds_i = J^T da_i)   (7)

Additive (Bahdanau) attention scores query and key with a one-layer network::

    u_ij = tanh(q_i W_q + k_j W_k),   e_ij = u_ij . w                   (8)
    du_ij = de_ij w * (1 - u_ij^2);  dW_q = sum_i q_i^T sum_j du_ij,
    dW_k = sum_j k_j^T sum_i du_ij,  dw = sum_ij de_ij u_ij             (9)

and e replaces s in (2)-(7). Multi-head self-attention over x (T, B, E), h heads of
size E / h::

    Q = x W_q + b_q,  K = x W_k + b_k,  V = x W_v + b_v                  (10)
    head_r = attention(Q_r, K_r, V_r), Q_r the r-th block of E/h columns (11)
    y = [head_1 | ... | head_h] W_o + b_o                               (12)

Arrays are time-major: q (Tq, B, d), k (Tk, B, d), v (Tk, B, d_v); ``lengths`` (B,)
counts each row's valid keys. Weights A come back batch-first, (B, Tq, Tk) or
(B, h, Tq, Tk). The same numbers in ``torch.nn.MultiheadAttention(E, h)``:
in_proj_weight = [W_q | W_k | W_v].T, in_proj_bias = [b_q | b_k | b_v],
out_proj.weight = W_o.T, out_proj.bias = b_o (``docs/attention.rst``).

The masked softmax (2, 3) and its backward (7) are kernels in
``minirnn/kernels/attention.py``; the products around them are batched GEMMs here.
"""
import numpy as np

from . import checks
from .kernels import attention as kernels


# ------------------------------------------------------------------------ checks

def _inputs(q, k, v, lengths, device):
    """Check q (Tq, B, d), k (Tk, B, d_k), v (Tk, B, d_v) and return lengths (B,)."""
    checks.float_array("q", q, 3)
    checks.float_array("k", k, 3, q.dtype)
    checks.float_array("v", v, 3, q.dtype)
    Tq, B, _ = q.shape
    checks.shape("k", k, (None, B, None))
    checks.shape("v", v, (k.shape[0], B, None))
    for name, x in (("q", q), ("k", k), ("v", v)):
        checks.finite(name, x)
    if device not in kernels.KERNELS:
        raise ValueError(f"device: expected one of {sorted(kernels.KERNELS)}, got {device!r}")
    return checks.lengths(lengths, B, k.shape[0])


def _batch_first(x):
    """(T, B, ...) -> contiguous (B, T, ...)."""
    return np.ascontiguousarray(np.swapaxes(x, 0, 1))


# ----------------------------------------------- shared: masked softmax and mixing

def _mix(scores, v, lengths, causal, device):
    """Weights A = masked softmax of scores (N, Tq, Tk) (eqs. 2-3) and the mix A v
    (eq. 4) of v (N, Tk, d_v), all batch-first."""
    A = np.empty_like(scores)
    kernels.KERNELS[device][0](scores, lengths, causal, A)
    return A @ v, A


def _mix_backward(dout, A, v, device):
    """Gradients of the scores (eq. 7) and of v (eq. 5) from dout (N, Tq, d_v)."""
    dA = dout @ np.swapaxes(v, 1, 2)                                # eq. (5)
    dv = np.swapaxes(A, 1, 2) @ dout
    ds = np.empty_like(A)
    kernels.KERNELS[device][1](A, np.ascontiguousarray(dA), ds)     # eq. (7)
    return ds, dv


def _dot_product(q, k, v, lengths, causal, device):
    """Eqs. (1)-(4) on batch-first q (N, Tq, d), k (N, Tk, d), v (N, Tk, d_v)."""
    # BEGIN SOLUTION eq. (1) of docs/attention.rst: the scaled scores
    scale = 1.0 / np.sqrt(q.shape[2])
    scores = (q @ np.swapaxes(k, 1, 2)) * q.dtype.type(scale)       # eq. (1)
    # END SOLUTION
    out, A = _mix(scores, v, lengths, causal, device)
    return out, A, (q, k, v, A, scale, device)


def _dot_product_backward(dout, cache):
    """dq, dk, dv (batch-first) from dout (N, Tq, d_v), eqs. (5)-(7)."""
    q, k, v, A, scale, device = cache
    ds, dv = _mix_backward(dout, A, v, device)
    ds *= q.dtype.type(scale)
    return ds @ k, np.swapaxes(ds, 1, 2) @ q, dv                    # eq. (6)


# ------------------------------------------------------------- dot-product attention

def dot_product_forward(q, k, v, lengths=None, causal=False, device="cpu"):
    """Scaled dot-product attention, eqs. (1)-(4).

    q (Tq, B, d), k (Tk, B, d), v (Tk, B, d_v); ``lengths`` (B,) keeps keys j < lengths[b]
    (the rest is padding); ``causal`` also hides keys j > i from query i. Masked keys get
    weight exactly 0; a query with no key left gets o_i = 0. Returns o (Tq, B, d_v), the
    weights A (B, Tq, Tk) and the cache for ``dot_product_backward``.
    """
    lengths = _inputs(q, k, v, lengths, device)
    checks.shape("k", k, (None, None, q.shape[2]))
    out, A, cache = _dot_product(_batch_first(q), _batch_first(k), _batch_first(v),
                                 lengths, causal, device)
    return _batch_first(out), A, cache


def dot_product_backward(dout, cache):
    """dL/do (Tq, B, d_v) -> dq (Tq, B, d), dk (Tk, B, d), dv (Tk, B, d_v)."""
    q, v = cache[0], cache[2]
    checks.shape("dout", dout, (q.shape[1], q.shape[0], v.shape[2]))
    return tuple(_batch_first(g) for g in _dot_product_backward(_batch_first(dout), cache))


# ---------------------------------------------------------------- additive attention

def additive_init(rng, d_q, d_k, A, dtype=np.float32):
    """{W_q (d_q, A), W_k (d_k, A), w (A,)}, uniform(+-1/sqrt(fan-in)) like a linear layer."""
    shapes = {"W_q": (d_q, A), "W_k": (d_k, A), "w": (A,)}
    fan_in = {"W_q": d_q, "W_k": d_k, "w": A}
    return {k: rng.uniform(-1, 1, s).astype(dtype) / np.sqrt(fan_in[k]).astype(dtype)
            for k, s in shapes.items()}


def additive_forward(params, q, k, v, lengths=None, device="cpu"):
    """Additive attention, eq. (8) then (2)-(4): q (Tq, B, d_q), k (Tk, B, d_k),
    v (Tk, B, d_v). Returns o (Tq, B, d_v), A (B, Tq, Tk) and the cache."""
    size, = checks.parameter_shape(params, "w", 1)              # A, the scoring units
    checks.parameters(params, W_q=(None, size), W_k=(None, size), w=(size,))
    lengths = _inputs(q, k, v, lengths, device)
    W_q, W_k, w = params["W_q"], params["W_k"], params["w"]
    checks.float_array("q", q, 3, W_q.dtype)                    # k and v: q's, by _inputs
    checks.shape("q", q, (None, None, W_q.shape[0]))
    checks.shape("k", k, (None, None, W_k.shape[0]))
    qb, kb, vb = _batch_first(q), _batch_first(k), _batch_first(v)
    u = np.tanh((qb @ W_q)[:, :, None, :] + (kb @ W_k)[:, None, :, :])   # eq. (8), (B, Tq, Tk, A)
    out, A = _mix(np.ascontiguousarray(u @ w), vb, lengths, False, device)
    return _batch_first(out), A, (qb, kb, vb, u, A, params, device)


def additive_backward(dout, cache):
    """dL/do (Tq, B, d_v) -> dq, dk, dv (time-major) and grads {W_q, W_k, w}, eq. (9)."""
    qb, kb, vb, u, A, params, device = cache
    checks.shape("dout", dout, (qb.shape[1], qb.shape[0], vb.shape[2]))
    de, dv = _mix_backward(_batch_first(dout), A, vb, device)
    du = de[..., None] * params["w"] * (1 - u * u)                      # eq. (9)
    dpq, dpk = du.sum(axis=2), du.sum(axis=1)                           # (B, Tq, A), (B, Tk, A)
    grads = {"W_q": np.einsum("bid,bia->da", qb, dpq), "W_k": np.einsum("bjd,bja->da", kb, dpk),
             "w": np.einsum("bija,bij->a", u, de)}
    dq, dk = dpq @ params["W_q"].T, dpk @ params["W_k"].T
    return _batch_first(dq), _batch_first(dk), _batch_first(dv), grads


# ------------------------------------------------------ multi-head self-attention

PROJECTIONS = ("q", "k", "v", "o")


def multihead_init(rng, E, dtype=np.float32):
    """{W_q, W_k, W_v, W_o (E, E), b_q, b_k, b_v, b_o (E,)}: weights Xavier-uniform and
    biases zero, as torch.nn.MultiheadAttention initialises its input projection."""
    bound = np.sqrt(6 / (2 * E))
    params = {f"W_{p}": rng.uniform(-bound, bound, (E, E)).astype(dtype) for p in PROJECTIONS}
    params.update({f"b_{p}": np.zeros(E, dtype) for p in PROJECTIONS})
    return params


def _split_heads(x, heads):
    """(T, B, E) -> (B * heads, T, E / heads): head r of row b is row b * heads + r."""
    T, B, E = x.shape
    return np.ascontiguousarray(x.reshape(T, B, heads, E // heads).transpose(1, 2, 0, 3)
                                .reshape(B * heads, T, E // heads))


def _merge_heads(x, heads):
    """(B * heads, T, E / heads) -> (T, B, E), the inverse of _split_heads."""
    N, T, d = x.shape
    return np.ascontiguousarray(x.reshape(N // heads, heads, T, d).transpose(2, 0, 1, 3)
                                .reshape(T, N // heads, heads * d))


def multihead_forward(params, x, heads, lengths=None, causal=False, device="cpu"):
    """Multi-head self-attention over x (T, B, E), eqs. (10)-(12); ``heads`` must divide E.

    ``lengths`` and ``causal`` mask keys as in ``dot_product_forward``. Returns
    y (T, B, E), the weights A (B, heads, T, T) and the cache for ``multihead_backward``.
    """
    E = checks.parameter_shape(params, "W_q", 2)[0]
    checks.parameters(params, **{f"W_{p}": (E, E) for p in PROJECTIONS},
                      **{f"b_{p}": (E,) for p in PROJECTIONS})
    lengths = _inputs(x, x, x, lengths, device)
    checks.float_array("x", x, 3, params["W_q"].dtype)
    checks.shape("x", x, (None, None, E))
    if not (isinstance(heads, (int, np.integer)) and heads >= 1 and E % heads == 0):
        raise ValueError(f"heads: expected a positive divisor of the model size E = {E}, "
                         f"got {heads!r}")
    T, B, _ = x.shape
    x2 = x.reshape(T * B, E)
    Q, K, V = (_split_heads((x2 @ params[f"W_{p}"] + params[f"b_{p}"]).reshape(T, B, E), heads)
               for p in "qkv")                                          # eq. (10)
    heads_out, A, att_cache = _dot_product(Q, K, V, np.repeat(lengths, heads), causal,
                                           device)                      # eq. (11)
    concat = _merge_heads(heads_out, heads).reshape(T * B, E)
    y = concat @ params["W_o"] + params["b_o"]                          # eq. (12)
    return y.reshape(T, B, E), A.reshape(B, heads, T, T), (x2, concat, att_cache, heads, params)


def multihead_backward(dy, cache):
    """dL/dy (T, B, E) -> dx (T, B, E) and grads with the keys of params."""
    x2, concat, att_cache, heads, params = cache
    E = x2.shape[1]
    T = att_cache[0].shape[1]
    B = att_cache[0].shape[0] // heads         # Q (B * heads, T, E / heads); not from x2 at T = 0
    checks.shape("dy", dy, (T, B, E))
    dy2 = dy.reshape(-1, E)
    grads = {"W_o": concat.T @ dy2, "b_o": dy2.sum(axis=0)}            # eq. (12), backward
    dheads = _split_heads((dy2 @ params["W_o"].T).reshape(T, B, E), heads)
    dx2 = np.zeros_like(x2)
    for p, dP in zip("qkv", _dot_product_backward(dheads, att_cache)):  # eq. (10), backward
        dP2 = _merge_heads(dP, heads).reshape(-1, E)
        grads[f"W_{p}"], grads[f"b_{p}"] = x2.T @ dP2, dP2.sum(axis=0)
        dx2 += dP2 @ params[f"W_{p}"].T
    return dx2.reshape(T, B, E), grads
