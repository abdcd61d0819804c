"""The docs site: its pages point at code and tests that exist, and it works offline.

The reference checks read the .rst sources. The others build the site once for the
module (``sphinx-build -W``, about 20 s) into a temporary folder and read the HTML; they
are skipped where Sphinx or sphinx-mathjax-offline is not installed (``pip install -e
".[docs]"``). The rendering check also needs Debian's ``chromium`` and is skipped without it.
"""
import ast
import importlib
import importlib.util
import re
import shutil
import subprocess
import sys
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONCEPTS = ("elman", "lstm", "gru", "birnn", "hmm", "lds", "esn", "ar", "attention", "gcn")
WITHOUT_KERNEL = {"birnn": "composes the cells' kernels", "ar": "a least-squares fit"}
# Task page -> the figures it shows (docs/figures/); every one names the machine.
TASKS = {"charlm": (), "sentiment": (), "embeddings": (), "seq2seq": ("seq2seq-attention.png",),
         "hmm": ("hmm_casino.png",), "lds": ("lds-tracking.png",), "gradflow": ("gradflow.png",),
         "esn": ("esn-mackey-glass.png", "ar-mackey-glass.png"), "gcn": ("gcn_depth.png",)}
MACHINE = "AMD EPYC, 2 cores"
SECTION = "Where the code computes it"

SRC_ROLE = re.compile(r":src:`(?:[^`<]*<)?([^`<>]+)>?`")
PY_ROLE = re.compile(r":(?:func|mod|class|meth|attr|data):`~?([\w.]+)`")
# A repository path in running text (not the ../minirnn/... of a literalinclude, which
# Sphinx checks itself), with an optional pytest-style ::name.
PATH = re.compile(r"(?<![\w/.])((?:minirnn|tests|benchmarks|docs)/[\w/.-]+\.py)(?:::([\w.]+))?")


def pages():
    return sorted(p for p in DOCS.glob("**/*.rst")
                  if not {"_build", "_code", "_generated"} & set(p.relative_to(DOCS).parts))


@cache
def defined_names(path):
    tree = ast.parse((ROOT / path).read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                names |= {f"{node.name}.{m.name}" for m in node.body
                          if isinstance(m, ast.FunctionDef)}
    return names


def section(page, title):
    """The text of one top-level section of docs/<page>.rst, up to the next heading."""
    lines = (DOCS / f"{page}.rst").read_text().splitlines()
    starts = [i for i in range(len(lines) - 1) if lines[i + 1] and set(lines[i + 1]) == {"-"}
              and len(lines[i + 1]) >= len(lines[i]) > 0]
    mine = [i for i in starts if lines[i] == title]
    assert mine, f"docs/{page}.rst has no section {title!r}"
    end = min([i for i in starts if i > mine[0]], default=len(lines))
    return "\n".join(lines[mine[0]:end])


# ------------------------------------------------------------------ the .rst sources

@pytest.mark.parametrize("page", CONCEPTS)
def test_every_concept_page_maps_its_equations_to_code_and_tests(page):
    text = section(page, SECTION)
    targets = SRC_ROLE.findall(text)
    code = "minirnn/" if page in WITHOUT_KERNEL else "minirnn/kernels/"
    assert any(t.startswith(code) for t in targets), f"{page}: no {code} function in {SECTION!r}"
    assert any(t.startswith("tests/test_") for t in targets), f"{page}: no test in {SECTION!r}"
    assert ":eq:`" in text, f"{page}: {SECTION!r} names no equation"


@pytest.mark.parametrize("page", CONCEPTS)
def test_every_numbered_equation_of_a_concept_page_is_in_its_table(page):
    """A new equation on a page must say where it is computed (or, below the table,
    that it is analysis); ":eq:`a` to :eq:`b`" covers the equations between a and b."""
    labels = re.findall(r":label: (\S+)", (DOCS / f"{page}.rst").read_text())
    text = section(page, SECTION)
    covered = set(re.findall(r":eq:`([^`]+)`", text))
    for first, last in re.findall(r":eq:`([^`]+)` to :eq:`([^`]+)`", text):
        covered.update(labels[labels.index(first):labels.index(last) + 1])
    missing = [label for label in labels if label not in covered]
    assert not missing, f"docs/{page}.rst: equations {missing} are not in {SECTION!r}"


def test_every_src_reference_names_an_existing_function():
    missing = []
    for rst in pages():
        for target in SRC_ROLE.findall(rst.read_text()):
            path, _, name = target.partition("::")
            if not (ROOT / path).is_file() or name not in defined_names(path):
                missing.append(f"{rst.name}: {target}")
    assert not missing, "the pages link to functions that do not exist:\n" + "\n".join(missing)


def test_every_file_and_test_named_in_the_text_exists():
    missing = []
    for rst in pages():
        for path, name in PATH.findall(rst.read_text()):
            if not (ROOT / path).is_file():
                missing.append(f"{rst.name}: {path}")
            elif name and name not in defined_names(path):
                missing.append(f"{rst.name}: {path}::{name}")
    assert not missing, "the pages name files or tests that do not exist:\n" + "\n".join(missing)


def resolves(dotted):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
        return obj is not None
    return False


def test_every_python_cross_reference_resolves():
    # Sphinx renders an unresolved :func: as plain text without a warning, so -W does
    # not catch a renamed function; this does.
    broken = [f"{rst.name}: {target}" for rst in pages()
              for target in PY_ROLE.findall(rst.read_text()) if not resolves(target)]
    assert not broken, "cross-references to nothing:\n" + "\n".join(broken)


# ------------------------------------------------------------------ the built site

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    for module in ("sphinx", "sphinx-mathjax-offline"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("html")
    build = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html",
                            str(DOCS), str(out)], capture_output=True, text=True)
    assert build.returncode == 0, f"sphinx-build -W failed:\n{build.stderr[-4000:]}"
    return out


