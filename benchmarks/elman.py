"""Benchmark the Elman RNN train step: minirnn vs plain NumPy vs PyTorch (CPU).

What is measured (see benchmarks/README.md for how to read it):

* **Train step** = ``minirnn.elman.forward`` + ``minirnn.elman.backward`` with a fixed
  random upstream gradient dL/dh, at T=200, B=64, D=64, H=128 (tanh, full-length
  sequences), in float32 and float64. Baselines on the very same inputs and weights:
  the plain NumPy reference (``tests/reference/elman.py``: ``elman_forward_batched`` +
  ``elman_backward_batched``) and ``torch.nn.RNN`` (forward + ``backward(dh)``) when
  PyTorch is importable. Each implementation is timed in blocks of consecutive calls
  after a warm-up, in passes (not interleaved call by call: the thread pools
  of OpenBLAS and PyTorch would fight over the cores, see timing.time_steps); min and
  median over all timed calls are reported, ratios use the min (the least disturbed
  by other load).
* **Correctness first**: before any timing, minirnn's h, dx, dh0, dW_x, dW_h, db are
  compared with the NumPy reference (and PyTorch's with the reference), so a broken
  kernel cannot produce a fast-looking number; a mismatch aborts the run.
* **GFLOP/s** of each train step, next to NumPy's own GEMM rate for the two product
  shapes the step is made of (the batched input product and the per-step recurrent
  product), measured in the same run: this says how close the step gets to BLAS.
* **Compile time**: a fresh interpreter imports minirnn.elman and runs its first
  forward + backward on a tiny float32 problem, twice with the same empty
  NUMBA_CACHE_DIR: the first (cold) compiles the Numba kernels and writes the cache,
  the second (warm) loads them from it. Import times are reported too.

Run from the repository root: ``python benchmarks/elman.py [--quick] [--repeats N]
[--json PATH]``, or ``minirnn bench elman [ARGS]``.
"""
import numpy as np

import timing                   # benchmarks/timing.py: also puts the repository root on sys.path
from minirnn import elman
from tests.reference.elman import elman_backward_batched, elman_forward_batched
from timing import torch        # None without PyTorch: its column is skipped

SHAPE = dict(T=200, B=64, D=64, H=128)
OUTPUT_NAMES = ("h", "dx", "dh0", "dW_x", "dW_h", "db")


# ----------------------------------------------------------------------- problem

def make_problem(dtype, T, B, D, H, seed=0):
    """Weights, input, initial state and upstream gradient, shared by all implementations."""
    rng = np.random.default_rng(seed)
    params = elman.init(rng, D, H, dtype)
    params["b"] = rng.uniform(-0.1, 0.1, H).astype(dtype)   # non-zero, so b is tested
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = (0.5 * rng.standard_normal((B, H))).astype(dtype)
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    return params, x, h0, dh


# ------------------------------------------------------------ the three train steps

def minirnn_step(params, x, h0, dh):
    h, cache = elman.forward(params, x, h0)
    dx, dh0, grads = elman.backward(dh, cache)
    return h, dx, dh0, grads["W_x"], grads["W_h"], grads["b"]


def numpy_step(params, x, h0, dh):
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    h = elman_forward_batched(W_x, W_h, b, x, h0)
    return (h, *elman_backward_batched(W_x, W_h, x, h0, h, dh))


def make_torch_step(params, x, h0, dh):
    """A torch.nn.RNN with minirnn's weights: step() for timing, outputs() for the check."""
    rnn = timing.torch_rnn(torch.nn.RNN, {
        "weight_ih_l0": params["W_x"].T, "weight_hh_l0": params["W_h"].T,
        "bias_ih_l0": params["b"], "bias_hh_l0": np.zeros_like(params["b"])},
        nonlinearity="tanh")
    tx, th0 = timing.torch_leaf(x), timing.torch_leaf(h0, state=True)
    step = timing.torch_train_step(rnn, (tx, th0), lambda: rnn(tx, th0)[0], dh)

    def outputs():
        h = step().detach().numpy()
        return (h, tx.grad.numpy(), th0.grad[0].numpy(), rnn.weight_ih_l0.grad.T.numpy(),
                rnn.weight_hh_l0.grad.T.numpy(), rnn.bias_ih_l0.grad.numpy())

    return step, outputs


