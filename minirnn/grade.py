"""Graded tests and ``minirnn grade``: Gradescope's ``results.json`` for a submission
(``docs/instructors.rst``, "Grading").

A graded test is a pytest test in ``grading/test_<concept>.py`` (students see it) or
``grading/hidden/test_<concept>.py`` (left out of the student copy), declared with
``@graded(points, visibility)``. It checks the submission against fixed inputs and an
independent answer: the NumPy loops of ``tests/reference``, brute force, closed forms,
or finite differences of a reference forward pass; never the module under test.

How a concept is graded:

* Its working copy is this project's package, ``tests/reference`` and ``grading``
  with only the concept's own files (``assign.CONCEPTS``) taken from the submission. A
  broken file of one concept cannot fail another's tests, and edits a submission makes
  to the tests, the references or the grader are not used. (It is no sandbox: the
  submitted code runs with the grader's rights, as on Gradescope.)
* Its tests run in a pytest subprocess (cwd and PYTHONPATH the working copy, so the
  submitted code is what imports) with the ``grading/conftest.py`` recorder, which
  writes each test's metadata, start and result to a file as they happen. A crash or
  timeout costs the test that was running: the remaining ones run in a new process.
  One between tests costs those not run yet; one after the last test costs nothing,
  and the output notes it. A pytest that runs no test at all is the grader's error.
* ``NUMBA_CACHE_DIR`` is inside the fresh working copy: no compiled kernel of another
  project (the reference, say) can stand in for the submission's.

The results list the tests in a fixed order with messages free of timings and temporary
paths, so the same submission gives the same ``results.json`` except its top-level
``execution_time``.
"""
import ast
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .assign import CONCEPTS

ROOT = Path(__file__).resolve().parents[1]
# What the working copy takes from the grading project (the submission adds its files).
GRADER_FILES = ["minirnn/**/*.py", "tests/__init__.py", "tests/reference/*.py", "grading/**/*.py"]
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
RECORD = "MINIRNN_GRADE_RECORD"           # environment: the recorder's output file
TOLERANCE = 1e-6                          # relative error, as docs/training.rst's checks


class GradeError(RuntimeError):
    """The grader itself failed (its tests, not the submission): no results."""


# --------------------------------------------------------------- declaring tests

def graded(points, visibility="visible"):
    """Mark a graded test with its points and Gradescope visibility; a test that is not
    "visible" belongs in grading/hidden/ (the recorder checks)."""
    if not points > 0:
        raise ValueError(f"points: expected a positive number, got {points!r}")
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility: expected one of {', '.join(VISIBILITIES)}, got {visibility!r}")

    def mark(test):
        test.graded = {"points": points, "visibility": visibility}
        return test
    return mark


# ------------------------------------------- checks whose messages help a student

def _where(index):
    return "(" + ", ".join(str(int(i)) for i in index) + ")"


def check_close(name, got, expected, tol=TOLERANCE):
    """``got`` must be an array of ``expected``'s shape, finite, within relative error
    ``tol`` (normwise, as minirnn.gradcheck.rel_error); the message names the array,
    the shapes or the worst entry."""
    from .gradcheck import rel_error
    expected = np.asarray(expected, np.float64)
    if not isinstance(got, (np.ndarray, float, int, np.floating)):
        raise AssertionError(f"{name}: expected an array of shape {expected.shape}, "
                             f"got {type(got).__name__}")
    got = np.asarray(got, np.float64)
    if got.shape != expected.shape:
        raise AssertionError(f"{name}: expected shape {expected.shape}, got {got.shape}")
    bad = ~np.isfinite(got)
    if bad.any():
        index = np.argwhere(bad)[0] if got.ndim else ()
        raise AssertionError(f"{name}: non-finite value {got[tuple(index)]} at index {_where(index)}")
    error = rel_error(got, expected)
    if error > tol:
        worst = np.unravel_index(np.abs(got - expected).argmax(), got.shape)
        raise AssertionError(f"{name}: relative error {error:.1e} > {tol:.0e}; worst at index "
                             f"{_where(worst)}: expected {expected[worst]:.6g}, got {got[worst]:.6g}")


def numerical_gradients(loss, arrays):
    """{name: dL/d arrays[name]} by centred differences of ``loss()``, a scalar function
    that reads ``arrays`` afresh on each call (minirnn.gradcheck.numerical_gradient)."""
    from .gradcheck import numerical_gradient
    return {name: numerical_gradient(loss, x) for name, x in arrays.items()}


def check_gradients(analytic, numerical, tol=TOLERANCE):
    """Each gradient of ``numerical`` (finite differences of a reference loss) against
    the submission's ``analytic`` one; the message has a line per wrong gradient
    dL/d<name>, since which of them are wrong tells where the mistake is."""
    wrong = []
    for name, expected in numerical.items():
        try:
            if name not in analytic:
                raise AssertionError(f"dL/d{name}: missing from the gradients returned "
                                     f"(got keys {sorted(analytic)})")
            check_close(f"dL/d{name} (backward vs finite differences)", analytic[name], expected, tol)
        except AssertionError as error:
            wrong.append(str(error))
    if wrong:
        raise AssertionError("\n".join(wrong))


