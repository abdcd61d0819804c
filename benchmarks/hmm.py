"""Benchmark: HMM log-likelihood and Viterbi against hmmlearn and a plain NumPy loop.

* **Problem**: K=16 states, M=32 symbols, one sequence of T=100,000 symbols sampled
  from a random categorical HMM (flat-Dirichlet rows of pi, A and B).
* **Score**: ``minirnn.hmm.loglik`` (scaled forward pass, eqs. 2-6 of docs/hmm.rst)
  against ``hmmlearn.hmm.CategoricalHMM.score`` and the NumPy loop
  ``tests/reference/hmm.py:forward_loop``.
* **Viterbi**: ``minirnn.hmm.viterbi`` against ``CategoricalHMM.decode``.
* **Correctness first**: the three log-likelihoods must agree to 1e-10 (relative), and
  the Viterbi log-probabilities too, with identical paths; otherwise nothing is timed.
* Timing in blocks and passes, min and median, as benchmarks/timing.py does; the NumPy
  loop (about 100x slower) gets one call per pass.
* **Goals**, minirnn time / hmmlearn time from the min: score <= 0.1, Viterbi <= 0.5.

Run from the repository root: ``python benchmarks/hmm.py [--quick] [--repeats N]
[--json PATH]``, or ``minirnn bench hmm [ARGS]``. Needs hmmlearn for the ratios.
"""
import numpy as np

import timing                   # benchmarks/timing.py: also puts the repository root on sys.path
from minirnn import hmm
from tests.reference.hmm import categorical_likelihoods, forward_loop

try:
    from hmmlearn.hmm import CategoricalHMM
except ImportError:             # optional: minirnn is then checked against NumPy and timed alone
    CategoricalHMM = None

SHAPE = dict(T=100_000, K=16, M=32)
GOALS = {"score": 0.1, "viterbi": 0.5}


def make_problem(T, K, M, seed=0):
    rng = np.random.default_rng(seed)
    params = {"pi": rng.dirichlet(np.ones(K)), "A": rng.dirichlet(np.ones(K), K),
              "B": rng.dirichlet(np.ones(M), K)}
    _, x = hmm.sample(params, rng, T)
    return params, x


def hmmlearn_model(params):
    m = CategoricalHMM(len(params["pi"]))
    m.n_features = params["B"].shape[1]
    m.startprob_, m.transmat_, m.emissionprob_ = params["pi"], params["A"], params["B"]
    return m


def main(argv=None):
    args = timing.parse_args(__doc__.split("\n\n")[0], SHAPE, argv)
    info = timing.setup_machine()
    shape = args.shape
    print(f"\nShape T={shape['T']} K={shape['K']} M={shape['M']}, one sequence; "
          f"{timing.repeats_text(args.repeats)}")
    params, x = make_problem(**shape)
    X = x.reshape(-1, 1)                                     # hmmlearn's layout
    ours = {"score": lambda: hmm.loglik(params, x),
            "viterbi": lambda: hmm.viterbi(params, x)}
    numpy_score = lambda: forward_loop(params["pi"], params["A"],  # noqa: E731
                                       categorical_likelihoods(params["B"], x[:, 0]))
    ll, (path, logp) = ours["score"]()[0], ours["viterbi"]()
    errors = {"score vs numpy": abs(ll - numpy_score()) / abs(ll)}
    steps = {"score": {"minirnn": ours["score"]}, "viterbi": {"minirnn": ours["viterbi"]}}
    if CategoricalHMM is not None:
        model = hmmlearn_model(params)
        theirs_logp, theirs_path = model.decode(X, algorithm="viterbi")
        errors["score vs hmmlearn"] = abs(ll - model.score(X)) / abs(ll)
        errors["viterbi vs hmmlearn"] = abs(logp[0] - theirs_logp) / abs(theirs_logp)
        errors["viterbi paths differ at"] = int(np.sum(path[:, 0] != theirs_path))
        steps["score"]["hmmlearn"] = lambda: model.score(X)
        steps["viterbi"]["hmmlearn"] = lambda: model.decode(X, algorithm="viterbi")
    for name, e in errors.items():
        print(f"  check {name:<24} {e:.1e}" + ("" if "paths" in name else " (relative)"))
    if max(errors.values()) > 1e-10:
        raise SystemExit("minirnn disagrees with the references: refusing to time it")

    results = {c: timing.time_steps(s, args.repeats, args.warmup) for c, s in steps.items()}
    results["score"] |= timing.time_steps({"numpy": numpy_score}, 3, 0)    # a loop in Python: slow
    print("\nTime per call, ms (min, median); ratios from the min")
    ratios = {}
    for case, res in results.items():
        for impl, t in res.items():
            r = {other: t["min"] / res[other]["min"] for other in res if other != impl}
            if impl == "minirnn":
                ratios[case] = r
            print(f"  {case:<8}{impl:<10}{timing.fmt_ms(t['min'])}{timing.fmt_ms(t['median'])}")
        print("  " + "  ".join(f"minirnn / {o} = {v:.3f}" for o, v in ratios[case].items()))
    assessed = None
    if CategoricalHMM is None:
        print("\nhmmlearn not importable: no ratios against it, goals not assessed")
    else:
        print("\nGoals: minirnn time / hmmlearn time, from the min")
        assessed = {c: timing.goal(ratios[c]["hmmlearn"], g) for c, g in GOALS.items()}
        for c, a in assessed.items():
            print(f"  {c:<8}{a['ratio']:7.3f}   goal <= {a['goal']}: {timing.verdict(a)}")
    timing.write_json(args.json, {"machine": info, "shape": shape, "repeats": args.repeats,
                                  "correctness": errors, "seconds": results,
                                  "ratios_minirnn_over": ratios, "goals": assessed})


if __name__ == "__main__":
    main()
