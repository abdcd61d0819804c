"""Benchmark the Kalman filter: minirnn vs pykalman and a plain NumPy filter (CPU).

What is measured (see benchmarks/README.md, "What lds.py measures"):

* **Filter** = ``minirnn.lds.filter`` (input checks, the Numba kernel, filtered means,
  covariances and log-likelihood) over one sequence of T=10,000 steps, state n=4,
  observations m=2, float64, 1% of the rows missing (NaN), against
  ``pykalman.KalmanFilter.filter`` (means and covariances; its log-likelihood is a
  second pass, not timed) and ``tests/reference/lds.kalman_filter`` (the textbook
  loop in NumPy, explicit inverses, one step at a time).
* **Correctness first**: means, covariances and log-likelihood of minirnn are
  compared with pykalman's (``filter`` and ``loglikelihood``) and with the NumPy
  reference before anything is timed; a relative error above 1e-10 aborts the run.
* **Goal**: minirnn time / pykalman time <= 0.02, from the min.

Run from the repository root: ``python benchmarks/lds.py [--quick] [--repeats N]
[--json PATH]``, or ``minirnn bench lds [ARGS]``.
"""
import numpy as np

import timing                   # benchmarks/timing.py: also puts the repository root on sys.path
from minirnn import lds
from tests.reference.lds import kalman_filter

try:
    import pykalman
except ImportError:             # optional: without it minirnn is checked against NumPy only
    pykalman = None

SHAPE = dict(T=10_000, n=4, m=2)
GOAL = 0.02


def make_problem(T, n, m, seed=0):
    """A stable random LDS and a sequence drawn from it, 1% of its rows missing."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    B, C = rng.standard_normal((n, n)), rng.standard_normal((m, m))
    params = {"F": 0.95 * A / np.abs(np.linalg.eigvals(A)).max(),
              "H": rng.standard_normal((m, n)), "Q": B @ B.T / n + 0.1 * np.eye(n),
              "R": C @ C.T / m + 0.2 * np.eye(m), "mu0": np.zeros(n), "P0": np.eye(n)}
    _, y = lds.sample(params, T, rng)
    y[rng.random(T) < 0.01] = np.nan
    return params, y


def pykalman_filter(params, y):
    """(step to time, the outputs to check: means, covariances, log-likelihood)."""
    kf = pykalman.KalmanFilter(params["F"], params["H"], params["Q"], params["R"],
                               initial_state_mean=params["mu0"],
                               initial_state_covariance=params["P0"])
    ym = np.ma.masked_invalid(y)
    return (lambda: kf.filter(ym)), (lambda: (*kf.filter(ym), kf.loglikelihood(ym)))


def main(argv=None):
    args = timing.parse_args(__doc__.splitlines()[0], SHAPE, argv)
    info = timing.setup_machine()
    shape = args.shape
    print(f"\nKalman filter, T={shape['T']} n={shape['n']} m={shape['m']}, float64; "
          f"{timing.repeats_text(args.repeats)}")
    params, y = make_problem(**shape)
    names = ("means", "covariances", "log-likelihood")
    got = lds.filter(params, y)
    errors = {"numpy": timing.check("numpy", got, kalman_filter(params, y), np.float64, names,
                                    "the NumPy reference", what="minirnn's filter")}
    steps = {"minirnn": lambda: lds.filter(params, y),
             "numpy": lambda: kalman_filter(params, y)}
    if pykalman is not None:
        steps["pykalman"], outputs = pykalman_filter(params, y)
        errors["pykalman"] = timing.check("pykalman", got, outputs(), np.float64, names,
                                          "pykalman", what="minirnn's filter")
    else:
        print("  pykalman not importable: its comparison and the goal are skipped")
    results = timing.time_steps(steps, args.repeats, args.warmup)
    ratios = {impl: timing.ratio(results["minirnn"], t) for impl, t in results.items()
              if impl != "minirnn"}
    print(f"\n  {'impl':<10}{'min ms':>10}{'median ms':>11}{'minirnn / impl':>16}")
    for impl, t in results.items():
        r = f"{ratios[impl]['min']:.4f}" if impl in ratios else ""
        print(f"  {impl:<10}{timing.fmt_ms(t['min']):>10}{timing.fmt_ms(t['median']):>11}{r:>16}")
    goal = None
    if "pykalman" in ratios:
        goal = timing.goal(ratios["pykalman"]["min"], GOAL)
        print(f"\nGoal: minirnn time / pykalman time {goal['ratio']:.4f} <= {GOAL}: "
              f"{timing.verdict(goal)}")
    timing.write_json(args.json, {"machine": info, "shape": shape, "repeats": args.repeats,
                                  "correctness_rel_error": errors, "seconds": results,
                                  "ratios_minirnn_over": ratios,
                                  "goals": {"filter": goal} if goal else None})


if __name__ == "__main__":
    main()
