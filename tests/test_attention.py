"""Attention: kernels vs the NumPy reference, masks, gradient checks, torch given the
same weights, and the errors bad input gets."""
import numpy as np
import pytest

from minirnn import attention, gradcheck
from tests.reference import attention as ref


def qkv(rng, Tq=5, Tk=6, B=3, d=4, dv=2, dtype=np.float64):
    return tuple(rng.standard_normal(s).astype(dtype) for s in ((Tq, B, d), (Tk, B, d), (Tk, B, dv)))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dot_product_matches_reference(rng, causal, dtype):
    q, k, v = qkv(rng, dtype=dtype)
    lengths = np.array([6, 2, 4])
    out, A, _ = attention.dot_product_forward(q, k, v, lengths, causal)
    ref_out, ref_A = ref.dot_product(q.astype(np.float64), k.astype(np.float64),
                                     v.astype(np.float64), lengths, causal)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert out.dtype == dtype and A.shape == (3, 5, 6)
    assert np.allclose(out, ref_out, atol=tol) and np.allclose(A, ref_A, atol=tol)


def test_additive_matches_reference(rng):
    q, k, v = qkv(rng, d=3)
    params = gradcheck.perturbed(attention.additive_init(rng, 3, 3, 7, np.float64), rng)
    lengths = np.array([1, 6, 3])
    out, A, _ = attention.additive_forward(params, q, k, v, lengths)
    ref_out, ref_A = ref.additive(params, q, k, v, lengths)
    assert np.allclose(out, ref_out, atol=1e-12) and np.allclose(A, ref_A, atol=1e-12)


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_multihead_matches_reference(rng, heads):
    x = rng.standard_normal((6, 3, 8))
    params = gradcheck.perturbed(attention.multihead_init(rng, 8, np.float64), rng)
    lengths = np.array([6, 3, 1])
    y, A, _ = attention.multihead_forward(params, x, heads, lengths, causal=True)
    assert A.shape == (3, heads, 6, 6)
    assert np.allclose(y, ref.multihead(params, x, heads, lengths, causal=True), atol=1e-12)


def test_masked_keys_get_exactly_zero_weight_and_rows_sum_to_one(rng):
    q, k, v = qkv(rng, Tq=6, Tk=6)
    lengths = np.array([6, 3, 5])
    _, A, _ = attention.dot_product_forward(q, k, v, lengths, causal=True)
    i, j = np.arange(6)[:, None], np.arange(6)[None, :]
    for b, L in enumerate(lengths):
        hidden = (j >= L) | (j > i)
        assert np.all(A[b][np.broadcast_to(hidden, (6, 6))] == 0.0)
        assert np.allclose(A[b].sum(axis=1), 1.0)


def test_fully_masked_row_gives_zeros_not_nan(rng):
    q, k, v = qkv(rng)
    lengths = np.array([0, 6, 0])
    with np.errstate(all="raise"):
        out, A, cache = attention.dot_product_forward(q, k, v, lengths)
        dq, dk, dv = attention.dot_product_backward(np.ones_like(out), cache)
    assert np.all(A[[0, 2]] == 0) and np.all(out[:, [0, 2]] == 0)
    for g in (dq, dk, dv):
        assert np.all(np.isfinite(g)) and np.all(g[:, [0, 2]] == 0)


def test_padding_keys_do_not_matter(rng):
    """What lies beyond a row's length changes neither the output nor other gradients."""
    q, k, v = qkv(rng)
    lengths = np.array([6, 2, 4])
    out, _, cache = attention.dot_product_forward(q, k, v, lengths)
    k2, v2 = k.copy(), v.copy()
    k2[2:, 1], v2[4:, 2] = 1e3, -1e3
    out2, _, _ = attention.dot_product_forward(q, k2, v2, lengths)
    assert np.array_equal(out, out2)
    _, dk, dv = attention.dot_product_backward(np.ones_like(out), cache)
    assert np.all(dk[2:, 1] == 0) and np.all(dv[4:, 2] == 0)


@pytest.mark.parametrize("name", ["attention", "attention-dot", "attention-additive"])
def test_gradcheck_whole_padded_batch(rng, name):
    errors = gradcheck.check(*gradcheck.PROBLEMS[name](rng))
    assert max(errors.values()) <= 1e-6, errors


def test_key_bias_gets_no_gradient(rng):
    """q_i . b_k adds the same number to every score of row i: the softmax cancels it."""
    x = rng.standard_normal((5, 2, 4))
    params = gradcheck.perturbed(attention.multihead_init(rng, 4, np.float64), rng)
    y, _, cache = attention.multihead_forward(params, x, 2, np.array([5, 3]))
    _, grads = attention.multihead_backward(rng.standard_normal(y.shape), cache)
    assert np.abs(grads["b_k"]).max() < 1e-12 < np.abs(grads["b_q"]).max()


