"""minirnn.assign: the stripping rules on small texts, and the student copy of this
project (it imports, its CLI runs, and each concept's functions raise the message)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from minirnn import assign
from minirnn.cli import main

ROOT = Path(__file__).resolve().parents[1]

MARKED = textwrap.dedent('''\
    def step(x):
        """Doc."""
        y = 2 * x
        for k in range(3):
            # BEGIN SOLUTION eq. (4) of docs/toy.rst: the update
            y += k
            y *= 2
            # END SOLUTION
        # BEGIN SOLUTION
        return y
        # END SOLUTION
    ''')

STRIPPED = textwrap.dedent('''\
    def step(x):
        """Doc."""
        y = 2 * x
        for k in range(3):
            raise NotImplementedError("toy.py: implement eq. (4) of docs/toy.rst: the update")
        raise NotImplementedError("toy.py: implement the marked solution")
    ''')


def test_strip_replaces_each_region_by_a_raise_at_its_begin_indentation():
    assert assign.strip(MARKED, "toy.py") == STRIPPED


def test_strip_is_idempotent_and_leaves_unmarked_text_alone():
    assert assign.strip(STRIPPED, "toy.py") == STRIPPED
    plain = "x = 1\n# BEGIN SOLUTIONS is not a marker\n"
    assert assign.strip(plain, "p.py") == plain


def test_nested_markers_are_refused_with_file_and_line():
    text = "# BEGIN SOLUTION a\nx = 1\n    # BEGIN SOLUTION b\n# END SOLUTION\n# END SOLUTION\n"
    with pytest.raises(assign.MarkerError, match=r"^n\.py:3: BEGIN SOLUTION inside the region opened at line 1"):
        assign.strip(text, "n.py")


@pytest.mark.parametrize("text, where", [
    ("x = 1\n# END SOLUTION\n", r"^u\.py:2: END SOLUTION without a BEGIN"),
    ("x = 1\n\n  # BEGIN SOLUTION\nx = 2\n", r"^u\.py:3: BEGIN SOLUTION never closed"),
])
def test_unbalanced_markers_are_refused_with_file_and_line(text, where):
    with pytest.raises(assign.MarkerError, match=where):
        assign.strip(text, "u.py")


def test_make_assignment_checks_every_file_before_writing(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    (src / "minirnn" / "kernels").mkdir(parents=True)
    good, bad = (src / f for f in (*assign.CONCEPTS["lstm"], *assign.CONCEPTS["gru"]))
    good.write_text(MARKED)
    bad.write_text("# BEGIN SOLUTION\n")
    (src / "minirnn" / "__pycache__").mkdir()
    (src / "minirnn" / "__pycache__" / "good.cpython-312.pyc").write_bytes(b"")
    (src / "runs").mkdir()
    (src / "runs" / "log.txt").write_text("not copied")
    with pytest.raises(assign.MarkerError, match=r"minirnn/kernels/gru\.py:1"):
        assign.make_assignment(src, out)
    assert not out.exists()
    bad.write_text("x = 1\n")
    assert assign.make_assignment(src, out) == {"minirnn/kernels/lstm.py": 2}
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == \
        ["minirnn/kernels/gru.py", "minirnn/kernels/lstm.py"]
    assert (out / "minirnn" / "kernels" / "lstm.py").read_text() == \
        STRIPPED.replace("toy.py", "minirnn/kernels/lstm.py")


def test_only_names_unknown_concepts_and_the_valid_ones(tmp_path):
    result = CliRunner().invoke(main, ["assign", str(tmp_path / "out"), "--only", "lstm,rnnn"])
    assert result.exit_code == 2
    assert "unknown concept(s) rnnn" in result.output and "elman, lstm, gru" in result.output


@pytest.mark.parametrize("concept", sorted(assign.CONCEPTS))
def test_every_concept_has_a_region_in_the_project(concept):
    counts = [len(assign.regions((ROOT / f).read_text(), f)) for f in assign.CONCEPTS[concept]]
    assert sum(counts) >= 1


# Called in the student copy: each forward (and the BPTT kernels) must raise the
# NotImplementedError of the first region it reaches.
CALLS = textwrap.dedent('''\
    import numpy as np
    from minirnn import attention, elman, esn, gcn, gru, hmm, lds, lstm
    from minirnn import kernels as K
    import minirnn.kernels.attention, minirnn.kernels.elman, minirnn.kernels.gru, minirnn.kernels.lstm
    rng = np.random.default_rng(0)
    z, n = lambda *shape: np.zeros(shape), np.full(2, 3, np.int64)    # 2 sequences of 3 steps
    x = rng.standard_normal((3, 2, 4))
    q = rng.standard_normal((2, 2, 4))
    A_hat = gcn.normalized_adjacency(np.array([[0, 1], [1, 2]]), 3)
    lds_params = {"F": 0.5 * np.eye(2), "H": np.eye(2), "Q": np.eye(2), "R": np.eye(2),
                  "mu0": np.zeros(2), "P0": np.eye(2)}
    calls = {
        "elman": lambda: elman.forward(elman.init(rng, 4, 3, np.float64), x),
        "lstm": lambda: lstm.forward(lstm.init(rng, 4, 3, np.float64), x),
        "gru": lambda: gru.forward(gru.init(rng, 4, 3, np.float64), x),
        "hmm": lambda: hmm.forward(hmm.init_categorical(rng, 2, 3), np.array([[0], [2], [1]])),
        "lds": lambda: lds.filter(lds_params, rng.standard_normal((3, 2))),
        "esn": lambda: esn.fit_readout(rng.standard_normal((5, 3)), rng.standard_normal((5, 1)), 1e-3),
        "attention": lambda: attention.dot_product_forward(q, q, q),
        "gcn": lambda: gcn.forward(gcn.init(rng, [4, 2], np.float64), A_hat, rng.standard_normal((3, 4))),
        "elman-bptt": lambda: K.elman.backward_cpu(z(3, 2, 2), z(3, 2, 2), z(2, 2), n, 0),
        "lstm-bptt": lambda: K.lstm.backward_cpu(z(3, 2, 2), z(3, 2, 8), z(3, 2, 2), z(3, 2, 2),
                                                 z(2, 2), z(2, 8), None, n),
        "gru-bptt": lambda: K.gru.backward_cpu(z(3, 2, 2), z(2, 2), z(3, 2, 2), z(3, 2, 6),
                                               z(3, 2, 2), z(2, 6), "after"),
        "softmax-backward": lambda: K.attention.softmax_backward_cpu(z(1, 2, 2), z(1, 2, 2), z(1, 2, 2)),
    }
    for name, call in calls.items():
        try:
            call()
            print(name, "returned")
        except NotImplementedError as error:
            print(name, error)
    ''')

EXPECTED = {
    "elman": "minirnn/kernels/elman.py: implement eqs. (1)-(3) of docs/elman.rst",
    "lstm": "minirnn/kernels/lstm.py: implement eqs. (1)-(5) of docs/lstm.rst",
    "gru": "minirnn/kernels/gru.py: implement eqs. (1)-(2) of docs/gru.rst",
    "hmm": "minirnn/kernels/hmm.py: implement eqs. (2)-(3), (5) of docs/hmm.rst",
    "lds": "minirnn/kernels/lds.py: implement eq. (5) of docs/lds.rst",
    "esn": "minirnn/esn.py: implement eq. (6) of docs/esn.rst",
    "attention": "minirnn/attention.py: implement eq. (1) of docs/attention.rst",
    "gcn": "minirnn/gcn.py: implement eq. (6) of docs/gcn.rst",
    "elman-bptt": "minirnn/kernels/elman.py: implement eqs. (4)-(5) of docs/elman.rst",
    "lstm-bptt": "minirnn/kernels/lstm.py: implement eqs. (7)-(10) of docs/lstm.rst",
    "gru-bptt": "minirnn/kernels/gru.py: implement eqs. (7)-(9) of docs/gru.rst",
    "softmax-backward": "minirnn/kernels/attention.py: implement eq. (7) of docs/attention.rst",
}


def _python(copy, *args, **environ):
    env = {**os.environ, "PYTHONPATH": str(copy), "NUMBA_CACHE_DIR": str(copy / ".numba"), **environ}
    return subprocess.run([sys.executable, *args], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def student_copy(tmp_path_factory):
    out = tmp_path_factory.mktemp("assign") / "copy"
    result = CliRunner().invoke(main, ["assign", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_student_copy_imports_and_its_cli_runs(student_copy):
    assert not (student_copy / ".venv").exists() and not (student_copy / "runs").exists()
    assert (student_copy / "setup.cfg").is_file() and (student_copy / "docs" / "index.rst").is_file()
    imported = _python(student_copy, "-c", "import minirnn, minirnn.lstm; print(minirnn.__file__)")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith(str(student_copy))
    helped = _python(student_copy, "-m", "minirnn.cli", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "assign" in helped.stdout


def test_student_copy_has_no_markers_and_stripping_it_again_changes_nothing(student_copy, tmp_path):
    for rel in assign.CONCEPTS.values():
        for f in rel:
            text = (student_copy / f).read_text()
            assert "SOLUTION" not in text and "raise NotImplementedError(" in text
            assert assign.strip(text, f) == text
    assert assign.make_assignment(student_copy, tmp_path / "again") == {}
    # Files of no concept keep their text, such as the marker examples in this file.
    assert (student_copy / "tests" / "test_assign.py").read_text() == Path(__file__).read_text()


def test_every_marked_file_of_the_package_belongs_to_a_concept():
    marked = {p.relative_to(ROOT).as_posix() for p in (ROOT / "minirnn").rglob("*.py")
              if assign.regions(p.read_text(), str(p))}
    assert marked <= {f for files in assign.CONCEPTS.values() for f in files}


def test_student_copy_functions_raise_what_to_implement(student_copy):
    ran = _python(student_copy, "-c", CALLS)
    assert ran.returncode == 0, ran.stderr
    said = dict(line.split(" ", 1) for line in ran.stdout.splitlines())
    assert set(said) == set(EXPECTED)
    for name, start in EXPECTED.items():
        assert said[name].startswith(start), (name, said[name])


def test_only_strips_the_named_concepts(tmp_path):
    stripped = assign.make_assignment(ROOT, tmp_path / "out", ["lstm", "attention"])
    assert set(stripped) == {"minirnn/kernels/lstm.py", "minirnn/attention.py",
                             "minirnn/kernels/attention.py"}
    assert "# BEGIN SOLUTION" in (tmp_path / "out" / "minirnn" / "kernels" / "gru.py").read_text()


def test_student_copy_cuda_twin_raises_under_the_simulator(student_copy):
    call = ("import numpy as np\nfrom minirnn import lstm\nrng = np.random.default_rng(0)\n"
            "try:\n    lstm.forward(lstm.init(rng, 2, 2, np.float64), np.zeros((2, 1, 2)), device='cuda')\n"
            "except NotImplementedError as error:\n    print(error)\n")
    ran = _python(student_copy, "-c", call, NUMBA_ENABLE_CUDASIM="1")
    assert ran.returncode == 0, ran.stderr
    # the simulator prefixes the thread: "tid=[0, 0, 0] ctaid=[0, 0, 0]: minirnn/..."
    assert ("minirnn/kernels/lstm.py: implement eqs. (1)-(5) of docs/lstm.rst: "
            "gates, c_t, h_t, one unit per thread") in ran.stdout, ran.stdout
