#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image (docs/instructors.rst,
# "Gradescope"): Python, then minirnn and pytest from the autograder's source, the whole
# instructor project with its solutions and hidden graded tests, in a virtual environment.
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
/autograder/venv/bin/pip install -e "/autograder/source[test]"
