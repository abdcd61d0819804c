"""Make a student copy of minirnn: solution regions become ``NotImplementedError``
(``docs/instructors.rst``).

The rules:

* A region starts at a line ``# BEGIN SOLUTION <text>`` and ends at the next line
  ``# END SOLUTION`` (the markers nbgrader and otter use); both are comment lines, so
  marking code changes nothing it does.
* Stripping replaces the whole region, marker lines included, by one line
  ``raise NotImplementedError("<file>: implement <text>")`` indented like the BEGIN
  line. The text should name what to write and the docs' equations, e.g.
  ``# BEGIN SOLUTION eqs. (4)-(5) of docs/lstm.rst: the cell state and hidden state``;
  without it the message says ``implement the marked solution``.
* A BEGIN inside an open region, an END without a BEGIN, a BEGIN never closed, or a
  BEGIN indented unlike the region's first line of code (its ``raise`` would not
  compile) is refused with ``file:line``: nothing is written.
* A stripped file has no markers left, so stripping it again changes nothing.
* In a Numba kernel the ``raise`` still compiles (a constant message). Put a region
  where the code after it does not need its values, e.g. the body of a loop. A helper
  whose whole body is stripped returns nothing, so a caller that uses its values fails
  to type instead of raising; such a helper may be stripped only when every call of it
  is inside a region too: the caller then raises first, and Numba never compiles the
  helper (tests/test_assign.py checks this for the shared scalar helpers).

``make_assignment`` copies the project (what ``git ls-files`` lists in a git checkout,
else the package and the files around it, never .venv, runs/ or build output) and
strips the files of the chosen concepts (``CONCEPTS``; all of them when none are
chosen; other files keep their markers, such as the examples in tests). The hidden
graded tests (``grading/hidden/``) stay out of the copy.
"""
import json
import re
import shutil
import subprocess
from pathlib import Path

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION\b[ \t]*(?P<text>.*?)[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
CODE = re.compile(r"^(?P<indent>[ \t]*)[^ \t#]")        # a line that is not blank or a comment

CONCEPTS = {                                  # concept -> files holding its regions
    "elman": ["minirnn/kernels/elman.py"],
    "lstm": ["minirnn/kernels/lstm.py"],
    "gru": ["minirnn/kernels/gru.py"],
    "birnn": ["minirnn/birnn.py"],
    "hmm": ["minirnn/kernels/hmm.py"],
    "lds": ["minirnn/kernels/lds.py"],
    "esn": ["minirnn/esn.py"],
    "ar": ["minirnn/ar.py"],
    "attention": ["minirnn/attention.py", "minirnn/kernels/attention.py"],
    "gcn": ["minirnn/gcn.py"],
}

# Copied when the source is not a git checkout.
PROJECT_FILES = ["minirnn", "tests", "grading", "docs", "benchmarks", "datasets", "setup.cfg",
                 "pyproject.toml", "README.md", "LICENSE"]
NEVER = {".venv", "venv", "runs", "build", "dist", "_build", "__pycache__", ".git",
         ".pytest_cache"}
# The graded tests students do not see (minirnn/grade.py): the autograder has them.
HIDDEN_TESTS = "grading/hidden/"


class MarkerError(ValueError):
    """Unbalanced or nested solution markers, named by file:line."""


def regions(text, name="<text>"):
    """The regions of ``text`` as (begin, end, indent, text) with 0-based line indices
    of the marker lines; MarkerError on nested or unbalanced markers, or a BEGIN
    indented unlike the code it marks."""
    found, open_, lines = [], None, text.splitlines()
    for k, line in enumerate(lines):
        begin = BEGIN.match(line)
        if begin and open_ is not None:
            raise MarkerError(f"{name}:{k + 1}: BEGIN SOLUTION inside the region opened at "
                              f"line {open_[0] + 1}; close it with END SOLUTION first")
        if begin:
            open_ = (k, begin["indent"], begin["text"])
        elif END.match(line):
            if open_ is None:
                raise MarkerError(f"{name}:{k + 1}: END SOLUTION without a BEGIN SOLUTION")
            _check_indent(lines, open_[0], k, open_[1], name)
            found.append((open_[0], k, open_[1], open_[2]))
            open_ = None
    if open_ is not None:
        raise MarkerError(f"{name}:{open_[0] + 1}: BEGIN SOLUTION never closed by END SOLUTION")
    return found


def _check_indent(lines, begin, end, indent, name):
    """The raise replacing a region takes the BEGIN line's indentation: that of the
    region's first line of code, or it would not compile."""
    for k in range(begin + 1, end):
        code = CODE.match(lines[k])
        if code:
            if code["indent"] != indent:
                raise MarkerError(f"{name}:{begin + 1}: BEGIN SOLUTION is indented unlike the "
                                  f"code it marks (line {k + 1}), so the raise replacing the "
                                  "region would not compile; indent the marker like that line")
            return


def message(name, text):
    """What a stripped region says: the file, and what to implement."""
    return f"{name}: implement {text or 'the marked solution'}"


def strip(text, name="<text>"):
    """``text`` with each region replaced by its ``raise NotImplementedError(...)``."""
    lines = text.splitlines(keepends=True)
    for begin, end, indent, what in reversed(regions(text, name)):
        newline = "\n" if lines[end].endswith("\n") else ""
        raise_ = f"{indent}raise NotImplementedError({json.dumps(message(name, what), ensure_ascii=False)})"
        lines[begin:end + 1] = [raise_ + newline]
    return "".join(lines)


def project_files(source):
    """Paths (relative) of the project at ``source``: ``git ls-files`` in a checkout."""
    source = Path(source)
    try:
        listed = subprocess.run(["git", "-C", str(source), "ls-files", "-z"], check=True,
                                capture_output=True, text=True).stdout.split("\0")
        return sorted(p for p in listed if p and (source / p).is_file())
    except (OSError, subprocess.CalledProcessError):
        pass
    found = []
    for top in PROJECT_FILES:
        paths = [source / top] if (source / top).is_file() else sorted((source / top).rglob("*"))
        for path in paths:
            rel = path.relative_to(source)
            if (path.is_file() and not NEVER.intersection(rel.parts)
                    and path.suffix != ".pyc" and not rel.parts[0].endswith(".egg-info")):
                found.append(rel.as_posix())
    return found


def files_to_strip(only=None):
    """The files whose regions are stripped: those of the concepts in ``only``, or of
    every concept. Only those: the marker examples in tests and docs stay as they are.
    Unknown concepts are a ValueError."""
    only = only or CONCEPTS
    unknown = sorted(set(only) - set(CONCEPTS))
    if unknown:
        raise ValueError(f"unknown concept(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(CONCEPTS)}")
    return {path for name in only for path in CONCEPTS[name]}


def make_assignment(source, out, only=None):
    """Write the student copy of the project at ``source`` into ``out`` (new or empty);
    returns {file: regions stripped}. Every file is checked before anything is written."""
    source, out = Path(source), Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; give a new or empty folder")
    chosen = files_to_strip(only)
    copies, stripped = {}, {}
    for rel in (p for p in project_files(source) if not p.startswith(HIDDEN_TESTS)):
        if rel in chosen:
            text = (source / rel).read_text(encoding="utf-8")
            count = len(regions(text, rel))
            if count:
                copies[rel], stripped[rel] = strip(text, rel), count
        copies.setdefault(rel, None)
    for rel, text in copies.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            shutil.copy2(source / rel, target)
        else:
            target.write_text(text, encoding="utf-8")
    return stripped
