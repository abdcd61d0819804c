"""minirnn grade: full marks on this project, zero with a reason on a student copy's
stripped concept and full on the rest, crashes, hangs and wrong values that cost only
their own tests, identical results on a second run, Gradescope's schema, and the
Gradescope autograder script.

Each grading compiles the kernels it calls from cold (a fresh NUMBA_CACHE_DIR), so
most tests grade a few concepts only."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from minirnn import assign, grade
from minirnn.cli import main

ROOT = Path(__file__).resolve().parents[1]
TEST_KEYS = {"name", "score", "max_score", "output", "visibility"}


def graded(project, out, *options):
    """minirnn grade PROJECT --json OUT OPTIONS through the CLI: (results, printed)."""
    result = CliRunner().invoke(main, ["grade", str(project), "--json", str(out), *options])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), result.output


def by_concept(results, concept):
    tests = [t for t in results["tests"] if t["name"].startswith(concept + ": ")]
    assert tests, f"no tests of {concept}"
    return tests


@pytest.fixture(scope="module")
def student_copy(tmp_path_factory):
    """The student copy of an assignment on the LSTM."""
    out = tmp_path_factory.mktemp("grade") / "copy"
    assign.make_assignment(ROOT, out, ["lstm"])
    return out


def test_the_reference_gets_full_marks_in_gradescopes_schema(tmp_path):
    results, printed = graded(ROOT, tmp_path / "results.json")
    assert set(results) == {"score", "execution_time", "output", "tests"}
    assert isinstance(results["execution_time"], float) and results["execution_time"] > 0
    for test in results["tests"]:
        assert set(test) == TEST_KEYS, test
        assert test["visibility"] in grade.VISIBILITIES
        assert test["max_score"] > 0 and test["score"] == test["max_score"], test
    assert results["score"] == sum(t["max_score"] for t in results["tests"])
    concepts = [t["name"].split(":")[0] for t in results["tests"]]
    assert list(dict.fromkeys(concepts)) == list(assign.CONCEPTS)      # every concept, in order
    assert len({t["name"] for t in results["tests"]}) == len(results["tests"])
    assert {"visible", "hidden"} <= {t["visibility"] for t in results["tests"]}
    for concept in assign.CONCEPTS:
        points = sum(t["max_score"] for t in by_concept(results, concept))
        assert any(line.split()[:3] == [concept, f"{points:g}", f"{points:g}"]
                   for line in printed.splitlines()), printed


def test_a_stripped_concept_scores_zero_saying_what_to_implement_and_twice_the_same(student_copy,
                                                                                     tmp_path):
    assert not (student_copy / "grading" / "hidden").exists()     # students do not see them
    assert (student_copy / "grading" / "test_lstm.py").is_file()
    first, printed = graded(student_copy, tmp_path / "first.json", "--only", "lstm,esn")
    lstm = by_concept(first, "lstm")
    assert any(t["visibility"] == "hidden" for t in lstm)           # the grader's own tests
    for test in lstm:
        assert test["score"] == 0
        assert test["output"].startswith("NotImplementedError: minirnn/kernels/lstm.py: "
                                         "implement eqs. (1)-(5) of docs/lstm.rst"), test
        assert "raised at minirnn/kernels/lstm.py:" in test["output"]
    assert all(t["score"] == t["max_score"] for t in by_concept(first, "esn"))
    assert [line.split()[:3] for line in printed.splitlines()][1:3] == \
        [["lstm", "0", "7"], ["esn", "6", "6"]]
    # what students see: the visible tests only (docs/instructors.rst's table of points)
    assert [line.split() for line in first["output"].splitlines()][2:] == \
        [["lstm", "0", "5", "0/2"], ["esn", "4", "4", "2/2"], ["total", "4", "9"]]
    second, _ = graded(student_copy, tmp_path / "second.json", "--only", "lstm")
    assert second["tests"] == lstm                  # messages included: no paths, no timings


def test_crashes_a_wrong_value_and_a_missing_file_cost_only_their_own_tests(tmp_path):
    """... and a crash after the last test costs nothing; the output notes it."""
    submission = tmp_path / "submission"
    for concept in ("lstm", "hmm", "attention", "gcn"):
        for rel in assign.CONCEPTS[concept]:
            (submission / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / rel, submission / rel)
    with open(submission / "minirnn/kernels/lstm.py", "a") as kernel:
        kernel.write("\nimport ctypes\nctypes.string_at(0)     # a segmentation fault\n")
    with open(submission / "minirnn/attention.py", "a") as module:
        module.write("\nimport os\nos._exit(3)\n")
    with open(submission / "minirnn/gcn.py", "a") as module:          # crashes at exit
        module.write("\nimport atexit\nimport os\natexit.register(os._exit, 3)\n")
    hmm = (submission / "minirnn/kernels/hmm.py").read_text()
    assert hmm.count("prev[i] * A_T[j, i]") == 1
    (submission / "minirnn/kernels/hmm.py").write_text(          # A where A^T belongs
        hmm.replace("prev[i] * A_T[j, i]", "prev[i] * A_T[i, j]"))
    results, printed = graded(submission, tmp_path / "results.json", "--only", "lstm,hmm,elman,attention,gcn")
    for test in by_concept(results, "lstm"):
        assert test["score"] == 0 and "crashed the test process (SIGSEGV" in test["output"]
    for test in by_concept(results, "attention"):
        assert test["score"] == 0
        assert test["output"].startswith("the test process exited with status 3 while running this test")
    for test in by_concept(results, "hmm"):
        assert test["score"] == 0 and "relative error" in test["output"], test
    loglik = by_concept(results, "hmm")[0]["output"]
    assert loglik.startswith("log P(x) (one per sequence, shape (B,)): relative error")
    assert "expected" in loglik and "got" in loglik
    for test in by_concept(results, "elman"):
        assert test["score"] == 0
        assert test["output"].startswith("minirnn/kernels/elman.py not found in the submission")
    assert all(t["score"] == t["max_score"] for t in by_concept(results, "gcn"))
    note = ("gcn: the test process exited with status 3 after its last test (os._exit or a "
            "crash of the interpreter); the results of its tests stand")
    assert results["output"].endswith("\n" + note) and note in printed


def test_a_test_process_that_dies_between_tests_costs_the_tests_it_did_not_run(tmp_path, monkeypatch):
    """The recorder's events stand in for pytest: one test passes, then the process is
    killed; a pytest that runs no test at all is the grader's own error."""
    tests = [{"id": f"t{k}", "concept": "ar", "name": f"t{k}", "points": 1, "visibility": "visible"}
             for k in range(3)]
    records = [{"event": "collected", "tests": tests}, {"event": "start", "id": "t0"},
               {"event": "result", "id": "t0", "passed": True, "output": "passed"}]
    monkeypatch.setattr(grade, "_run_pytest", lambda *args, **kwargs: (records, -9))
    entries, note = grade.grade_concept(ROOT, "ar", tmp_path / "work", 10)
    not_run = "not run: the test process was killed by SIGKILL before this test"
    assert [(t["score"], t["output"]) for t in entries] == [(1, "passed"), (0, not_run), (0, not_run)]
    assert note is None
    monkeypatch.setattr(grade, "_run_pytest", lambda *args, **kwargs: (records[:1], 2))
    with pytest.raises(grade.GradeError, match="ar: pytest ended with status 2 before any test ran"):
        grade.grade_concept(ROOT, "ar", tmp_path / "work2", 10)


