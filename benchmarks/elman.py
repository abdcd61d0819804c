"""Benchmark the Elman RNN train step: minirnn vs plain NumPy vs PyTorch (CPU).

What is measured (see benchmarks/README.md for how to read it):

* **Train step** = ``minirnn.elman.forward`` + ``minirnn.elman.backward`` with a fixed
  random upstream gradient dL/dh, at T=200, B=64, D=64, H=128 (tanh, full-length
  sequences), in float32 and float64. Baselines on the very same inputs and weights:
  the plain NumPy reference (``tests/reference/elman.py``: ``elman_forward_batched`` +
  ``elman_backward_batched``) and ``torch.nn.RNN`` (forward + ``backward(dh)``) when
  PyTorch is importable. Each implementation is timed in blocks of consecutive calls
  after a warm-up, in three passes (not interleaved call by call: the thread pools
  of OpenBLAS and PyTorch would fight over the cores, see time_steps); min and
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
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))           # so that `tests.reference` (and minirnn) import

import numba                            # noqa: E402
import numpy as np                      # noqa: E402

from minirnn import elman               # noqa: E402
from tests.reference.elman import elman_backward_batched, elman_forward_batched  # noqa: E402

try:
    import torch
except ImportError:                     # PyTorch is optional: its column is skipped
    torch = None

SHAPE = dict(T=200, B=64, D=64, H=128)
DTYPES = (np.float32, np.float64)
TOLERANCE = {np.float32: 1e-4, np.float64: 1e-10}     # max relative error, see rel_error
PAUSE = 0.2                     # seconds between timing blocks, see time_steps
PASSES = 3                      # timing blocks per implementation, see time_steps


# ----------------------------------------------------------------------- machine

def cpu_model():
    """CPU model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_name():
    try:
        return np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:                   # older NumPy: no mode="dicts"
        return "unknown"


def machine_info():
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__,
            "blas": blas_name(), "numba": numba.__version__,
            "numba_threads": numba.get_num_threads(),
            "torch": torch.__version__ if torch else None}


# ----------------------------------------------------------------------- problem

def flops(T, B, D, H):
    """FLOPs of one train step, counting each multiply-add as 2 and only the GEMMs.

    forward:  a_t = x_t W_x + h_{t-1} W_h        -> 2*T*B*(D*H + H*H)
    backward: dW_x = x^T da, dx = da W_x^T       -> 2 * 2*T*B*D*H
              dW_h = h_prev^T da, g = da W_h^T   -> 2 * 2*T*B*H*H
              i.e. twice the forward; the pointwise tanh/tanh' terms, O(T*B*H), are
              left out. Total = 3 * 2*T*B*(D*H + H*H).
    """
    forward = 2 * T * B * (D * H + H * H)
    return 3 * forward


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
    T, B, D = x.shape
    H = params["W_h"].shape[0]
    dtype = torch.from_numpy(x).dtype
    rnn = torch.nn.RNN(D, H, nonlinearity="tanh", dtype=dtype)
    with torch.no_grad():                           # torch computes x W_ih^T + h W_hh^T
        rnn.weight_ih_l0.copy_(torch.from_numpy(params["W_x"].T))
        rnn.weight_hh_l0.copy_(torch.from_numpy(params["W_h"].T))
        rnn.bias_ih_l0.copy_(torch.from_numpy(params["b"]))
        rnn.bias_hh_l0.zero_()
    tx = torch.from_numpy(x).requires_grad_()
    th0 = torch.from_numpy(h0)[None].clone().requires_grad_()
    tdh = torch.from_numpy(dh)

    def step():
        for t in (tx, th0, *rnn.parameters()):
            t.grad = None
        h, _ = rnn(tx, th0)
        h.backward(tdh)
        return h

    def outputs():
        h = step().detach().numpy()
        return (h, tx.grad.numpy(), th0.grad[0].numpy(), rnn.weight_ih_l0.grad.T.numpy(),
                rnn.weight_hh_l0.grad.T.numpy(), rnn.bias_ih_l0.grad.numpy())

    return step, outputs


# ------------------------------------------------------------------- correctness

OUTPUT_NAMES = ("h", "dx", "dh0", "dW_x", "dW_h", "db")


