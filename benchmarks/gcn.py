"""Benchmark a GCN training epoch on Cora: minirnn vs plain NumPy vs PyTorch (CPU).

What is measured (see benchmarks/README.md for how to read it):

* **Epoch** = Kipf & Welling's two-layer GCN on Cora (1433 -> 16 -> 7, full batch):
  dropout 0.5 on the sparse features and on the hidden layer, forward, the loss over the
  140 training nodes with weight decay 5e-4 on W_0, backward, one Adam step. The same
  epoch three ways, from the same Glorot weights:
  ``minirnn`` (``minirnn.gcn.loss_and_grads`` + ``minirnn.optim.adam``: CSR products by
  the Numba kernel), ``numpy`` (``tests/reference/gcn.py``: CSR products by
  ``np.add.reduceat``, Adam in array operations) and ``torch`` (``torch.sparse.mm`` on
  sparse CSR tensors, autograd, ``torch.optim.Adam``), when PyTorch is importable.
* **Correctness first**: with dropout off, each implementation's logits Z, gradients
  dW_0, dW_1 and weights after the Adam step are compared with the NumPy reference's;
  a mismatch aborts the run before anything is timed.
* **Timing** in blocks of consecutive calls and passes (``timing.time_steps``);
  ratios use the min, the figure least disturbed by other load.

Run from the repository root: ``python benchmarks/gcn.py [--repeats N] [--json PATH]``,
or ``minirnn bench gcn [ARGS]``. Needs Cora under $MINIRNN_DATA (or --data-dir).
"""
import argparse

import numpy as np

import timing                   # benchmarks/timing.py: also puts the repository root on sys.path
from minirnn import gcn, optim
from minirnn.data import cora
from minirnn.layers import dropout_forward
from tests.reference.gcn import csr_matmul, gcn_two_layers
from timing import torch        # None without PyTorch: its rows are skipped

HIDDEN, DROPOUT, LR, WEIGHT_DECAY = 16, 0.5, 0.01, 5e-4
OUTPUT_NAMES = ("Z", "dW_0", "dW_1", "W_0 after Adam", "W_1 after Adam")


def make_problem(graph, dtype, seed=0):
    """Row-normalised sparse features, A^, labels, training nodes and initial weights."""
    X = gcn.CSR.from_dense(gcn.row_normalize(graph.features).astype(dtype))
    A_hat = gcn.normalized_adjacency(graph.edges, graph.num_nodes, dtype)
    params = gcn.init(np.random.default_rng(seed), [X.shape[1], HIDDEN, len(graph.classes)], dtype)
    return X, A_hat, graph.labels, graph.train, params


def minirnn_epoch(problem, dropout, rng):
    """One epoch as minirnn.tasks.gcn runs it; returns step() and outputs()."""
    X, A_hat, labels, nodes, params = problem
    params, state = {k: v.copy() for k, v in params.items()}, {}

    def step():
        L, grads, Z = gcn.loss_and_grads(params, A_hat, X, labels, nodes, dropout,
                                         WEIGHT_DECAY, rng)
        optim.adam(params, grads, state, LR)
        return Z, grads["W_0"], grads["W_1"], params["W_0"], params["W_1"]

    return step


def numpy_epoch(problem, dropout, rng):
    """The same epoch with the reference's reduceat CSR products and NumPy Adam."""
    X, A_hat, labels, nodes, params = problem
    W = [params["W_0"].copy(), params["W_1"].copy()]
    m, v, t = [np.zeros_like(w) for w in W], [np.zeros_like(w) for w in W], [0]

    def step():
        X_drop = X.with_data(dropout_forward(X.data, dropout, rng)[0])
        H_mask = dropout_forward(np.ones((X.shape[0], HIDDEN), X.data.dtype), dropout, rng)[0]
        _, dW_0, dW_1, Z = gcn_two_layers(
            W[0], W[1], lambda M: csr_matmul(A_hat.indptr, A_hat.indices, A_hat.data, M),
            lambda W_: csr_matmul(X_drop.indptr, X_drop.indices, X_drop.data, W_),
            lambda G: csr_matmul(X_drop.T.indptr, X_drop.T.indices, X_drop.T.data, G),
            labels, nodes, WEIGHT_DECAY, (1.0, H_mask))
        t[0] += 1
        for w, g, m_, v_ in zip(W, (dW_0, dW_1), m, v):
            m_ += (1 - 0.9) * (g - m_)
            v_ += (1 - 0.999) * (g * g - v_)
            w -= LR * (m_ / (1 - 0.9 ** t[0])) / (np.sqrt(v_ / (1 - 0.999 ** t[0])) + 1e-8)
        return Z, dW_0, dW_1, W[0], W[1]

    return step


