"""minirnn.assign: the stripping rules on small texts, and the student copy of this
project (it imports, its CLI runs, and each concept's functions raise the message)."""
import os
import re
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


@pytest.mark.parametrize("indent", ["", "            "])
def test_a_marker_indented_unlike_its_code_is_refused_with_file_and_line(indent):
    """Its raise would not compile: at column 0 it ends the loop, deeper it is an
    unexpected indent."""
    text = ("def design(s, p):\n    rows = []\n    for t in range(p, len(s)):\n"
            f"{indent}# BEGIN SOLUTION one design row\n\n        # a comment\n"
            "        rows.append(s[t - p:t])\n# END SOLUTION\n    return rows\n")
    with pytest.raises(assign.MarkerError, match=r"^i\.py:4: BEGIN SOLUTION is indented unlike "
                       r"the code it marks \(line 7\)"):
        assign.strip(text, "i.py")
    compile(assign.strip(text.replace(f"{indent}# BEGIN", "        # BEGIN"), "i.py"), "i.py", "exec")


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
    result = CliRunner().invoke(main, ["assign", str(tmp_path / "out"), "--only", ","])
    assert result.exit_code == 2 and "--only ',' names no concept" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("concept", sorted(assign.CONCEPTS))
def test_every_concept_has_a_region_in_the_project(concept):
    counts = [len(assign.regions((ROOT / f).read_text(), f)) for f in assign.CONCEPTS[concept]]
    assert sum(counts) >= 1


# Called in the student copy: each forward (and the BPTT kernels) must raise the
# NotImplementedError of the first region it reaches (a Numba typing error fails the run).
REPORT = textwrap.dedent('''\
    import re
    for name, call in calls.items():
        try:
            call()
            print(name, "returned")
        except NotImplementedError as error:     # the simulator prefixes "tid=[..] ctaid=[..]: "
            print(name, re.sub(r"^tid=.*?: ", "", str(error)))
    ''')