def rel_error(got, want):
    """max |got - want| / max |want|: one number per array, scale-free."""
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def check(name, got, want, dtype):
    """Largest relative error over the six outputs; abort the run if above tolerance."""
    errors = {n: rel_error(g, w) for n, g, w in zip(OUTPUT_NAMES, got, want)}
    worst = max(errors, key=errors.get)
    tol = TOLERANCE[dtype]
    ok = errors[worst] <= tol
    print(f"  check {name:<8} {np.dtype(dtype).name}: max rel. error {errors[worst]:.1e} "
          f"({worst}) <= {tol:.0e}: {'ok' if ok else 'FAIL'}")
    if not ok:
        sys.exit(f"{name} disagrees with the NumPy reference: refusing to time it")
    return errors


# ------------------------------------------------------------------------ timing

def summary(times):
    return {"min": min(times), "median": statistics.median(times), "times": times}


def time_block(step, repeats, warmup):
    """Seconds per call of step(): `warmup` untimed calls, then `repeats` timed ones."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return summary(times)


def time_steps(steps, repeats, warmup, passes=PASSES):
    """Time each step in blocks of consecutive calls: `passes` passes over the steps
    (order rotating), each a block of about repeats / passes timed calls after warm-up.

    Not interleaved call by call on purpose: NumPy's OpenBLAS threads and PyTorch's
    OpenMP threads spin for a while after each call, and on a small machine the idle
    pool of one library steals the cores of the other (measured on 2 cores: torch
    float32 ~2.5x slower when interleaved with NumPy calls). Several passes give each
    implementation more than one chance at a quiet spell of a shared machine.
    """
    names = list(steps)
    per_pass = -(-repeats // passes)                # ceil: at least one call per pass
    times = {name: [] for name in names}
    for k in range(passes):
        for name in names[k % len(names):] + names[:k % len(names)]:
            time.sleep(PAUSE)
            times[name] += time_block(steps[name], per_pass, warmup)["times"]
    return {name: summary(t) for name, t in times.items()}


def time_gemm(m, k, n, dtype, repeats, calls):
    """GFLOP/s of np.matmul(A (m, k), B (k, n), out=C), `calls` products per sample."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = np.empty((m, n), dtype)
    step = lambda: [np.matmul(a, b, out=c) for _ in range(calls)]  # noqa: E731
    time.sleep(PAUSE)
    t = time_block(step, repeats, warmup=2)
    seconds = t["min"] / calls
    return {"shape": f"({m}x{k})@({k}x{n})", "seconds": seconds,
            "gflops": 2 * m * k * n / seconds / 1e9}


# ------------------------------------------------------------------ compile time

COMPILE_PROBE = r"""
import json, time
t0 = time.perf_counter()
import numpy as np, numba
t1 = time.perf_counter()
from minirnn import elman
t2 = time.perf_counter()
rng = np.random.default_rng(0)
p = elman.init(rng, 3, 4, np.float32)
x = rng.standard_normal((5, 2, 3)).astype(np.float32)
dh = np.ones((5, 2, 4), np.float32)
def step():
    t = time.perf_counter()
    h, cache = elman.forward(p, x)
    elman.backward(dh, cache)
    return time.perf_counter() - t
first = step()
print(json.dumps({"import_numba": t1 - t0, "import_minirnn": t2 - t1,
                  "first_call": first, "second_call": step()}))
"""


def compile_times():
    """Cold (compile + write cache) and warm (load cache) first call, fresh processes."""
    with tempfile.TemporaryDirectory(prefix="minirnn-numba-cache-") as cache:
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": path}
        runs = {}
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", COMPILE_PROBE], env=env, cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout
            runs[label] = {**json.loads(out.strip().splitlines()[-1]),
                           "process": time.perf_counter() - t0}
        runs["cache_files"] = sum(len(f) for _, _, f in os.walk(cache))
    return runs


# ----------------------------------------------------------------------- report

def ratios(res):
    """numpy/minirnn and minirnn/torch time ratios (of min and median) for one dtype;
    the torch ratio is None without PyTorch."""
    m, out = res["minirnn"], {}
    for s in ("min", "median"):
        out[f"numpy_over_minirnn_{s}"] = res["numpy"][s] / m[s]
        out[f"minirnn_over_torch_{s}"] = m[s] / res["torch"][s] if "torch" in res else None
    return out


def fmt_ms(seconds):
    return f"{seconds * 1e3:9.1f}"


def print_machine(info):
    print("Machine")
    print(f"  CPU     {info['cpu']}, {info['cores']} cores ({info['platform']})")
    print(f"  Python  {info['python']}, NumPy {info['numpy']} (BLAS: {info['blas']}), "
          f"Numba {info['numba']} ({info['numba_threads']} threads), "
          f"PyTorch {info['torch'] or 'not installed'}")


