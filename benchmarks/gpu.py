"""Benchmark the CUDA twins on a real GPU: device="cuda" against device="cpu" and PyTorch.

What is measured (see benchmarks/README.md, "What gpu.py measures"):

* **Every concept with a CUDA twin**, through its public call with ``device="cuda"``, as
  a user calls it: the copies to the GPU and back, and the products NumPy computes on
  the host (x W_x, the weight gradients), are part of the time. The same call with
  ``device="cpu"`` on the same machine is the first reference.
* **PyTorch on the GPU**, where it computes the same thing: torch.nn.RNN/LSTM/GRU
  (cuDNN), scaled_dot_product_attention, torch.sparse.mm. Its inputs live on the GPU
  and only a synchronisation ends its call, so "vs torch" also counts the transfers
  minirnn makes. TF32 is switched off: both sides compute in float32.
* **Correctness first**: the cuda call's outputs against the cpu call's, PyTorch's
  against the cpu call's (rel. error <= 1e-4 in float32, 1e-10 in float64, as in
  timing.check); a mismatch aborts the run before anything is timed.
* **Timing**: timing.time_steps (blocks of calls in passes); ratios use the min.

Shapes: the recurrent cells at the CPU benchmarks' T=200, B=64, D=64, H=128 float32;
attention at attention.py's; a Cora-sized random graph; batches of HMM, Kalman and
reservoir sequences (one GPU thread per sequence or per unit) in float64.

Needs an NVIDIA GPU; PyTorch with CUDA is optional (its column is then empty). Run from
the repository root: ``python benchmarks/gpu.py [--quick] [--repeats N] [--json PATH]``.
"""
import sys
import warnings

import numpy as np
from numba import cuda

import timing                   # benchmarks/timing.py: also puts the repository root on sys.path
from minirnn import attention, elman, esn, gcn, gru, hmm, lds, lstm
from timing import torch        # None without PyTorch

RNN = dict(T=200, B=64, D=64, H=128)
ATTENTION = dict(T=128, B=32, heads=4, d=64)
GRAPH = dict(N=2708, edges=5278, C=64)                          # Cora's nodes and edges
HMM = dict(T=2_000, B=1_024, K=16, M=32)
LDS = dict(T=1_000, B=512, n=4, m=2)
ESN = dict(T=1_000, B=32, N=500)


def on_gpu(a, grad=False):
    t = torch.from_numpy(np.ascontiguousarray(a)).cuda()
    return t.requires_grad_() if grad else t


def synchronised(step):
    def run():
        out = step()
        torch.cuda.synchronize()
        return out
    return run


# ------------------------------------------------------------ the recurrent cells

def rnn_problem(rng, T, B, D, H):
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    h0, c0 = ((0.5 * rng.standard_normal((B, H))).astype(np.float32) for _ in range(2))
    return x, h0, c0, rng.standard_normal((T, B, H)).astype(np.float32)


def torch_rnn(cls, weights, x, states, dh, train=True):
    """cls on the GPU holding weights: a call of forward (+ backward(dh) if train),
    returning h, dx, dh0 as tensors."""
    module = timing.torch_rnn(cls, weights).cuda()
    tx, tdh = on_gpu(x, grad=train), on_gpu(dh)
    ts = tuple(on_gpu(s[None], grad=train) for s in states)
    state = ts if len(ts) > 1 else ts[0]             # (h0, c0) for the LSTM, else h0
    if not train:
        def forward():
            with torch.no_grad():
                return (module(tx, state)[0],)
        return forward

    def step():
        for t in (tx, *ts, *module.parameters()):
            t.grad = None
        h = module(tx, state)[0]
        h.backward(tdh)
        return h, tx.grad, ts[0].grad[0]
    return step