@pytest.mark.parametrize("call, message", [
    (lambda q, k, v: attention.dot_product_forward(q, k[:, :2], v), "k: expected shape"),
    (lambda q, k, v: attention.dot_product_forward(q, k[..., :3], v), "k: expected shape"),
    (lambda q, k, v: attention.dot_product_forward(q, k, v[:4]), "v: expected shape"),
    (lambda q, k, v: attention.dot_product_forward(q[0], k, v), "q: expected 3 dimensions"),
    (lambda q, k, v: attention.dot_product_forward(q, k.astype(np.float32), v), "k: expected dtype"),
    (lambda q, k, v: attention.dot_product_forward(q, k, v, np.array([1, 2, 7])), "lengths"),
    (lambda q, k, v: attention.dot_product_forward(q * np.nan, k, v), "q: non-finite"),
    (lambda q, k, v: attention.dot_product_forward(q, k, v, device="tpu"), "device"),
    (lambda q, k, v: attention.multihead_forward(
        attention.multihead_init(np.random.default_rng(0), 4, np.float64), k, 3), "heads"),
    (lambda q, k, v: attention.multihead_forward(
        attention.multihead_init(np.random.default_rng(0), 8, np.float64), k, 2), "x: expected shape"),
])
def test_bad_input_is_named(rng, call, message):
    with pytest.raises(ValueError, match=message):
        call(*qkv(rng))


# ----------------------------------------------------------------- PyTorch, same numbers

def test_matches_torch_scaled_dot_product_attention(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    q, k, v = qkv(rng, Tq=6, Tk=6)
    lengths = np.array([6, 2, 5])
    dout = rng.standard_normal((6, 3, 2))
    out, _, cache = attention.dot_product_forward(q, k, v, lengths, causal=True)
    grads = attention.dot_product_backward(dout, cache)
    tq, tk, tv = (torch.tensor(a.transpose(1, 0, 2), requires_grad=True) for a in (q, k, v))
    allowed = torch.tensor((np.arange(6)[None, None, :] < lengths[:, None, None]) &
                           np.tril(np.ones((6, 6), bool))[None])      # True = may attend
    t_out = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=allowed)
    t_out.backward(torch.tensor(dout.transpose(1, 0, 2)))
    assert np.allclose(out, t_out.detach().numpy().transpose(1, 0, 2), atol=1e-12)
    for mine, t in zip(grads, (tq, tk, tv)):
        assert np.allclose(mine, t.grad.numpy().transpose(1, 0, 2), atol=1e-12)


def test_matches_torch_multihead_attention(rng):
    torch = pytest.importorskip("torch")
    T, B, E, heads = 6, 3, 8, 2
    params = gradcheck.perturbed(attention.multihead_init(rng, E, np.float64), rng)
    x, dy = rng.standard_normal((T, B, E)), rng.standard_normal((T, B, E))
    lengths = np.array([6, 3, 1])
    y, A, cache = attention.multihead_forward(params, x, heads, lengths, causal=True)
    dx, grads = attention.multihead_backward(dy, cache)

    mha = ref.torch_multihead(torch, params, heads)        # the documented layout; time-major
    tx = torch.tensor(x, requires_grad=True)
    padding = torch.tensor(np.arange(T)[None, :] >= lengths[:, None])     # True = ignore
    future = torch.tensor(np.triu(np.ones((T, T), bool), 1))
    ty, tA = mha(tx, tx, tx, key_padding_mask=padding, attn_mask=future,
                 average_attn_weights=False)
    ty.backward(torch.tensor(dy))
    assert np.allclose(y, ty.detach().numpy(), atol=1e-12)
    assert np.allclose(A, tA.detach().numpy(), atol=1e-12)
    assert np.allclose(dx, tx.grad.numpy(), atol=1e-12)
    W_in, b_in = mha.in_proj_weight.grad.numpy().T, mha.in_proj_bias.grad.numpy()
    for r, p in enumerate("qkv"):
        assert np.allclose(grads[f"W_{p}"], W_in[:, r * E:(r + 1) * E], atol=1e-12)
        assert np.allclose(grads[f"b_{p}"], b_in[r * E:(r + 1) * E], atol=1e-12)
    assert np.allclose(grads["W_o"], mha.out_proj.weight.grad.numpy().T, atol=1e-12)
    assert np.allclose(grads["b_o"], mha.out_proj.bias.grad.numpy(), atol=1e-12)
