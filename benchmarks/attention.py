"""Benchmark attention forward + backward: minirnn vs plain NumPy and PyTorch (CPU).

What is measured (see benchmarks/README.md for how to read it):

* **sdpa**: scaled dot-product attention alone, ``minirnn.attention.dot_product_forward``
  + ``dot_product_backward``, B=32 rows x 4 heads (as 128 independent rows), T=128
  queries and keys, d=64 per head, each row's keys padded to a random length in
  [T/2, T]; against the same equations in vectorised NumPy (masks by np.where, below)
  and ``torch.nn.functional.scaled_dot_product_attention`` with a boolean mask, both
  given the same upstream gradient.
* **mha**: multi-head self-attention with its projections, E = 4 x 64 = 256,
  ``minirnn.attention.multihead_forward`` + ``multihead_backward`` against the NumPy
  version (the projections around the NumPy attention) and ``torch.nn.MultiheadAttention``
  holding the same weights (layout in minirnn/attention.py) with key_padding_mask.
* **Correctness first**: outputs and every gradient are compared with NumPy's (and
  torch's) before anything is timed; a mismatch aborts the run.
* Timing in blocks and passes, the minimum and median of each; ratios are minirnn's
  time over each reference's, from the same run (benchmarks/timing.py).

Run from the repository root: ``python benchmarks/attention.py [--quick] [--repeats N]
[--json PATH]``.
"""
import numpy as np

import timing                   # benchmarks/timing.py: also puts the repository root on sys.path
from minirnn import attention
from tests.reference.attention import torch_multihead
from timing import torch        # None without PyTorch

SHAPE = dict(T=128, B=32, heads=4, d=64)
QUICK_SHAPE = dict(T=32, B=8, heads=4, d=16)


# ------------------------------------------------------------------ plain NumPy

def numpy_attention(q, k, v, allowed, dout):
    """Eqs. (1)-(7) of docs/attention.rst, batch-first (N, T, d), vectorised: the
    reference the kernels are timed against. ``allowed`` (N, 1, Tk) is the key mask."""
    scale = 1 / np.sqrt(q.shape[2])
    s = np.where(allowed, q @ k.transpose(0, 2, 1) * scale, -np.inf)
    e = np.exp(s - s.max(axis=2, keepdims=True))
    A = e / e.sum(axis=2, keepdims=True)
    out = A @ v
    dA = dout @ v.transpose(0, 2, 1)
    ds = A * (dA - (A * dA).sum(axis=2, keepdims=True)) * scale
    return out, ds @ k, ds.transpose(0, 2, 1) @ q, A.transpose(0, 2, 1) @ dout


def numpy_multihead(params, x, heads, allowed, dy):
    """Projections (eqs. 10, 12) around numpy_attention; returns y, dx and the grads."""
    T, B, E = x.shape
    d = E // heads
    x2 = x.reshape(T * B, E)
    split = lambda a: a.reshape(T, B * heads, d).transpose(1, 0, 2)        # noqa: E731
    merge = lambda a: a.transpose(1, 0, 2).reshape(T * B, E)               # noqa: E731
    Q, K, V = (split(x2 @ params[f"W_{p}"] + params[f"b_{p}"]) for p in "qkv")
    dconcat = dy.reshape(T * B, E) @ params["W_o"].T
    o, dQ, dK, dV = numpy_attention(Q, K, V, np.repeat(allowed, heads, axis=0), split(dconcat))
    concat = merge(o)
    y = (concat @ params["W_o"] + params["b_o"]).reshape(T, B, E)
    grads = {"W_o": concat.T @ dy.reshape(T * B, E)}
    dx = 0
    for p, dP in zip("qkv", (dQ, dK, dV)):
        grads[f"W_{p}"] = x2.T @ merge(dP)
        dx = dx + merge(dP) @ params[f"W_{p}"].T
    return y, dx.reshape(T, B, E), grads


# ------------------------------------------------------------------ the problems