@pytest.mark.parametrize("importing", [
    "    from tests.reference.esn import ar_design\n",
    "    ar_design = importlib.import_module(\n        'tests.reference.esn').ar_design\n",
    "    ar_design = __import__('tests.reference.esn', fromlist=['x']).ar_design\n",
], ids=["import-statement", "importlib.import_module", "__import__"])
def test_a_submission_importing_the_tests_references_scores_zero(tmp_path, importing):
    rel = assign.CONCEPTS["ar"][0]
    text = (ROOT / rel).read_text()
    answer = text[text.index("    A = np.ones"):text.index("    return A, s[p:]")]
    (tmp_path / rel).parent.mkdir(parents=True)
    (tmp_path / rel).write_text(text.replace(answer, "    # from tests import nothing\n"
                                             "    import importlib\n" + importing +
                                             "    A = ar_design(s, p)[0]\n"))
    line = (tmp_path / rel).read_text().splitlines().index(importing.splitlines()[0]) + 1
    results, _ = graded(tmp_path, tmp_path / "results.json", "--only", "ar")
    for test in by_concept(results, "ar"):
        assert test["score"] == 0
        assert test["output"] == (f"minirnn/ar.py:{line}: imports the package tests; a submission "
                                  "may not use the reference implementations of the tests "
                                  "(tests/reference)"), test
    assert grade.tests_imports(ROOT / rel) == []


def test_only_imports_of_tests_by_a_constant_name_are_refused(tmp_path):
    """Strings that only mention tests, other modules, and names built at run time
    (the grader is no sandbox) are not imports of the package tests."""
    path = tmp_path / "submission.py"
    path.write_text("import importlib\n"
                    "name = 'tests.reference'\n"
                    "importlib.import_module('testsuite')\n"
                    "__import__('numpy.tests')\n"
                    "importlib.import_module(name)\n"
                    "print('tests.reference')\n"
                    "importlib.import_module('tests')\n")
    assert grade.tests_imports(path) == [7]