def torch_epoch(problem, dropout):
    """The same epoch in PyTorch: sparse CSR tensors, autograd, torch.optim.Adam.
    (CSR, not COO: the backward of torch.sparse.mm through a COO matrix of Cora's
    features took 45 ms here, through a CSR one 2.8 ms.)"""
    X, A_hat, labels, nodes, params = problem

    def csr(A, values):
        return torch.sparse_csr_tensor(torch.from_numpy(A.indptr), torch.from_numpy(A.indices),
                                       values, A.shape, check_invariants=False)

    A_t, X_values = csr(A_hat, torch.from_numpy(A_hat.data)), torch.from_numpy(X.data)
    W = [torch.from_numpy(params[k].copy()).requires_grad_() for k in ("W_0", "W_1")]
    opt = torch.optim.Adam(W, lr=LR)
    y, idx = torch.from_numpy(labels[nodes]), torch.from_numpy(nodes)
    drop = torch.nn.functional.dropout

    def step():
        opt.zero_grad()
        X_drop = csr(X, drop(X_values, dropout))
        H = drop(torch.relu(torch.sparse.mm(A_t, torch.sparse.mm(X_drop, W[0]))), dropout)
        Z = torch.sparse.mm(A_t, H @ W[1])
        L = torch.nn.functional.cross_entropy(Z[idx], y) + WEIGHT_DECAY / 2 * (W[0] ** 2).sum()
        L.backward()
        grads = [w.grad.clone() for w in W]
        opt.step()
        return tuple(a.detach().numpy() for a in (Z, *grads, *W))

    return step


def bench_dtype(graph, dtype, repeats, warmup):
    """Check all three epochs against the NumPy one (dropout off), then time them."""
    problem = make_problem(graph, dtype)
    name = np.dtype(dtype).name
    make = {"minirnn": lambda p: minirnn_epoch(problem, p, np.random.default_rng(1)),
            "numpy": lambda p: numpy_epoch(problem, p, np.random.default_rng(1))}
    if torch is not None:
        make["torch"] = lambda p: torch_epoch(problem, p)
    want = make["numpy"](0.0)()
    errors = {impl: timing.check(impl, f(0.0)(), want, dtype, OUTPUT_NAMES,
                                 "the NumPy reference", what=f"{impl}'s {name} epoch")
              for impl, f in make.items() if impl != "numpy"}
    steps = {impl: f(DROPOUT) for impl, f in make.items()}
    return timing.time_steps(steps, repeats, warmup), errors


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=30, help="timed epochs per implementation")
    p.add_argument("--data-dir", default=None, help="folder holding cora/ (default $MINIRNN_DATA)")
    p.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args(argv)
    info = timing.setup_machine()
    graph = cora.load_planetoid(args.data_dir)
    print(f"\nCora: {graph.num_nodes} nodes, {len(graph.edges)} edges, "
          f"{int(graph.features.sum())} feature nonzeros; "
          f"{timing.repeats_text(args.repeats, 'epoch')}")
    results, errors = {}, {}
    for dtype in timing.DTYPES:
        name = np.dtype(dtype).name
        results[name], errors[name] = bench_dtype(graph, dtype, args.repeats, warmup=3)
    print("\nGCN epoch (dropout, forward, loss, backward, Adam): time per epoch, ms; ratios from the min")
    print(f"  {'dtype':<8}{'impl':<9}{'min':>9}{'median':>9}{'numpy/x':>10}{'x/torch':>10}")
    ratios = {}
    for name, res in results.items():
        ratios[name] = {impl: {"numpy_over": timing.ratio(res["numpy"], t)["min"],
                               "over_torch": timing.ratio(t, res["torch"])["min"] if "torch" in res else None}
                        for impl, t in res.items()}
        for impl, t in res.items():
            r = ratios[name][impl]
            torch_cell = f"{r['over_torch']:10.2f}" if r["over_torch"] is not None else f"{'':>10}"
            print(f"  {name:<8}{impl:<9}{timing.fmt_ms(t['min'])}{timing.fmt_ms(t['median'])}"
                  f"{r['numpy_over']:10.2f}{torch_cell}")
    print("  numpy/x = numpy time / x time (> 1: x faster than NumPy); "
          "x/torch = x time / torch time (< 1: x faster than PyTorch)")
    timing.write_json(args.json, {"machine": info, "repeats": args.repeats,
                                  "correctness_rel_error": errors,
                                  "epoch_seconds": results, "ratios": ratios})


if __name__ == "__main__":
    main()