# ------------------------------------------------------------ the working copies

def concept_files(concept):
    """The files a submission provides for ``concept``."""
    if concept not in CONCEPTS:
        raise ValueError(f"unknown concept {concept!r}; choose from {', '.join(CONCEPTS)}")
    return CONCEPTS[concept]


def working_copy(submission, concept, work, root=ROOT):
    """Write ``concept``'s working copy into ``work``: ``root``'s GRADER_FILES with the
    concept's files from ``submission``. Returns those missing from the submission."""
    for pattern in GRADER_FILES:
        for path in sorted(root.glob(pattern)):
            target = work / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    missing = []
    for rel in concept_files(concept):
        if (Path(submission) / rel).is_file():
            shutil.copyfile(Path(submission) / rel, work / rel)
        else:
            missing.append(rel)
    (work / "pytest.ini").write_text("[pytest]\n")       # no ini of a folder above applies
    return missing


def _imported_modules(node):
    """The modules an AST node imports by name: an import statement, or a call of
    ``importlib.import_module`` or ``__import__`` whose first argument is a string
    constant (a name built at run time is not seen: the grader is no sandbox)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0:
        return [node.module]
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
            and isinstance(node.args[0].value, str):
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if called in ("import_module", "__import__"):
            return [node.args[0].value]
    return []


def tests_imports(path):
    """Lines of the Python file at ``path`` that import the package ``tests``, whose
    references ship with the visible tests (``_imported_modules``); none when it does
    not parse (its tests then report the syntax error)."""
    try:
        tree = ast.parse(Path(path).read_bytes())
    except (SyntaxError, ValueError):
        return []
    return sorted({node.lineno for node in ast.walk(tree)
                   if any(m.split(".")[0] == "tests" for m in _imported_modules(node))})


def refused(work, concept, missing):
    """Why the submission's files of ``concept`` in ``work`` score 0 without running
    the tests (files ``missing``, or an import of the tests' references), or None."""
    if missing:
        return (f"{', '.join(missing)} not found in the submission: submit the file at "
                "this path inside the project")
    found = [f"{rel}:{line}" for rel in concept_files(concept) for line in tests_imports(work / rel)]
    if found:
        return (f"{', '.join(found)}: imports the package tests; a submission may not use "
                "the reference implementations of the tests (tests/reference)")
    return None


def graded_test_files(work, concept):
    """The concept's graded test files present in ``work`` (visible first)."""
    files = [f"grading/test_{concept}.py", f"grading/hidden/test_{concept}.py"]
    return [f for f in files if (work / f).is_file()]


# -------------------------------------------------------- running one concept

def _run_pytest(work, targets, timeout, collect_only=False):
    """Run pytest on ``targets`` in ``work``, killed after ``timeout`` seconds (for all
    the tests, not each); returns (records, exit status or "timeout"). Records: the
    recorder's events, in order."""
    record = work / "record.jsonl"
    record.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(work), "NUMBA_CACHE_DIR": str(work / ".numba"),
           RECORD: str(record), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
           "NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--import-mode=importlib", "--rootdir", str(work), *targets]
    if collect_only:
        command.append("--collect-only")
    with open(work / "pytest.log", "ab") as log:
        process = subprocess.Popen(command, cwd=work, env=env, stdout=log, stderr=log,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            status = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)         # its whole group: numba threads too
            process.wait()
            status = "timeout"
    lines = record.read_text(encoding="utf-8").splitlines() if record.is_file() else []
    return [json.loads(line) for line in lines if line.endswith("}")], status


def _log_tail(work, lines=30):
    log = work / "pytest.log"
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    return "\n".join(text.splitlines()[-lines:])


def _collected(records, work, concept):
    for event in records:
        if event["event"] == "collected":
            return event["tests"]
    raise GradeError(f"{concept}: the graded tests could not be collected "
                     f"(a grader error, not the submission's):\n{_log_tail(work)}")


def _stopped(status, timeout, when):
    """Why a test process ended ``when`` ("while running this test", ...), in words a
    student can act on."""
    if status == "timeout":
        return (f"the test process did not finish within {timeout} s (a limit for all the "
                f"concept's tests it runs), so the grader stopped it {when}: an endless "
                "loop, or code too slow")
    if status < 0:
        name = signal.Signals(-status).name
        if name in ("SIGSEGV", "SIGBUS", "SIGABRT"):
            return (f"crashed the test process ({name}, a memory fault) {when}: a kernel probably "
                    "reads or writes outside an array (Numba does not check bounds; run "
                    "the test with NUMBA_BOUNDSCHECK=1 to get an IndexError where it happens)")
        return f"the test process was killed by {name} {when}"
    return (f"the test process exited with status {status} {when} "
            "(os._exit or a crash of the interpreter)")


