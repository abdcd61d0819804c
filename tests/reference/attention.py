"""Plain NumPy attention, one batch row and one query at a time, from docs/attention.rst."""
import numpy as np


def masked_softmax(scores, visible):
    """softmax over the visible entries with -inf elsewhere; no visible entry -> zeros."""
    if not visible.any():
        return np.zeros_like(scores)
    z = np.where(visible, scores, -np.inf)
    e = np.exp(z - z.max())
    return e / e.sum()


def attend(scores_fn, q, k, v, lengths, causal=False):
    """o (Tq, B, d_v) and A (B, Tq, Tk) for any score function scores_fn(q_i, K) -> (Tk,)."""
    Tq, B, _ = q.shape
    Tk = k.shape[0]
    out, A = np.zeros((Tq, B, v.shape[2])), np.zeros((B, Tq, Tk))
    for b in range(B):
        for i in range(Tq):
            visible = np.arange(Tk) < lengths[b]
            if causal:
                visible &= np.arange(Tk) <= i
            A[b, i] = masked_softmax(scores_fn(q[i, b], k[:, b]), visible)
            out[i, b] = A[b, i] @ v[:, b]
    return out, A


def dot_product(q, k, v, lengths, causal=False):
    return attend(lambda qi, K: K @ qi / np.sqrt(len(qi)), q, k, v, lengths, causal)


def additive(params, q, k, v, lengths):
    W_q, W_k, w = params["W_q"], params["W_k"], params["w"]
    return attend(lambda qi, K: np.tanh(qi @ W_q + K @ W_k) @ w, q, k, v, lengths)


def multihead(params, x, heads, lengths, causal=False):
    """Each head attends with its own column block of the projections; y (T, B, E)."""
    E = x.shape[2]
    d = E // heads
    Q, K, V = (x @ params[f"W_{p}"] + params[f"b_{p}"] for p in "qkv")
    blocks = [dot_product(Q[..., r * d:(r + 1) * d], K[..., r * d:(r + 1) * d],
                          V[..., r * d:(r + 1) * d], lengths, causal)[0] for r in range(heads)]
    return np.concatenate(blocks, axis=2) @ params["W_o"] + params["b_o"]


def torch_multihead(torch, params, heads):
    """torch.nn.MultiheadAttention holding minirnn's multi-head weights (the layout of
    minirnn/attention.py's docstring), in their dtype."""
    E = params["W_q"].shape[0]
    mha = torch.nn.MultiheadAttention(E, heads, dtype=torch.from_numpy(params["W_q"]).dtype)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.tensor(np.hstack([params[f"W_{p}"] for p in "qkv"]).T))
        mha.in_proj_bias.copy_(torch.tensor(np.concatenate([params[f"b_{p}"] for p in "qkv"])))
        mha.out_proj.weight.copy_(torch.tensor(params["W_o"].T))
        mha.out_proj.bias.copy_(torch.tensor(params["b_o"]))
    return mha