def make_problem(dtype, T, B, heads, d, seed=0):
    rng = np.random.default_rng(seed)
    E = heads * d
    params = attention.multihead_init(rng, E, dtype)
    for p in params.values():
        p += (0.1 * rng.standard_normal(p.shape)).astype(dtype)
    x, dy = (rng.standard_normal((T, B, E)).astype(dtype) for _ in range(2))
    q, k, v, dout = (rng.standard_normal((T, B * heads, d)).astype(dtype) for _ in range(4))
    lengths = rng.integers(T // 2, T + 1, B)
    return dict(params=params, x=x, dy=dy, q=q, k=k, v=v, dout=dout, lengths=lengths,
                heads=heads, allowed=(np.arange(T)[None, None, :] < lengths[:, None, None]))


def sdpa_contenders(P):
    """{name: callable -> (out, dq, dk, dv), all time-major}."""
    heads, lengths = P["heads"], P["lengths"]
    row_lengths = np.repeat(lengths, heads)
    bf = lambda a: np.ascontiguousarray(a.transpose(1, 0, 2))              # noqa: E731

    def mine():
        out, _, cache = attention.dot_product_forward(P["q"], P["k"], P["v"], row_lengths)
        return (out, *attention.dot_product_backward(P["dout"], cache))

    def numpy_():
        got = numpy_attention(bf(P["q"]), bf(P["k"]), bf(P["v"]),
                              np.repeat(P["allowed"], heads, axis=0), bf(P["dout"]))
        return tuple(bf(a) for a in got)
    contenders = {"minirnn": mine, "numpy": numpy_}
    if torch is not None:
        tq, tk, tv = (torch.tensor(bf(P[n]), requires_grad=True) for n in "qkv")
        mask = torch.tensor(np.repeat(P["allowed"], heads, axis=0))
        tdout = torch.tensor(bf(P["dout"]))

        def torch_():
            for t in (tq, tk, tv):
                t.grad = None
            out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=mask)
            out.backward(tdout)
            return tuple(bf(a.detach().numpy()) for a in (out, tq.grad, tk.grad, tv.grad))
        contenders["torch"] = torch_
    return contenders


def mha_contenders(P):
    """{name: callable -> (y, dx, dW_q, dW_k, dW_v, dW_o)}."""
    params, x, dy, heads = P["params"], P["x"], P["dy"], P["heads"]
    keys = ("W_q", "W_k", "W_v", "W_o")

    def mine():
        y, _, cache = attention.multihead_forward(params, x, heads, P["lengths"])
        dx, grads = attention.multihead_backward(dy, cache)
        return (y, dx, *(grads[k] for k in keys))

    def numpy_():
        y, dx, grads = numpy_multihead(params, x, heads, P["allowed"], dy)
        return (y, dx, *(grads[k] for k in keys))
    contenders = {"minirnn": mine, "numpy": numpy_}
    if torch is not None:
        mha = torch_multihead(torch, params, heads)
        tx, tdy = torch.tensor(x, requires_grad=True), torch.tensor(dy)
        padding = torch.tensor(~P["allowed"][:, 0])

        def torch_():
            mha.zero_grad()
            tx.grad = None
            y, _ = mha(tx, tx, tx, key_padding_mask=padding, need_weights=False)
            y.backward(tdy)
            W = mha.in_proj_weight.grad.T.numpy()
            return (y.detach().numpy(), tx.grad.numpy(), *np.split(W, 3, axis=1),
                    mha.out_proj.weight.grad.T.numpy())
        contenders["torch"] = torch_
    return contenders


CASES = {"sdpa": (sdpa_contenders, ("out", "dq", "dk", "dv")),
         "mha": (mha_contenders, ("y", "dx", "dW_q", "dW_k", "dW_v", "dW_o"))}


def main(argv=None):
    args = timing.parse_args(__doc__.split("\n\n")[0], SHAPE, argv)
    shape = QUICK_SHAPE if args.quick else SHAPE
    info = timing.setup_machine()
    print(f"\nShape T={shape['T']} B={shape['B']} heads={shape['heads']} d={shape['d']} "
          f"(E={shape['heads'] * shape['d']}), keys padded to lengths in [T/2, T]; "
          f"{timing.repeats_text(args.repeats)}")
    report = {"machine": info, "shape": shape, "results": {}}
    for case, (contenders_of, names) in CASES.items():
        print(f"\n{case}: forward + backward, ms per call")
        for dtype in timing.DTYPES:
            contenders = contenders_of(make_problem(dtype, **shape))
            want = contenders["numpy"]()
            for name, call in contenders.items():
                if name != "numpy":
                    timing.check(f"{case}/{name}", call(), want, dtype, names, "plain NumPy")
            times = timing.time_steps(contenders, args.repeats, args.warmup)
            dt = np.dtype(dtype).name
            for name, t in times.items():
                vs = "".join(f"   {name}/{ref} {timing.ratio(t, times[ref])['min']:.2f}"
                             for ref in times if ref != name and name == "minirnn")
                print(f"  {dt:<8}{name:<9}{timing.fmt_ms(t['min'])}{timing.fmt_ms(t['median'])}{vs}")
            report["results"][f"{case}/{dt}"] = times
    timing.write_json(args.json, report)


if __name__ == "__main__":
    main()
