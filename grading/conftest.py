"""The recorder ``minirnn grade`` runs the graded tests with (minirnn/grade.py).

It appends JSON lines to the file named by $MINIRNN_GRADE_RECORD as things happen:
the collected tests with their points, then "start" and "result" of each test. A test
process that dies mid-test leaves a "start" without a "result": that test is blamed.
Without the variable (a plain ``pytest grading/``) it records nothing.
"""
import json
import os
import traceback
from pathlib import Path

import pytest

from minirnn.grade import RECORD, clean

WORK = Path.cwd().resolve()
MESSAGE_LIMIT = 3000          # characters: Numba's typing errors run long


def _write(event):
    if os.environ.get(RECORD):
        with open(os.environ[RECORD], "a", encoding="utf-8") as record:
            record.write(json.dumps(event) + "\n")


def _metadata(item):
    """The test's points, visibility, concept and name (its docstring's first line)."""
    declared = getattr(item.function, "graded", None)
    if declared is None:
        raise pytest.UsageError(f"{item.nodeid}: a graded test needs @graded(points, visibility)")
    hidden_file = "hidden" in Path(item.path).parent.name
    if hidden_file != (declared["visibility"] != "visible"):
        raise pytest.UsageError(f"{item.nodeid}: visibility {declared['visibility']!r} "
                                "belongs in grading/" + ("" if hidden_file else "hidden/"))
    doc = (item.function.__doc__ or item.name).strip().splitlines()[0]
    return {"id": item.nodeid, "concept": Path(item.path).stem.removeprefix("test_"),
            "name": doc, **declared}


def pytest_collection_finish(session):
    _write({"event": "collected", "tests": [_metadata(item) for item in session.items]})


def pytest_runtest_logstart(nodeid, location):
    _write({"event": "start", "id": nodeid})


def explain(excinfo):
    """What went wrong: a failed check's own message, or the exception and where in
    the submission's code it was raised."""
    error = excinfo.value
    if isinstance(error, AssertionError) and str(error):
        return str(error)
    text = f"{type(error).__name__}: {error}"
    frames = [f for f in traceback.extract_tb(excinfo.tb)
              if Path(f.filename).resolve().is_relative_to(WORK / "minirnn")]
    if frames:
        text += f"\n(raised at {Path(frames[-1].filename).resolve().relative_to(WORK)}:" \
                f"{frames[-1].lineno}, in {frames[-1].name})"
    text = clean(text, WORK)
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "\n[... cut]"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if report.passed:
            said = "passed"
        elif report.skipped:
            said = "skipped: a graded test must run"
        else:
            said = explain(call.excinfo)
        _write({"event": "result", "id": item.nodeid, "passed": report.passed, "output": said})
