"""The repository's promises: README commands, CI script and shipped data agree."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    return re.findall(r"```bash\n(python3 -m venv[^\n]*)\n```", (ROOT / "README.md").read_text())


def test_readme_has_exactly_two_setup_commands():
    install_and_run, install_and_test = readme_commands()
    assert install_and_run.endswith("minirnn run lstm --data imdb")
    assert install_and_test.endswith("&& pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci_lines