def ratio_cells(impl, ratio):
    """The 'vs torch' and 'speed-up' cells of one row of the step table."""
    if impl == "minirnn" and ratio["minirnn_over_torch_min"] is not None:
        return f"{ratio['minirnn_over_torch_min']:.2f}", ""
    if impl == "numpy":
        return "", f"{ratio['numpy_over_minirnn_min']:.2f}"
    return "", ""


def print_step_table(results, gemms, step_flops):
    print("\nTrain step (forward + backward): time per step, ms; ratios from the min")
    print(f"  {'dtype':<8}{'impl':<9}{'min':>9}{'median':>9}{'GFLOP/s':>9}"
          f"{'vs torch':>10}{'speed-up':>10}")
    for dtype, res in results.items():
        ratio = ratios(res)
        for impl, t in res.items():
            vs_torch, speedup = ratio_cells(impl, ratio)
            print(f"  {dtype:<8}{impl:<9}{fmt_ms(t['min'])}{fmt_ms(t['median'])}"
                  f"{step_flops / t['min'] / 1e9:9.1f}{vs_torch:>10}{speedup:>10}")
        for g in gemms[dtype]:
            print(f"  {dtype:<8}{'GEMM':<9}{g['shape']:>27}{g['gflops']:9.1f}   (NumPy BLAS)")
    print("  vs torch = minirnn time / torch time (< 1: minirnn faster);"
          " speed-up = numpy time / minirnn time")


def print_compile(runs):
    print("\nFirst call in a fresh process (tiny float32 problem, own NUMBA_CACHE_DIR), s")
    print(f"  {'cache':<6}{'import numba':>14}{'import minirnn':>16}{'1st call':>10}"
          f"{'2nd call':>10}{'process':>9}")
    for label in ("cold", "warm"):
        r = runs[label]
        print(f"  {label:<6}{r['import_numba']:14.2f}{r['import_minirnn']:16.2f}"
              f"{r['first_call']:10.2f}{r['second_call']:10.4f}{r['process']:9.2f}")
    print(f"  cold = compiles the Numba kernels and writes the cache ({runs['cache_files']} files);"
          " warm = loads them")


# ------------------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=None,
                   help=f"timed calls per implementation, split over {PASSES} passes, rounded "
                        f"up to a multiple of {PASSES} (default: 15, or 6 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="T=50, fewer calls, no compile-time probe: a smoke test, not figures")
    p.add_argument("--json", metavar="PATH", help="also write all results as JSON to PATH")
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 6 if args.quick else 15
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    args.repeats = PASSES * -(-args.repeats // PASSES)      # what time_steps will run
    return args


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
    return time_steps(steps, repeats, warmup), errors


def main(argv=None):
    args = parse_args(argv)
    shape = {**SHAPE, "T": 50} if args.quick else SHAPE
    info = machine_info()
    print_machine(info)
    if torch is not None:
        torch.set_num_threads(info["numba_threads"])
        info["torch_threads"] = torch.get_num_threads()
        print(f"  torch.set_num_threads({info['numba_threads']}) (= Numba's thread count)")
    else:
        print("  PyTorch not importable: its comparison is skipped")
    print(f"\nShape T={shape['T']} B={shape['B']} D={shape['D']} H={shape['H']}, tanh; "
          f"{args.repeats} timed calls per implementation ({PASSES} blocks, each after warm-up)")
    step_flops = flops(**shape)
    results, errors, gemms = {}, {}, {}
    for dtype in DTYPES:
        name = np.dtype(dtype).name
        results[name], errors[name] = bench_dtype(dtype, shape, args.repeats,
                                                  warmup=1 if args.quick else 2)
        gemms[name] = [time_gemm(shape["T"] * shape["B"], shape["D"], shape["H"], dtype,
                                 args.repeats, calls=1),
                       time_gemm(shape["B"], shape["H"], shape["H"], dtype,
                                 args.repeats, calls=shape["T"])]
    print_step_table(results, gemms, step_flops)
    compile_ = None if args.quick else compile_times()
    if compile_:
        print_compile(compile_)
    if args.json:
        report = {"machine": info, "shape": shape, "flops_per_step": step_flops,
                  "repeats": args.repeats, "correctness_rel_error": errors,
                  "train_step_seconds": results, "gemm": gemms, "compile_seconds": compile_,
                  "ratios": {d: ratios(r) for d, r in results.items()}}
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"\nResults written to {args.json}")


if __name__ == "__main__":
    main()
