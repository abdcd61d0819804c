"""Sphinx configuration for the minirnn documentation.

Build (warnings are errors):
    sphinx-build -W -b html docs docs/_build/html
"""
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))          # import minirnn from this checkout
sys.path.insert(0, str(DOCS / "_ext"))         # the :src: role (coderefs.py)

project = "minirnn"
author = "minirnn contributors"
copyright = "minirnn contributors"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    # Copies MathJax 3 into _static/mathjax and points mathjax_path at it, so the
    # equations render without any network access.
    "sphinx-mathjax-offline",
    "coderefs",
]

root_doc = "index"
exclude_patterns = ["_build", "_generated", "results"]
html_theme = "alabaster"
html_static_path = ["_static"]
# Room for the code listings: the source is written to 99 columns, which alabaster's
# default 940 px page (800 px body) cut off mid-line; prose stays at a readable width
# through custom.css.
html_theme_options = {"page_width": "1180px", "body_max_width": "none"}

# Equation numbers. Sphinx counts displayed equations per page with math_numfig off;
# with math_numfig (and numfig) on and no numbered toctree it counts them across the
# whole site, so the equations of elman.rst would no longer be (1)..(7) as the code
# comments say. Hence numfig for figures and tables, per-page numbers for equations.
numfig = True
math_numfig = False
math_eqref_format = "({number})"

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}


# ---------------------------------------------------------------- CLI reference text

def _write_cli_reference():
    """Run every ``minirnn ... --help`` through Click's test runner into _generated/cli.txt."""
    from click.testing import CliRunner

    from minirnn.cli import main

    runner = CliRunner()
    parts = []
    for command in ([], ["list"], ["run"], ["sample"], ["predict"], ["gradcheck"], ["gradflow"],
                    ["bench"], ["assign"], ["grade"]):
        args = [*command, "--help"]
        result = runner.invoke(main, args, prog_name="minirnn", terminal_width=88)
        if result.exit_code != 0:
            raise RuntimeError(f"minirnn {' '.join(args)} failed: {result.output}"
                               f"{result.exception!r}")
        parts.append(f"$ minirnn {' '.join(args)}\n\n{result.output.rstrip()}\n")
    out = DOCS / "_generated" / "cli.txt"
    out.parent.mkdir(exist_ok=True)
    text = "\n\n".join(parts)
    if not out.exists() or out.read_text() != text:   # unchanged file: no rebuild
        out.write_text(text)


_write_cli_reference()
