"""Benchmark the echo state network's reservoir run: minirnn vs reservoirpy vs NumPy.

What is measured (see benchmarks/README.md, "What esn.py measures"):

* **Run** = ``minirnn.esn.forward``: the states of a 500-unit reservoir (density 0.1,
  spectral radius 1.25, leak 0.3, reservoirpy's defaults otherwise) driven by 10,000
  steps of the Mackey-Glass series, float64, one series. On the very same weights:
  ``reservoirpy.nodes.Reservoir.run`` (0.4.2; its W as the SciPy CSR array it draws by
  default), the plain NumPy loop of ``tests/reference/esn.py`` (dense BLAS product per
  step), and minirnn's own kernel fed W densely (every entry stored, so the @njit
  loop does N^2 multiply-adds: dense in @njit against CSR in @njit).
* **Correctness first**: every contender's states are compared with the NumPy loop
  before anything is timed; a mismatch aborts the run.
* **Timing**: timing.time_steps (blocks of calls in passes, min and median);
  ratios use the min. The goal: minirnn <= 0.33 x reservoirpy's time.

Run from the repository root: ``python benchmarks/esn.py [--quick] [--repeats N]
[--json PATH]``, or ``minirnn bench esn [ARGS]``.
"""
import numpy as np

import timing                   # benchmarks/timing.py: also puts the repository root on sys.path
from minirnn import esn
from minirnn.data.mackey_glass import mackey_glass
from minirnn.kernels import esn as kernels
from tests.reference.esn import esn_forward

SHAPE = dict(T=10_000, N=500)
LEAK, GOAL = 0.3, 0.33

try:
    from reservoirpy.nodes import Reservoir
    import scipy.sparse
except ImportError:                 # reservoirpy is optional: its row is skipped
    Reservoir = None


def make_problem(T, N, seed=0):
    params = esn.init(np.random.default_rng(seed), 1, N)
    u = mackey_glass(T)[:, None, None]
    return params, u


def dense_in_njit(params, u):
    """The same kernel with every entry of W stored: a dense product inside @njit."""
    W_in, W, b = params["W_in"], params["W"], params["b"]
    N = W.shape[0]
    indptr = np.arange(0, N * N + 1, N, dtype=np.uint64)          # the dtypes of esn.csr
    indices = np.tile(np.arange(N, dtype=np.uint32), N)
    x0 = np.zeros((1, N))
    return lambda: kernels.run_cpu(u, W_in, b, indptr, indices, W.ravel().copy(), LEAK, x0)


def reservoirpy_run(params, u):
    res = Reservoir(W=scipy.sparse.csr_array(params["W"]),
                    Win=scipy.sparse.csr_array(params["W_in"]), bias=params["b"], lr=LEAK)
    series = u[:, 0]

    def run():
        res.state = {"out": np.zeros(params["W"].shape[0])}
        return res.run(series)[:, None]
    return run


def main(argv=None):
    args = timing.parse_args(__doc__.splitlines()[0], SHAPE, argv)
    if args.quick:
        args.shape = {**SHAPE, "T": 500}
    T, N = args.shape["T"], args.shape["N"]
    info = timing.setup_machine()
    print(f"\nReservoir run, T={T} steps, N={N} units, density 0.1, one series, float64; "
          f"{timing.repeats_text(args.repeats)}")
    params, u = make_problem(T, N)
    x0 = np.zeros((1, N))
    steps = {"minirnn": lambda: esn.forward(params, u, LEAK),
             "dense-njit": dense_in_njit(params, u),
             "numpy": lambda: esn_forward(params["W_in"], params["W"], params["b"], u, x0, LEAK)}
    if Reservoir is not None:
        steps["rpy"] = reservoirpy_run(params, u)
    else:
        print("  reservoirpy not importable: its comparison is skipped")
    want = steps["numpy"]()
    print("  states checked against the NumPy loop before timing:")
    errors = {name: timing.check(name, (step(),), (want,), np.float64, ("x",), "the NumPy loop")
              for name, step in steps.items() if name != "numpy"}
    results = timing.time_steps(steps, args.repeats, args.warmup)
    print(f"\n  {'impl':<12}{'min ms':>10}{'median ms':>11}{'vs rpy':>9}{'vs numpy':>10}")
    for name, t in results.items():
        vs = [f"{t['min'] / results[ref]['min']:9.2f}" if ref in results else f"{'':>9}"
              for ref in ("rpy", "numpy")]
        print(f"  {name:<12}{t['min'] * 1e3:10.1f}{t['median'] * 1e3:11.1f}{vs[0]}{vs[1]} ")
    ratios = {name: timing.ratio(results["minirnn"], results[name]) for name in results
              if name != "minirnn"}
    if "rpy" in results:
        goal = timing.goal(ratios["rpy"]["min"], GOAL)
        print(f"\nGoal: minirnn time / reservoirpy time {goal['ratio']:.2f} <= {GOAL}: "
              f"{timing.verdict(goal)}")
    timing.write_json(args.json, {"machine": info, "shape": args.shape, "repeats": args.repeats,
                                  "correctness_rel_error": errors, "seconds": results,
                                  "ratios_minirnn_over": ratios})


if __name__ == "__main__":
    main()