def grade_concept(submission, concept, work, timeout):
    """Results of ``concept``'s graded tests on ``submission``, in collection order
    (dicts with name, score, max_score, output, visibility), and a note when the test
    process crashed after its last test (or None)."""
    missing = working_copy(submission, concept, work)
    files = graded_test_files(work, concept)
    said = refused(work, concept, missing)
    if said:
        records, _ = _run_pytest(work, files, timeout, collect_only=True)
        return [_entry(test, False, said) for test in _collected(records, work, concept)], None
    tests, results, targets, note = None, {}, files, None
    while targets:
        records, status = _run_pytest(work, targets, timeout)
        tests = tests or _collected(records, work, concept)
        started = [e["id"] for e in records if e["event"] == "start"]
        results.update({e["id"]: (e["passed"], e["output"]) for e in records if e["event"] == "result"})
        if not started:                       # the submission runs only inside tests
            raise GradeError(f"{concept}: pytest ended with status {status} before any "
                             f"test ran (a grader error):\n{_log_tail(work)}")
        unfinished = [i for i in started if i not in results]
        if unfinished:                        # the process died inside this test
            results[unfinished[0]] = (False, _stopped(status, timeout, "while running this test"))
        remaining = [t["id"] for t in tests if t["id"] not in results]
        if not unfinished and status not in (0, 1):   # it died between tests or at exit
            for i in remaining:
                results[i] = (False, "not run: " + _stopped(status, timeout, "before this test"))
            if not remaining:
                note = (f"{concept}: {_stopped(status, timeout, 'after its last test')}; "
                        "the results of its tests stand")
            remaining = []
        targets = remaining
    return [_entry(test, *results[test["id"]]) for test in tests], note


def _entry(test, passed, output):
    return {"name": f"{test['concept']}: {test['name']}",
            "score": test["points"] if passed else 0, "max_score": test["points"],
            "output": "passed" if passed else output, "visibility": test["visibility"]}


# ------------------------------------------------------------------ the whole run

def grade(submission, only=None, timeout=300):
    """Gradescope's results (a dict for results.json) of the concepts in ``only`` (all
    when None) on the project or files at ``submission``, and the instructor's report.
    Both have a table of points and notes of crashes after the last test; the results'
    ``output``, which students see, counts the visible tests only."""
    if not (ROOT / "grading").is_dir():
        raise GradeError(f"{ROOT / 'grading'} not found: the graded tests ship with the "
                         "source checkout (git clone), not with an installed wheel")
    if importlib.util.find_spec("pytest") is None:
        raise GradeError("minirnn grade runs the graded tests with pytest: pip install -e '.[test]'")
    concepts = list(dict.fromkeys(only or CONCEPTS))       # each once
    for concept in concepts:
        concept_files(concept)
    if not Path(submission).is_dir():
        raise ValueError(f"{submission} is not a folder: give the project (or submission) folder")
    start = time.monotonic()
    tests, notes = [], []
    with tempfile.TemporaryDirectory(prefix="minirnn-grade-") as tmp:
        for concept in concepts:
            concept_tests, note = grade_concept(Path(submission).resolve(), concept,
                                                Path(tmp) / concept, timeout)
            tests += concept_tests
            notes += [note] if note else []
    visible = [t for t in tests if t["visibility"] == "visible"]
    results = {"score": sum(t["score"] for t in tests), "tests": tests,
               "output": "\n".join(["visible tests:"] + summary(visible) + notes),
               "execution_time": round(time.monotonic() - start, 1)}
    return results, "\n".join(summary(tests) + notes)


def summary(tests):
    """A table of ``tests``, one line per concept (in grading order): points scored,
    maximum, tests passed; then the total."""
    rows = {}
    for test in tests:
        concept = test["name"].split(":", 1)[0]
        got, best, passed, count = rows.get(concept, (0, 0, 0, 0))
        rows[concept] = (got + test["score"], best + test["max_score"],
                         passed + (test["score"] == test["max_score"]), count + 1)
    lines = [f"{'concept':<12}{'points':>8}{'max':>6}   tests passed"]
    lines += [f"{c:<12}{got:>8g}{best:>6g}   {passed}/{count}" for c, (got, best, passed, count) in rows.items()]
    total = [sum(row[k] for row in rows.values()) for k in (0, 1)]
    lines.append(f"{'total':<12}{total[0]:>8g}{total[1]:>6g}")
    return lines


def clean(text, work):
    """A message without the working copy's temporary path, memory addresses or
    terminal colours, so it reads the same on every run."""
    text = text.replace(str(work) + os.sep, "").replace(str(work), ".")
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return re.sub(r"0x[0-9a-fA-F]{6,}", "0x...", text)
