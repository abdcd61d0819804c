"""The ``:src:`` role: a checked link from a docs page to a function in the code or tests.

``:src:`minirnn/kernels/lstm.py::_cell_step``` renders as ``kernels.lstm._cell_step`` (a
test, ``:src:`tests/test_lstm.py::test_gradcheck_one_step```, as
``test_gradcheck_one_step``) and links to that function's source, with the file's own
line numbers, on a generated page per file (``docs/_code/``, rebuilt from the
``:src:`` references of every page on each build). A reference to a file or a name
that does not exist is a build warning, so with ``sphinx-build -W`` a renamed kernel
or test breaks the build, not the reader's link.
``:src:`text <path::name>``` sets the link text.

Names are top-level functions or classes, or ``Class.method``.
"""
import ast
import re
from functools import cache
from pathlib import Path

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.util.docutils import SphinxRole

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
PAGES = DOCS / "_code"                       # generated, git-ignored
ROLE = re.compile(r":src:`(?:[^`<]*<)?([^`>]+?)>?`")


def split(target):
    """``'tests/test_x.py::test_y'`` -> ``('tests/test_x.py', 'test_y')``."""
    path, sep, name = target.partition("::")
    if not sep or not path.endswith(".py") or not name:
        raise ValueError(f"expected 'path/to/file.py::name', got {target!r}")
    return path, name


@cache
def _definitions(path, mtime):
    """Dotted names of the top-level functions and classes of ``path`` and their methods
    (``mtime`` keys the cache, so a long-running build server sees edits)."""
    tree = ast.parse((ROOT / path).read_text(), filename=path)
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    names = set()
    for node in tree.body:
        if isinstance(node, kinds):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                names.update(f"{node.name}.{m.name}" for m in node.body if isinstance(m, kinds))
    return frozenset(names)


def problem(target):
    """Why ``target`` cannot be linked, or None when it can."""
    try:
        path, name = split(target)
    except ValueError as error:
        return str(error)
    if not (ROOT / path).is_file():
        return f"no file {path} in the repository (renamed or moved? update the page)"
    if name not in _definitions(path, (ROOT / path).stat().st_mtime_ns):
        return f"{path} defines no function or class {name!r} (renamed? update the page)"
    return None


def label(target):
    return "src-" + re.sub(r"[^a-z0-9]+", "-", target.lower()).strip("-")


def shown(path, name):
    """The link text: the dotted name below ``minirnn``, or just a test's name."""
    if path.startswith("tests/"):
        return name
    return f"{page_name(path).removeprefix('minirnn.')}.{name}"


def page_name(path):
    return path.replace("/", ".").removesuffix(".py")


class SrcRole(SphinxRole):
    def run(self):
        text, _, target = self.text.rpartition("<")
        target = target.rstrip(">") if text else self.text
        why = problem(target)
        if why:
            msg = self.inliner.reporter.warning(f":src:`{self.text}`: {why}", line=self.lineno)
            return [nodes.literal(self.rawtext, self.text)], [msg]
        path, name = split(target)
        ref = pending_xref(self.rawtext, refdomain="std", reftype="ref", reftarget=label(target),
                           refexplicit=True, refwarn=True)
        shown_text = text.strip() or shown(path, name)
        ref += nodes.literal(self.rawtext, shown_text, classes=["xref", "src"])
        return [ref], []


def _page(path, citers):
    """The rst of the page for ``path``; ``citers`` maps each cited name to its pages."""
    title = f"``{path}``"
    parts = [":orphan:\n", title, "=" * len(title), "",
             f"The functions of ``{path}`` that the pages cite, with the file's line numbers.", ""]
    for name, docs in sorted(citers.items()):
        heading = f"``{name}``"
        back = ", ".join(f":doc:`/{doc}`" for doc in sorted(docs))
        parts += [f".. _{label(f'{path}::{name}')}:", "", heading, "-" * len(heading), "",
                  f"Cited on {back}.", "",
                  f".. literalinclude:: /../{path}", "   :language: python",
                  f"   :pyobject: {name}", "   :lineno-match:", ""]
    return "\n".join(parts)


def write_pages(app):
    """One page per cited file, with a section per cited name; unchanged files are kept."""
    cited = {}                                   # path -> name -> the docs citing it
    for rst in DOCS.glob("**/*.rst"):
        if PAGES in rst.parents or "_build" in rst.parts:
            continue
        doc = rst.relative_to(DOCS).with_suffix("").as_posix()
        for target in ROLE.findall(rst.read_text()):
            if problem(target) is None:          # the role warns about the others
                path, name = split(target)
                cited.setdefault(path, {}).setdefault(name, set()).add(doc)
    PAGES.mkdir(exist_ok=True)
    wanted = {PAGES / f"{page_name(path)}.rst": _page(path, citers)
              for path, citers in cited.items()}
    for stale in set(PAGES.glob("*.rst")) - set(wanted):
        stale.unlink()
    for file, text in wanted.items():
        if not file.exists() or file.read_text() != text:
            file.write_text(text)


def setup(app):
    app.add_role("src", SrcRole())
    app.connect("builder-inited", write_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
