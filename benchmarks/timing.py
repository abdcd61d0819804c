"""What the benchmark scripts (elman.py, lstm.py, gru.py) share: machine information,
the correctness check, timing in blocks and passes, FLOP counts, GEMM rates, the train
step's GEMM floor (train_gemms), the compile-time probe, the command line, the printed
tables and the JSON report.

Imported by the scripts as ``import timing`` (Python puts the script's folder,
benchmarks/, first on sys.path); importing it also puts the repository root there, so
that ``minirnn`` and ``tests.reference`` import from the checkout. ``timing.torch`` is
the ``torch`` module, or None when PyTorch is not importable (it is optional).
See benchmarks/README.md for how to read the output.
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
from dataclasses import dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))       # so that `tests.reference` (and minirnn) import

import numba                            # noqa: E402
import numpy as np                      # noqa: E402

try:
    import torch
except ImportError:                     # PyTorch is optional: its rows are skipped
    torch = None

DTYPES = (np.float32, np.float64)
TOLERANCE = {np.float32: 1e-4, np.float64: 1e-10}     # max relative error, see rel_error
PAUSE = 0.2                     # seconds between timing blocks, see time_steps
BLOCK = 5                       # timed calls per block, see time_steps
QUICK_T = 50                    # sequence length with --quick


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


def print_machine(info):
    print("Machine")
    print(f"  CPU     {info['cpu']}, {info['cores']} cores ({info['platform']})")
    print(f"  Python  {info['python']}, NumPy {info['numpy']} (BLAS: {info['blas']}), "
          f"Numba {info['numba']} ({info['numba_threads']} threads), "
          f"PyTorch {info['torch'] or 'not installed'}")


def setup_machine():
    """Print the machine and give PyTorch as many threads as Numba has, so that both
    sides get the same cores. Returns the machine info (for the JSON report)."""
    info = machine_info()
    print_machine(info)
    if torch is not None:
        torch.set_num_threads(info["numba_threads"])
        info["torch_threads"] = torch.get_num_threads()
        print(f"  torch.set_num_threads({info['numba_threads']}) (= Numba's thread count)")
    else:
        print("  PyTorch not importable: its comparison is skipped")
    return info


# ------------------------------------------------------------------- correctness

def rel_error(got, want):
    """max |got - want| / max |want|: one number per array, scale-free."""
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def check(name, got, want, dtype, names, against, what=None):
    """Largest relative error over the outputs `names` (got and want in that order);
    abort the run, saying that `what` (default `name`) disagrees with `against`, if it
    is above the dtype's tolerance. Returns all the errors."""
    errors = {n: rel_error(g, w) for n, g, w in zip(names, got, want, strict=True)}
    worst = max(errors, key=errors.get)
    tol = TOLERANCE[dtype]
    ok = errors[worst] <= tol
    print(f"  check {name:<8} {np.dtype(dtype).name}: max rel. error {errors[worst]:.1e} "
          f"({worst}) <= {tol:.0e}: {'ok' if ok else 'FAIL'}")
    if not ok:
        sys.exit(f"{what or name} disagrees with {against}: refusing to time it")
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