CALLS = textwrap.dedent('''\
    import numpy as np
    from minirnn import attention, elman, esn, gcn, gru, hmm, lds, lstm
    from minirnn import kernels as K
    import minirnn.kernels.attention, minirnn.kernels.elman, minirnn.kernels.gru, minirnn.kernels.lstm
    rng = np.random.default_rng(0)
    z, n = lambda *shape: np.zeros(shape), np.full(2, 3, np.int64)    # 2 sequences of 3 steps
    ignore = lambda *block: None                 # the BPTT kernels' add_block
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
                                                 z(2, 2), z(2, 8), None, n, ignore),
        "gru-bptt": lambda: K.gru.backward_cpu(z(3, 2, 2), z(2, 2), z(3, 2, 2), z(3, 2, 6),
                                               z(3, 2, 2), z(2, 6), "after", ignore),
        "softmax-backward": lambda: K.attention.softmax_backward_cpu(z(1, 2, 2), z(1, 2, 2), z(1, 2, 2)),
        # the kernels that call a shared scalar helper whose body is stripped too
        "gru-blend": lambda: K.gru._blend_rows(z(2, 6), z(2, 2), n, 0, z(2, 2)),
        "gru-bptt-before": lambda: K.gru.backward_cpu(z(3, 2, 2), z(2, 2), z(3, 2, 2), z(3, 2, 6),
                                                      z(3, 2, 2), z(2, 6), "before", ignore),
        "gru-dr-before": lambda: K.gru._backward_r_rows(z(2, 2), z(2, 6), z(2, 2), 0.0, z(2, 2), z(2, 6)),
        "elman-bptt-relu": lambda: K.elman.backward_cpu(z(3, 2, 2), z(3, 2, 2), z(2, 2), n, 1),
    }
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
    "gru-blend": "minirnn/kernels/gru.py: implement eq. (5) of docs/gru.rst",
    "gru-bptt-before": "minirnn/kernels/gru.py: implement eqs. (7)-(8) of docs/gru.rst",
    "gru-dr-before": "minirnn/kernels/gru.py: implement eqs. (10)-(11) of docs/gru.rst",
    "elman-bptt-relu": "minirnn/kernels/elman.py: implement eqs. (4)-(5) of docs/elman.rst",
}


def _code(line):
    return line.split("#")[0].strip()


def _in_regions(text, name):
    """The set of line indices strictly inside the regions of ``text``."""
    return {k for begin, end, _, _ in assign.regions(text, name) for k in range(begin + 1, end)}


@pytest.mark.parametrize("rel", ["minirnn/kernels/elman.py", "minirnn/kernels/lstm.py",
                                 "minirnn/kernels/gru.py"])
def test_shared_helpers_are_stripped_and_only_called_from_regions(rel):
    """A twin helper (common.twin) whose body is a region returns nothing in the student
    copy: safe only if every call of it is inside a region too, which then raises first."""
    text = (ROOT / rel).read_text()
    lines, inside = text.splitlines(), _in_regions(text, rel)
    helpers = re.findall(r"^(\w+)_cpu, (\w+)_gpu = twin\((\w+)\)$", text, re.M)
    assert helpers
    for cpu, gpu, helper in helpers:
        start = next(k for k, line in enumerate(lines) if line.startswith(f"def {helper}("))
        end = next(k for k in range(start + 1, len(lines)) if lines[k][:1] not in ("", " "))
        returns = [k for k in range(start, end) if re.match(r"return\b", _code(lines[k]))]
        assert returns and all(k in inside for k in returns), f"{helper} answers outside a region"
        calls = [k for k, line in enumerate(lines) if re.search(rf"\b({cpu}_cpu|{gpu}_gpu)\(", line)]
        assert calls, helper
        outside = [k + 1 for k in calls if k not in inside]
        assert not outside, f"{rel}: {helper} called outside a region at lines {outside}"


def test_student_copy_keeps_no_line_of_an_answer(student_copy):
    """Every line of code inside a region (but for lines such as ``for j in range(H):``
    that occur outside regions too) is gone from the student copy."""
    for rel in sorted({f for files in assign.CONCEPTS.values() for f in files}):
        text = (ROOT / rel).read_text()
        lines, inside = text.splitlines(), _in_regions(text, rel)
        elsewhere = {_code(line) for k, line in enumerate(lines) if k not in inside}
        answer = {_code(lines[k]) for k in inside} - elsewhere - {""}
        left = answer & {_code(line) for line in (student_copy / rel).read_text().splitlines()}
        assert not left, (rel, sorted(left))
    lstm = (student_copy / "minirnn/kernels/lstm.py").read_text()
    assert "(1.0 - o)" not in lstm and "(1.0 - tc * tc)" not in lstm         # eqs. (7), (8)


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


def _check_raised(copy, calls, expected, **environ):
    """Run ``calls`` + REPORT in the copy: each call raised the message in ``expected``."""
    ran = _python(copy, "-c", calls + REPORT, **environ)
    assert ran.returncode == 0, ran.stderr
    said = dict(line.split(" ", 1) for line in ran.stdout.splitlines())
    assert set(said) == set(expected)
    for name, start in expected.items():
        assert said[name].startswith(start), (name, said[name])


def test_student_copy_functions_raise_what_to_implement(student_copy):
    _check_raised(student_copy, CALLS, EXPECTED)


def test_only_strips_the_named_concepts(tmp_path):
    stripped = assign.make_assignment(ROOT, tmp_path / "out", ["lstm", "attention"])
    assert set(stripped) == {"minirnn/kernels/lstm.py", "minirnn/attention.py",
                             "minirnn/kernels/attention.py"}
    assert "# BEGIN SOLUTION" in (tmp_path / "out" / "minirnn" / "kernels" / "gru.py").read_text()


CUDA_CALLS = textwrap.dedent('''\
    import numpy as np
    from minirnn import kernels as K, lstm
    import minirnn.kernels.elman, minirnn.kernels.gru, minirnn.kernels.lstm
    z, n = lambda *shape: np.zeros(shape), np.full(1, 2, np.int64)    # 1 sequence of 2 steps
    ignore = lambda *block: None                 # the BPTT kernels' add_block
    calls = {
        "lstm": lambda: lstm.forward(lstm.init(np.random.default_rng(0), 2, 2, np.float64),
                                     z(2, 1, 2), device="cuda"),
        "lstm-bptt": lambda: K.lstm.backward_cuda(z(2, 1, 2), z(2, 1, 8), z(2, 1, 2), z(2, 1, 2),
                                                  z(1, 2), z(2, 8), None, n, ignore),
        "gru-bptt": lambda: K.gru.backward_cuda(z(2, 1, 2), z(1, 2), z(2, 1, 2), z(2, 1, 6),
                                                z(2, 1, 2), z(2, 6), "after", ignore),
        "gru-bptt-before": lambda: K.gru.backward_cuda(z(2, 1, 2), z(1, 2), z(2, 1, 2), z(2, 1, 6),
                                                       z(2, 1, 2), z(2, 6), "before", ignore),
        "elman-bptt": lambda: K.elman.backward_cuda(z(2, 1, 2), z(2, 1, 2), z(2, 2), n, 0),
    }
    ''')

# the twins' BPTT regions name the same equations as the CPU steps'
CUDA_EXPECTED = {
    "lstm": "minirnn/kernels/lstm.py: implement eqs. (1)-(5) of docs/lstm.rst: gates, c_t, h_t, one unit per thread",
    **{name: EXPECTED[name] for name in ("lstm-bptt", "gru-bptt", "gru-bptt-before", "elman-bptt")},
}


def test_student_copy_cuda_twins_raise_under_the_simulator(student_copy):
    _check_raised(student_copy, CUDA_CALLS, CUDA_EXPECTED, NUMBA_ENABLE_CUDASIM="1")