def check(name, got, want, dtype):
    """Largest relative error over the six outputs; abort the run if above tolerance."""
    return timing.check(name, got, want, dtype, OUTPUT_NAMES, "the NumPy reference")


# ----------------------------------------------------------------------- report

def ratios(res):
    """numpy/minirnn and minirnn/torch time ratios (of min and median) for one dtype;
    the torch ratio is None without PyTorch."""
    numpy_over = timing.ratio(res["numpy"], res["minirnn"])
    torch_over = timing.ratio(res["minirnn"], res["torch"]) if "torch" in res else None
    out = {}
    for s in ("min", "median"):
        out[f"numpy_over_minirnn_{s}"] = numpy_over[s]
        out[f"minirnn_over_torch_{s}"] = torch_over[s] if torch_over else None
    return out


def ratio_cells(impl, ratio):
    """The 'vs torch' and 'speed-up' cells of one row of the step table."""
    if impl == "minirnn" and ratio["minirnn_over_torch_min"] is not None:
        return f"{ratio['minirnn_over_torch_min']:.2f}", ""
    if impl == "numpy":
        return "", f"{ratio['numpy_over_minirnn_min']:.2f}"
    return "", ""


def print_step_table(results, gemms, step_flops):
    all_ratios = {dtype: ratios(res) for dtype, res in results.items()}
    timing.print_table(
        "Train step (forward + backward): time per step, ms; ratios from the min",
        results, step_flops, ("vs torch", "speed-up"),
        lambda dtype, impl: ratio_cells(impl, all_ratios[dtype]), gemms,
        ["vs torch = minirnn time / torch time (< 1: minirnn faster);"
         " speed-up = numpy time / minirnn time"])


# ------------------------------------------------------------------------- main

def bench_dtype(dtype, shape, repeats, warmup):
    """Check, then time, the three train steps for one dtype."""
    problem = make_problem(dtype, **shape)
    want = numpy_step(*problem)
    errors = {"minirnn": check("minirnn", minirnn_step(*problem), want, dtype)}
    steps = {"minirnn": lambda: minirnn_step(*problem), "numpy": lambda: numpy_step(*problem)}
    if torch is not None:
        torch_step, torch_outputs = make_torch_step(*problem)
        errors["torch"] = check("torch", torch_outputs(), want, dtype)
        steps["torch"] = torch_step
    return timing.time_steps(steps, repeats, warmup), errors


def main(argv=None):
    args = timing.parse_args(__doc__.split("\n\n")[0], SHAPE, argv)
    shape = args.shape
    info = timing.setup_machine()
    timing.print_shape(shape, "tanh", args.repeats)
    step_flops = timing.train_flops(**shape)
    results, errors, gemms = {}, {}, {}
    for dtype in timing.DTYPES:
        name = np.dtype(dtype).name
        results[name], errors[name] = bench_dtype(dtype, shape, args.repeats, args.warmup)
        gemms[name] = timing.step_gemms(**shape, dtype=dtype, repeats=args.repeats)
    print_step_table(results, gemms, step_flops)
    compile_ = timing.compile_probe("elman", args.quick)
    timing.write_json(args.json, {
        "machine": info, "shape": shape, "flops_per_step": step_flops,
        "repeats": args.repeats, "correctness_rel_error": errors,
        "train_step_seconds": results, "gemm": gemms, "compile_seconds": compile_,
        "ratios": {d: ratios(r) for d, r in results.items()}})


if __name__ == "__main__":
    main()