def blocks(repeats):
    """(passes, calls per block) for `repeats` timed calls: blocks of BLOCK calls, fewer
    for small counts; passes * calls >= repeats."""
    passes = -(-repeats // BLOCK)                   # ceil: at least one call per pass
    return passes, -(-repeats // passes)


def repeats_text(repeats, what="call"):
    """'15 timed calls per implementation (3 blocks, each after warm-up)': time_steps'
    plan, for the header of a benchmark's output."""
    passes = blocks(repeats)[0]
    return (f"{repeats} timed {what}{'s' * (repeats != 1)} per implementation ({passes} "
            f"block{'s' * (passes != 1)}, each after warm-up)")


def time_steps(steps, repeats, warmup):
    """Time each step in blocks of consecutive calls: passes over the steps (order
    rotating), each a block of up to BLOCK timed calls after warm-up (blocks(repeats)).

    Not interleaved call by call on purpose: NumPy's OpenBLAS threads and PyTorch's
    OpenMP threads spin for a while after each call, and on a small machine the idle
    pool of one library steals the cores of the other (measured on 2 cores: torch
    float32 ~2.5x slower when interleaved with NumPy calls). Each pass gives each
    implementation another chance at a quiet spell of a shared machine, so more calls
    make more passes, not longer blocks: on the dev machine a block of calls is
    sometimes slow throughout (memory handed back to the host, benchmarks/README.md).
    """
    names = list(steps)
    passes, per_pass = blocks(repeats)
    times = {name: [] for name in names}
    for k in range(passes):
        for name in names[k % len(names):] + names[:k % len(names)]:
            time.sleep(PAUSE)
            times[name] += time_block(steps[name], per_pass, warmup)["times"]
    return {name: summary(t) for name, t in times.items()}


def ratio(num, den):
    """num time / den time, of the min and of the median."""
    return {s: num[s] / den[s] for s in ("min", "median")}


# ------------------------------------------------------------------ FLOPs, GEMM

def train_flops(T, B, D, H, gates=1):
    """FLOPs of one train step, counting each multiply-add as 2 and only the GEMMs;
    `gates` blocks of H columns (1 Elman, 4 LSTM, 3 GRU), G = gates * H.

    forward:  z_t = x_t W_x + h_{t-1} W_h        -> 2*T*B*(D*G + H*G)
    backward: dW_x = x^T dz, dx = dz W_x^T       -> 2 * 2*T*B*D*G
              dW_h = h_prev^T dz, g = dz W_h^T   -> 2 * 2*T*B*H*G
              i.e. twice the forward; the pointwise terms (nonlinearities and their
              derivatives, gates), O(T*B*G), are left out. Total = 3 * forward.
    """
    return 3 * forward_flops(T, B, D, H, gates)


def forward_flops(T, B, D, H, gates=1):
    """FLOPs of the forward pass alone (see train_flops): 2*T*B*(D + H)*gates*H."""
    return 2 * T * B * (D * gates * H + H * gates * H)


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


def step_gemms(T, B, D, H, dtype, repeats, gates=1):
    """NumPy's rate for the two products a step is made of: the batched input product
    (T*B x D) @ (D x G), and the per-step recurrent product (B x H) @ (H x G) timed as
    T back-to-back calls the way the recurrence makes them (G = gates * H)."""
    return [time_gemm(T * B, D, gates * H, dtype, repeats, calls=1),
            time_gemm(B, H, gates * H, dtype, repeats, calls=T)]


def train_gemms(T, B, D, H, dtype, gates=1):
    """step() making only the matrix products of one train step of minirnn's LSTM
    (gates=4) or GRU (3), with the shapes, layouts and calls it makes (G = gates * H):
    x W_x (TB x D)(D x G) once; per step h_{t-1} W_h (B x H)(H x G) forward and
    dz_t W_h^T (B x G)(G x H) backward (W_h^T copied once); then x^T dz, h^T dz and
    dz W_x^T with inner dimension TB or G. Its time is the floor under minirnn's step
    with this BLAS: the pointwise kernels and memory passes come on top of it."""
    rng = np.random.default_rng(2)
    G = gates * H
    x = rng.standard_normal((T * B, D)).astype(dtype)
    h = rng.standard_normal((T, B, H)).astype(dtype)
    dz = rng.standard_normal((T, B, G)).astype(dtype)
    W_x, W_h = ((0.1 * rng.standard_normal((n, G))).astype(dtype) for n in (D, H))
    W_hT = np.ascontiguousarray(W_h.T)
    xw, hw, carry = np.empty((T * B, G), dtype), np.empty((B, G), dtype), np.empty((B, H), dtype)

    def step():
        np.matmul(x, W_x, out=xw)
        for t in range(T):
            np.matmul(h[t], W_h, out=hw)
        for t in range(T - 1, -1, -1):
            np.matmul(dz[t], W_hT, out=carry)
        dz2 = dz.reshape(T * B, G)
        return x.T @ dz2, h.reshape(T * B, H).T @ dz2, dz2 @ W_x.T

    return step


# ------------------------------------------------------------------ compile time

COMPILE_PROBE = r"""
import json, time
t0 = time.perf_counter()
import numpy as np, numba
t1 = time.perf_counter()
from minirnn import {module} as model
t2 = time.perf_counter()
rng = np.random.default_rng(0)
p = model.init(rng, 3, 4, np.float32)
x = rng.standard_normal((5, 2, 3)).astype(np.float32)
dh = np.ones((5, 2, 4), np.float32)
def step():
    t = time.perf_counter()
    h, cache = model.forward(p, x)
    model.backward(dh, cache)
    return time.perf_counter() - t
first = step()
print(json.dumps({{"import_numba": t1 - t0, "import_minirnn": t2 - t1,
                  "first_call": first, "second_call": step()}}))
"""


def compile_times(module):
    """Cold (compile + write cache) and warm (load cache) first forward + backward of
    minirnn.<module> (init, forward(params, x), backward(dh, cache)), fresh processes."""
    probe = COMPILE_PROBE.format(module=module)
    with tempfile.TemporaryDirectory(prefix="minirnn-numba-cache-") as cache:
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": path}
        runs = {}
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout
            runs[label] = {**json.loads(out.strip().splitlines()[-1]),
                           "process": time.perf_counter() - t0}
        runs["cache_files"] = sum(len(f) for _, _, f in os.walk(cache))
    return runs


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


def compile_probe(module, quick):
    """Run and print the compile-time probe, unless --quick. Returns its results."""
    if quick:
        return None
    runs = compile_times(module)
    print_compile(runs)
    return runs


# ------------------------------------------------------------------------ PyTorch

def torch_rnn(cls, weights, **kwargs):
    """A one-layer ``cls`` (torch.nn.RNN, LSTM or GRU) holding ``weights`` {parameter
    name: NumPy array}, all four of weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0.
    torch computes x W_ih^T + h W_hh^T: pass weight_ih_l0 = W_x.T, weight_hh_l0 = W_h.T."""
    w_ih, w_hh = weights["weight_ih_l0"], weights["weight_hh_l0"]
    module = cls(w_ih.shape[1], w_hh.shape[1], dtype=torch.from_numpy(w_ih).dtype, **kwargs)
    with torch.no_grad():
        for name, value in weights.items():
            getattr(module, name).copy_(torch.from_numpy(value))
    return module


def torch_leaf(a, state=False):
    """a as a tensor that collects its gradient; state: (B, H) -> (1, B, H), torch's
    layout of initial states."""
    t = torch.from_numpy(a)
    return (t[None].clone() if state else t).requires_grad_()


def torch_train_step(module, leaves, call, dh):
    """step() of a torch train step: clear the gradients of ``leaves`` (the inputs that
    require grad) and of module's parameters, h = call(), h.backward(dh); returns h."""
    tdh = torch.from_numpy(dh)

    def step():
        for t in (*leaves, *module.parameters()):
            t.grad = None
        h = call()
        h.backward(tdh)
        return h

    return step


# ----------------------------------------------------------------------- report

def fmt_ms(seconds):
    return f"{seconds * 1e3:9.1f}"


def print_table(title, results, flops, columns, cells, gemms=None, notes=()):
    """One timing table: a row per dtype and implementation with min, median (ms) and
    GFLOP/s (from the min and `flops` per call), then one 10-wide cell per header in
    `columns`, from cells(dtype, impl); below each dtype's rows its GEMM rates if given
    ({dtype: step_gemms(...)}), and the `notes` lines at the end."""
    print(f"\n{title}")
    print(f"  {'dtype':<8}{'impl':<9}{'min':>9}{'median':>9}{'GFLOP/s':>9}"
          + "".join(f"{c:>10}" for c in columns))
    for dtype, res in results.items():
        for impl, t in res.items():
            print(f"  {dtype:<8}{impl:<9}{fmt_ms(t['min'])}{fmt_ms(t['median'])}"
                  f"{flops / t['min'] / 1e9:9.1f}"
                  + "".join(f"{c:>10}" for c in cells(dtype, impl)))
        for g in (gemms or {}).get(dtype, ()):
            print(f"  {dtype:<8}{'GEMM':<9}{g['shape']:>27}{g['gflops']:9.1f}   (NumPy BLAS)")
    for line in notes:
        print(f"  {line}")


def print_shape(shape, what, repeats):
    print(f"\nShape T={shape['T']} B={shape['B']} D={shape['D']} H={shape['H']}, {what}; "
          f"{repeats_text(repeats)}")


def write_json(path, report):
    if path:
        Path(path).write_text(json.dumps(report, indent=2))
        print(f"\nResults written to {path}")


# ------------------------------------------------------------------------- main

def parse_args(description, shape, argv=None):
    """The options every script takes. Adds to the result `shape` (T=QUICK_T with
    --quick) and `warmup` (untimed calls before each timing block)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--repeats", type=int, default=None,
                   help=f"timed calls per implementation, in passes of {BLOCK} consecutive calls "
                        "(default: 15, or 6 with --quick; 60 for figures to quote)")
    p.add_argument("--quick", action="store_true",
                   help=f"T={QUICK_T}, fewer calls, no compile-time probe: a smoke test, "
                        "not figures")
    p.add_argument("--json", metavar="PATH", help="also write all results as JSON to PATH")
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 6 if args.quick else 15
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    passes, calls = blocks(args.repeats)
    args.repeats = passes * calls                           # what time_steps will run
    args.shape = {**shape, "T": QUICK_T} if args.quick else dict(shape)
    args.warmup = 1 if args.quick else 2
    return args


# ------------------------------------------------ minirnn vs PyTorch: lstm.py, gru.py

@dataclass
class Case:
    """One computation timed as minirnn vs PyTorch (the train step, the forward pass).
    The callables take the problem's arrays, as make_problem returns them."""
    name: str           # key in results and goals: "train", "forward"
    label: str          # in sentences and the goals: "train step", "forward"
    title: str          # the table's title
    outputs: tuple      # names of the arrays compared, in the order the calls return them
    minirnn: object     # (*problem) -> those arrays; the call that is timed
    torch: object       # (*problem) -> (step, outputs): the timed call, and one giving the arrays
    flops: object       # train_flops or forward_flops
    floor: object = None    # train_gemms, timed alongside as "GEMMs", or None


def goal(ratio, bound):
    """One goal, minirnn time / reference time <= bound, as printed and saved."""
    return {"goal": bound, "ratio": ratio, "met": ratio <= bound}


def verdict(g):
    return "met" if g["met"] else "NOT met"


def assess_goals(vs_torch, goals, labels):
    """Each goal {(case, dtype): bound on minirnn time / torch time} against the ratio
    of the min measured for it, as {"<case label> <dtype>": goal}; with the case's GEMM
    floor where it has one (benchmarks/spread.py reports it too)."""
    assessed = {}
    for (case, dtype), bound in goals.items():
        r = vs_torch[case][dtype]
        g = goal(r["minirnn"]["min"], bound)
        if "GEMMs" in r:
            g["floor"] = r["GEMMs"]["min"]
        assessed[f"{labels[case]} {dtype}"] = g
    return assessed


def bench_vs_torch(argv, *, description, module, torch_class, gates, shape, what,
                   make_problem, cases, reference, goals):
    """The whole run of lstm.py and gru.py: check, time and report ``cases`` (minirnn
    vs torch.nn.<torch_class>) in each dtype, GEMM rates of the step's products, goals,
    compile time, JSON. Without PyTorch only minirnn's forward output can be checked,
    against ``reference`` (*problem) -> h, the NumPy loop of tests/reference; it is then
    timed alone and the run ends normally (exit status 0)."""
    args = parse_args(description, shape, argv)
    shape = args.shape
    info = setup_machine()
    print_shape(shape, what, args.repeats)
    against = f"torch.nn.{torch_class}"
    print(f"  minirnn checked against {against if torch else 'the NumPy reference'}, "
          "before it is timed:")
    results = {c.name: {} for c in cases}
    errors, gemms = {}, {}
    for dtype in DTYPES:
        name = np.dtype(dtype).name
        problem = make_problem(dtype, **shape)
        errors[name], steps = {}, {c.name: {"minirnn": partial(c.minirnn, *problem)}
                                   for c in cases}
        if torch is None:                       # h is cases[0]'s first output
            errors[name]["reference"] = check(
                "forward", cases[0].minirnn(*problem)[:1], (reference(*problem),), dtype,
                ("h",), "the NumPy reference", what="minirnn's forward pass")
        for c in cases if torch is not None else ():    # every check before any timing
            torch_step, torch_outputs = c.torch(*problem)
            errors[name][c.name] = check(c.name, c.minirnn(*problem), torch_outputs(), dtype,
                                         c.outputs, against, what=f"minirnn's {c.label}")
            steps[c.name]["torch"] = torch_step
        for c in cases:
            if c.floor:
                steps[c.name]["GEMMs"] = c.floor(**shape, dtype=dtype, gates=gates)
            results[c.name][name] = time_steps(steps[c.name], args.repeats, args.warmup)
        gemms[name] = step_gemms(**shape, dtype=dtype, repeats=args.repeats, gates=gates)
    if torch is None:
        print("  gradients not checked without PyTorch "
              f"(`minirnn gradcheck {module}` checks them on a small problem)")

    vs_torch = {c.name: {d: {impl: ratio(t, r["torch"]) for impl, t in r.items() if impl != "torch"}
                         for d, r in results[c.name].items() if "torch" in r} for c in cases}
    ratios = {c.name: {d: r["minirnn"] for d, r in vs_torch[c.name].items()} for c in cases}
    for k, c in enumerate(cases):
        print_table(c.title, results[c.name], c.flops(**shape, gates=gates), ("vs torch",),
                    lambda dtype, impl, c=c: (f"{vs_torch[c.name][dtype][impl]['min']:.2f}"
                                              if impl in vs_torch[c.name].get(dtype, {}) else "",),
                    gemms if k == 0 else None,
                    [f"vs torch = minirnn time / {against} time (< 1: minirnn faster)"]
                    + (["GEMMs = the step's matrix products alone (timing.train_gemms): the "
                        "floor under minirnn's time"] if c.floor else []))
    if torch is None:
        print("\nPyTorch not importable: minirnn timed alone, no ratios, goals not assessed")
        assessed = None
    else:
        print(f"\nGoals: minirnn time / {against} time, from the min")
        assessed = assess_goals(vs_torch, goals, {c.name: c.label for c in cases})
        for label, g in assessed.items():
            print(f"  {label:<19}{g['ratio']:6.2f}   goal <= {g['goal']:.1f}: {verdict(g)}")
        for c in (c for c in cases if c.floor):
            for dtype, r in vs_torch[c.name].items():
                print(f"  {c.label:<11}{dtype:<8}{r['GEMMs']['min']:6.2f}   its GEMMs alone, "
                      "the floor with this BLAS")
    compile_ = compile_probe(module, args.quick)
    write_json(args.json, {
        "machine": info, "shape": shape, "repeats": args.repeats,
        "flops": {c.name: c.flops(**shape, gates=gates) for c in cases},
        "correctness_rel_error": errors, "seconds": results, "gemm": gemms,
        "ratios_minirnn_over_torch": ratios, "ratios_over_torch": vs_torch, "goals": assessed,
        "compile_seconds": compile_})
