"""Judge the goals by several runs: each script's goal ratios over fresh processes.

One run's ratio moves with the machine's slow and quick spells, which on a shared or
virtual machine last minutes, longer than a run (benchmarks/README.md, "Reading the
output"). So a goal near its bound is judged here on the median over several runs:
the scripts named (those that assess goals: lstm, gru, hmm, lds) run in turn, each
run a fresh process writing its JSON report, and each goal's ratios are summarised as
median, range and the number of runs that met it, with the GEMM floor where the
script measures one.

Run from the repository root: ``python benchmarks/spread.py [--runs N] [--pause S]
[--json PATH] SCRIPT... [OPTIONS FOR THE SCRIPTS]``, e.g. ``python
benchmarks/spread.py lstm gru --runs 6``, or ``minirnn bench spread ...``. Options it
does not know (``--quick``, ``--repeats N``) go to every script. Ctrl-C ends it early
with the summary of the runs done.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WITH_GOALS = ("lstm", "gru", "hmm", "lds")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scripts", nargs="+", choices=WITH_GOALS, metavar="SCRIPT",
                   help=f"benchmarks to run, of {', '.join(WITH_GOALS)}")
    p.add_argument("--runs", type=int, default=5, help="runs of each script (default: 5)")
    p.add_argument("--pause", type=float, default=0.0,
                   help="seconds between runs, to spread them over the machine's spells")
    p.add_argument("--json", metavar="PATH", help="also write every run's goals to PATH")
    args, args.script_options = p.parse_known_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def run_once(script, options, folder):
    """One fresh process of benchmarks/<script>.py: its goals {label: goal}, or an
    exception with the end of its output when it failed or assessed none."""
    report = Path(folder) / f"{script}.json"
    done = subprocess.run([sys.executable, str(HERE / f"{script}.py"), *options, "--json",
                           str(report)], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{script}.py exited with {done.returncode}:\n"
                           + (done.stdout + done.stderr)[-2000:])
    goals = json.loads(report.read_text())["goals"]
    if not goals:
        raise RuntimeError(f"{script}.py assessed no goals (its reference library is missing)")
    return goals


def summarise(runs):
    """{(script, label): [goal of each run]} -> the printed table."""
    print(f"\n{'script':<9}{'goal':<20}{'bound':>6}{'median':>8}{'range':>13}"
          f"{'met':>7}{'floor':>7}  verdict on the median")
    for (script, label), goals in runs.items():
        ratios = [g["ratio"] for g in goals]
        bound, median = goals[0]["goal"], statistics.median(ratios)
        span = f"{min(ratios):.3f}-{max(ratios):.3f}"
        met = f"{sum(g['met'] for g in goals)}/{len(goals)}"
        floors = [g["floor"] for g in goals if "floor" in g]
        floor = f"{statistics.median(floors):.3f}" if floors else ""
        verdict = "met" if median <= bound else "NOT met"
        print(f"{script + '.py':<9}{label:<20}{bound:>6g}{median:>8.3f}{span:>13}{met:>7}"
              f"{floor:>7}  {verdict}")


def main(argv=None):
    args = parse_args(argv)
    runs = {}
    total = args.runs * len(args.scripts)
    names = ", ".join(f"{script}.py" for script in args.scripts)
    options = f" {' '.join(args.script_options)}" if args.script_options else ""
    print(f"{args.runs} run{'s' * (args.runs != 1)} of {names}{options}, in turn, each a fresh "
          "process; ratios = minirnn time / reference time, from each run's min")
    failed = None
    try:
        with tempfile.TemporaryDirectory() as folder:
            for k in range(total):
                script = args.scripts[k % len(args.scripts)]
                if k and args.pause:
                    time.sleep(args.pause)
                start = time.perf_counter()
                goals = run_once(script, args.script_options, folder)
                for label, g in goals.items():
                    runs.setdefault((script, label), []).append(g)
                ratios = "  ".join(f"{label} {g['ratio']:.3f}" for label, g in goals.items())
                print(f"  run {k + 1}/{total} {script + '.py':<8}"
                      f"{time.perf_counter() - start:5.0f} s  {ratios}", flush=True)
    except KeyboardInterrupt:
        print("  interrupted: the summary covers the runs done")
    except RuntimeError as error:
        failed = f"spread.py: {error}"
    if runs:
        summarise(runs)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {f"{script}.py {label}": goals for (script, label), goals in runs.items()}, indent=2))
        print(f"\nEvery run's goals written to {args.json}")
    if failed:
        sys.exit(failed)


if __name__ == "__main__":
    main()