def rnn_cases(rng):
    """The train step of each cell (outputs h, dx, dh0) and the LSTM forward pass (h)."""
    T, B, D, H = RNN.values()
    x, h0, c0, dh = rnn_problem(rng, T, B, D, H)
    p_e, p_l, p_g = (m.init(rng, D, H) for m in (elman, lstm, gru))
    p_e["b"] = rng.uniform(-0.1, 0.1, H).astype(np.float32)
    p_l["b"] += rng.uniform(-0.1, 0.1, 4 * H).astype(np.float32)

    def train(cell, params, *states):
        def call(device):
            h, cache = cell.forward(params, x, *states, device=device)
            dx, dh0, *_ = cell.backward(dh, cache)
            return h, dx, dh0
        return call

    def lstm_forward(device):
        return lstm.forward(p_l, x, h0, c0, device=device, backprop=False)[:1]

    weights = {
        "elman": (torch.nn.RNN, {"weight_ih_l0": p_e["W_x"].T, "weight_hh_l0": p_e["W_h"].T,
                                 "bias_ih_l0": p_e["b"], "bias_hh_l0": np.zeros(H, np.float32)}),
        "lstm": (torch.nn.LSTM, {"weight_ih_l0": p_l["W_x"].T, "weight_hh_l0": p_l["W_h"].T,
                                 "bias_ih_l0": p_l["b"], "bias_hh_l0": np.zeros(4 * H, np.float32)}),
        "gru": (torch.nn.GRU, {"weight_ih_l0": p_g["W_x"].T, "weight_hh_l0": p_g["W_h"].T,
                               "bias_ih_l0": p_g["b_x"], "bias_hh_l0": p_g["b_h"]}),
    } if torch else {}

    def versus(name, states, train_=True):
        return (lambda: torch_rnn(*weights[name], x, states, dh, train_)) if torch else None

    return [("Elman train step", train(elman, p_e, h0), versus("elman", (h0,))),
            ("LSTM train step", train(lstm, p_l, h0, c0), versus("lstm", (h0, c0))),
            ("LSTM forward", lstm_forward, versus("lstm", (h0, c0), train_=False)),
            ("GRU train step", train(gru, p_g, h0), versus("gru", (h0,)))]


# ------------------------------------------------------------ attention, the graph