class Loads(HTMLParser):
    """What a page makes the browser fetch (not <a href>, which loads nothing by itself)."""

    def __init__(self):
        super().__init__()
        self.urls, self.styles = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and {"stylesheet", "icon", "preload", "modulepreload", "manifest"} \
                & set((a.get("rel") or "").split()):
            self.urls.append(a.get("href"))
        if tag in ("script", "img", "iframe", "embed", "source", "audio", "video", "track"):
            self.urls.append(a.get("src"))
        if tag == "img" and a.get("srcset"):
            self.urls += [part.split()[0] for part in a["srcset"].split(",")]
        if tag == "object":
            self.urls.append(a.get("data"))
        if a.get("style"):
            self.styles.append(a["style"])

    def handle_data(self, data):
        if self.lasttag == "style":
            self.styles.append(data)


# Only the tags that can fetch something reach the parser (the whole of every page
# through HTMLParser took seconds): the loading tags, <style> blocks, style attributes.
FETCHING = re.compile(r"<(?:script|link|img|iframe|embed|source|audio|video|track|object)\b[^>]*>"
                      r"|<style\b.*?</style>|<[a-z][^>]*\bstyle=[^>]*>", re.S | re.I)


def loads(html):
    parser = Loads()
    for tag in FETCHING.findall(html):
        parser.feed(tag)
        parser.reset()           # an unclosed <script> would swallow the next tags
    return parser