def test_an_endless_loop_is_stopped_and_costs_only_the_test_that_hangs(tmp_path):
    rel = assign.CONCEPTS["esn"][0]
    text = (ROOT / rel).read_text()
    assert text.count("    z_mean, y_mean = ") == 1
    (tmp_path / rel).parent.mkdir(parents=True)
    (tmp_path / rel).write_text(text.replace(          # hangs on the unpenalised readout only
        "    z_mean, y_mean = ", "    while ridge == 0:\n        pass\n    z_mean, y_mean = "))
    results, _ = graded(tmp_path, tmp_path / "results.json", "--only", "esn", "--timeout", "15")
    scores = {t["name"]: (t["score"], t["output"]) for t in by_concept(results, "esn")}
    hung = [name for name, (score, said) in scores.items() if "did not finish within 15 s" in said]
    assert hung == ["esn: fit_readout with ridge 0: ordinary least squares (np.linalg.lstsq)"]
    assert scores[hung[0]][1] == (          # the limit is for the process: it may be slow code
        "the test process did not finish within 15 s (a limit for all the concept's tests it "
        "runs), so the grader stopped it while running this test: an endless loop, or code too slow")
    assert sum(score for score, _ in scores.values()) == 4


def test_unknown_concepts_and_a_missing_folder_are_usage_errors(tmp_path):
    result = CliRunner().invoke(main, ["grade", str(ROOT), "--only", "lstm,rnnn"])
    assert result.exit_code == 2 and "unknown concept 'rnnn'" in result.output
    for empty in ("", ",", " , "):
        result = CliRunner().invoke(main, ["grade", str(ROOT), "--only", empty])
        assert result.exit_code == 2 and "names no concept" in result.output
    result = CliRunner().invoke(main, ["grade", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = CliRunner().invoke(main, ["grade", "--help"])
    assert "for all of a concept's tests, not each test" in " ".join(result.output.split())


def test_a_concept_named_twice_is_graded_once(tmp_path):
    results, printed = graded(ROOT, tmp_path / "results.json", "--only", "ar, ar,ar")
    assert results["score"] == 4 == sum(t["max_score"] for t in results["tests"])   # the docs' table
    assert [line.split()[0] for line in printed.splitlines()[1:3]] == ["ar", "total"]


def test_a_graded_test_declares_points_and_a_known_visibility():
    with pytest.raises(ValueError, match="points: expected a positive number"):
        grade.graded(points=0)
    with pytest.raises(ValueError, match="visibility: expected one of visible, hidden"):
        grade.graded(points=1, visibility="secret")


def test_the_recorder_refuses_a_hidden_test_outside_grading_hidden(tmp_path):
    (tmp_path / "grading" / "hidden").mkdir(parents=True)
    shutil.copyfile(ROOT / "grading" / "conftest.py", tmp_path / "grading" / "conftest.py")
    (tmp_path / "grading" / "test_toy.py").write_text(
        "from minirnn.grade import graded\n\n\n@graded(points=1, visibility='hidden')\n"
        "def test_secret():\n    pass\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), grade.RECORD: str(tmp_path / "record.jsonl")}
    ran = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "grading"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 4
    assert "test_secret: visibility 'hidden' belongs in grading/hidden/" in ran.stdout + ran.stderr


def test_gradescopes_run_autograder_grades_a_zipped_folder_submission(student_copy, tmp_path):
    """run_autograder with /autograder moved to a temporary folder: the submission is
    the student's project folder one level down, as a zip of it unpacks, beside the
    __MACOSX folder of resource files that macOS's Finder adds to a zip."""
    autograder = tmp_path / "autograder"
    kernels = autograder / "submission" / "__MACOSX" / "homework" / "minirnn" / "kernels"
    kernels.mkdir(parents=True)
    (kernels / "._lstm.py").write_bytes(b"\x00\x05\x16\x07")      # AppleDouble, not Python
    shutil.copytree(student_copy / "minirnn", autograder / "submission" / "homework" / "minirnn")
    (autograder / "results").mkdir()
    env = {**os.environ, "AUTOGRADER": str(autograder), "MINIRNN_SOURCE": str(ROOT),
           "MINIRNN_PYTHON": sys.executable, "MINIRNN_GRADE_ONLY": "lstm,esn"}
    script = ROOT / "grading" / "gradescope" / "run_autograder"
    ran = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr
    results = json.loads((autograder / "results" / "results.json").read_text())
    assert all(t["score"] == 0 for t in by_concept(results, "lstm"))
    assert all(t["score"] == t["max_score"] for t in by_concept(results, "esn"))
    assert results["score"] == sum(t["max_score"] for t in by_concept(results, "esn"))
    setup = subprocess.run(["bash", "-n", str(ROOT / "grading" / "gradescope" / "setup.sh")])
    assert setup.returncode == 0