def attention_case(rng):
    """Masked dot-product attention, forward + backward: out, dq, dk, dv."""
    T, B, heads, d = ATTENTION.values()
    q, k, v, dout = (rng.standard_normal((T, B * heads, d)).astype(np.float32)
                     for _ in range(4))
    lengths = np.repeat(rng.integers(T // 2, T + 1, B), heads)

    def call(device):
        out, _, cache = attention.dot_product_forward(q, k, v, lengths, device=device)
        return (out, *attention.dot_product_backward(dout, cache))

    def versus():
        bf = lambda a: np.ascontiguousarray(a.transpose(1, 0, 2))            # noqa: E731
        tq, tk, tv = (on_gpu(bf(a), grad=True) for a in (q, k, v))
        mask = on_gpu(np.arange(T)[None, None, :] < lengths[:, None, None])
        tdout = on_gpu(bf(dout))

        def step():
            for t in (tq, tk, tv):
                t.grad = None
            out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=mask)
            out.backward(tdout)
            return tuple(a.transpose(0, 1) for a in (out, tq.grad, tk.grad, tv.grad))
        return step
    return [("attention fwd+bwd", call, versus if torch else None)]


def graph_case(rng):
    """A_hat M for a random graph with Cora's size: the product of every GCN layer."""
    warnings.filterwarnings("ignore", "Sparse", UserWarning)     # torch: CSR is 'beta'
    N, E, C = GRAPH.values()
    pairs = rng.integers(0, N, (E, 2))
    A = gcn.normalized_adjacency(pairs[pairs[:, 0] != pairs[:, 1]], N, np.float32)
    M = rng.standard_normal((N, C)).astype(np.float32)

    def versus():
        tA = torch.sparse_csr_tensor(*(on_gpu(a.astype(np.int64)) for a in (A.indptr, A.indices)),
                                     on_gpu(A.data), size=(N, N))
        tM = on_gpu(M)
        return lambda: (tA @ tM,)
    return [("GCN A_hat M", lambda device: (gcn.propagate(A, M, device=device),),
             versus if torch else None)]


# --------------------------------------------------- batches of hidden-state models

def batch_cases(rng):
    """One GPU thread per sequence (HMM, Kalman) or per reservoir unit (ESN)."""
    T, B, K, M = HMM.values()
    p_hmm = {"pi": rng.dirichlet(np.ones(K)), "A": rng.dirichlet(np.ones(K), K),
             "B": rng.dirichlet(np.ones(M), K)}
    _, x = hmm.sample(p_hmm, rng, T, B)
    T2, B2, n, m = LDS.values()
    F = rng.standard_normal((n, n))
    p_lds = {"F": 0.95 * F / np.abs(np.linalg.eigvals(F)).max(),
             "H": rng.standard_normal((m, n)), "Q": np.eye(n) * 0.1, "R": np.eye(m) * 0.2,
             "mu0": np.zeros(n), "P0": np.eye(n)}
    y = rng.standard_normal((T2, B2, m))
    T3, B3, N = ESN.values()
    p_esn = esn.init(rng, 1, N)
    u = rng.standard_normal((T3, B3, 1))
    return [("HMM log-likelihood", lambda device: (hmm.loglik(p_hmm, x, device=device),), None),
            ("HMM Viterbi", lambda device: hmm.viterbi(p_hmm, x, device=device), None),
            ("Kalman filter", lambda device: lds.filter(p_lds, y, device=device), None),
            ("ESN reservoir run", lambda device: (esn.forward(p_esn, u, 0.3, device=device),),
             None)]


# ------------------------------------------------------------------------- main

def host(outputs):
    return [o.detach().cpu().numpy() if torch is not None and torch.is_tensor(o)
            else np.asarray(o) for o in outputs]


def bench(name, call, versus, repeats, warmup):
    cpu = host(call("cpu"))
    steps = {"cuda": lambda: call("cuda"), "cpu": lambda: call("cpu")}
    dtype = np.float64 if any(o.dtype == np.float64 for o in cpu) else np.float32
    names = [f"out{k}" for k in range(len(cpu))]
    errors = {"cuda": timing.check("cuda", host(call("cuda")), cpu, dtype, names,
                                   "device='cpu'", what=f"{name} on the GPU")}
    if versus is not None:
        steps["torch"] = synchronised(versus())
        errors["torch"] = timing.check("torch", host(steps["torch"]()), cpu, dtype, names,
                                       "device='cpu'", what=f"PyTorch's {name}")
    return timing.time_steps(steps, repeats, warmup), errors


def main(argv=None):
    args = timing.parse_args(__doc__.split("\n")[0], RNN, argv)
    if not cuda.is_available():
        sys.exit("benchmarks/gpu.py needs an NVIDIA GPU (numba.cuda.is_available() is False)")
    info = timing.setup_machine()
    gpu = cuda.get_current_device().name if hasattr(cuda, "get_current_device") else "simulator"
    info["gpu"] = gpu.decode() if isinstance(gpu, bytes) else gpu
    if torch is not None:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        info["torch_cuda"] = torch.version.cuda
    print(f"  GPU     {info['gpu']} (PyTorch CUDA {info.get('torch_cuda')})")
    rng = np.random.default_rng(0)
    cases = rnn_cases(rng) + attention_case(rng) + graph_case(rng) + batch_cases(rng)
    if args.quick:
        cases = cases[:2]
    results, errors = {}, {}
    for name, call, versus in cases:
        print(f"\n{name}", flush=True)
        results[name], errors[name] = bench(name, call, versus, args.repeats, args.warmup)
    print(f"\n{'':<20}{'cuda':>9}{'cpu':>9}{'torch':>9}{'cuda/cpu':>10}{'cuda/torch':>12}"
          "   (ms, min)")
    for name, r in results.items():
        t = {impl: r[impl]["min"] for impl in r}
        torch_cells = (f"{timing.fmt_ms(t['torch'])}", f"{t['cuda'] / t['torch']:12.2f}") \
            if "torch" in t else (f"{'':>9}", f"{'':>12}")
        print(f"{name:<20}{timing.fmt_ms(t['cuda'])}{timing.fmt_ms(t['cpu'])}{torch_cells[0]}"
              f"{t['cuda'] / t['cpu']:10.2f}{torch_cells[1]}")
    print("cuda = the public call with device='cuda', transfers included; cpu = device='cpu' "
          f"on this machine's {info['numba_threads']} Numba threads; torch = PyTorch on the GPU")
    timing.write_json(args.json, {"machine": info, "shapes": {
        "rnn": RNN, "attention": ATTENTION, "graph": GRAPH, "hmm": HMM, "lds": LDS, "esn": ESN},
        "repeats": args.repeats, "seconds": results, "correctness_rel_error": errors})


if __name__ == "__main__":
    main()