CSS_URL = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)|url\(\s*['"]?([^'")]+)""")
JS_URL = re.compile(r"""https?://[^\s'"`)]+""")
# URL literals in the JavaScript Sphinx and MathJax ship that load nothing here.
JS_HARMLESS = (
    "http://www.w3.org/",                # XML namespace names, not fetched
    "https://snowballstem.org/",         # a comment in the stemmer
    "https://developer.mozilla.org/",    # a comment in searchtools.js
    "https://www.mathjax.org",           # the link in MathJax's About box
    # Speech-rule engine defaults: MathJax's loader sets the path to its local
    # [mathjax]/sre/mathmaps (shipped in _static/mathjax/sre), and the other two are
    # fallbacks for browsers without document.evaluate (old Internet Explorer).
    "https://cdn.jsdelivr.net/npm/speech-rule-engine@",
    "https://cdn.jsdelivr.net/npm/sre-mathmaps-ie@",
    "https://cdn.jsdelivr.net/npm/wicked-good-xpath@",
)


def external(url):
    return urlsplit(url).scheme in ("http", "https") or url.startswith("//")


def css_urls(text):
    return [a or b for a, b in CSS_URL.findall(text) if not (a or b).startswith("data:")]


def local_file(base, url):
    return (base.parent / urlsplit(url).path).resolve()


def test_no_page_loads_anything_from_the_network(site):
    remote, missing, fetched = [], [], set()
    for page in site.glob("**/*.html"):
        parser = loads(page.read_text())
        urls = [u for u in parser.urls if u] + [u for s in parser.styles for u in css_urls(s)]
        for url in urls:
            if external(url):
                remote.append(f"{page.name}: {url}")
            elif not url.startswith("data:"):
                target = local_file(page, url)
                if target.is_file():
                    fetched.add(target)
                else:
                    missing.append(f"{page.name}: {url}")
    for file in fetched:
        if file.suffix == ".css":
            remote += [f"{file.name}: {u}" for u in css_urls(file.read_text()) if external(u)]
        elif file.suffix == ".js":
            literals = JS_URL.findall(file.read_text(errors="replace"))
            remote += [f"{file.name}: {u}" for u in literals if not u.startswith(JS_HARMLESS)]
    assert not remote, "the site fetches from the network:\n" + "\n".join(sorted(set(remote)))
    assert not missing, "pages load files the build lacks:\n" + "\n".join(sorted(set(missing)))


def test_search_index_is_built_and_loaded_locally(site):
    index = site / "searchindex.js"
    assert index.is_file() and "Long short-term memory" in index.read_text()
    parser = loads((site / "search.html").read_text())
    assert "searchindex.js" in parser.urls
    assert any(u and u.startswith("_static/searchtools.js") for u in parser.urls)


def test_mathjax_is_served_from_static_with_its_fonts(site):
    html = (site / "lstm.html").read_text()
    parser = loads(html)
    mathjax = [u for u in parser.urls if u and "mathjax" in u.lower()]
    assert mathjax == ["_static/mathjax/tex-chtml.js"]
    assert (site / mathjax[0]).is_file()
    assert list((site / "_static/mathjax/output/chtml/fonts/woff-v2").glob("*.woff"))
    # The equations are in the page as TeX for MathJax, with their numbers' anchors.
    assert 'id="equation-lstm-cell"' in html
    assert r"c_t = f_t \odot c_{t-1} + i_t \odot g_t" in html


@pytest.mark.parametrize("page", TASKS)
def test_task_pages_show_their_figures_and_name_the_machine(site, page):
    html = (site / f"{page}.html").read_text()
    assert MACHINE in " ".join(re.sub(r"<[^>]+>", " ", html).split()), f"{page}: no {MACHINE!r}"
    parser = loads(html)
    shown = {Path(u).name for u in parser.urls if u and u.startswith("_images/")}
    assert set(TASKS[page]) <= shown, f"{page} shows {sorted(shown)}"


def test_no_page_names_the_wrong_machine(site):
    wrong = [p.name for p in site.glob("**/*.html") if "Xeon" in p.read_text()]
    assert not wrong


def test_a_kernel_link_lands_on_its_source_with_the_files_line_numbers(site):
    lstm = (site / "lstm.html").read_text()
    href = re.search(r'href="(_code/minirnn\.kernels\.lstm\.html#([\w-]+cell-step))"', lstm)
    assert href, "lstm.html does not link to _cell_step's source"
    source = (site / "_code" / "minirnn.kernels.lstm.html").read_text()
    after = source[source.index(f'id="{href.group(2)}"'):]
    shown_line = int(re.search(r'<span class="linenos">\s*(\d+)</span>', after).group(1))
    tree = ast.parse((ROOT / "minirnn/kernels/lstm.py").read_text())
    function = next(n for n in tree.body if getattr(n, "name", None) == "_cell_step")
    first = min([function.lineno] + [d.lineno for d in function.decorator_list])
    assert shown_line == first


def rendered(url):
    """The DOM of ``url`` after headless Chromium ran its scripts, with every host name
    unresolvable, so that anything the page needs from the network is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    run = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--virtual-time-budget=15000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def test_chromium_renders_the_math_offline(site):
    page = site / "lstm.html"
    dom = rendered(page.as_uri())
    equations = page.read_text().count('class="math notranslate nohighlight"')
    assert equations > 10 and dom.count("<mjx-container") >= equations
    assert "<mjx-merror" not in dom and "Math input error" not in dom


def test_chromium_search_finds_pages_offline(site):
    dom = rendered((site / "search.html").as_uri() + "?q=forget+gate")
    found = re.search(r"found (\d+) pages? matching", dom)
    assert found and int(found.group(1)) > 0, "search found nothing"
    assert 'href="lstm.html' in dom
