"""The HMM tasks as a user runs them: the casino recovered from a random start, Old
Faithful's two kinds of eruption, the files under --out and the CLI's errors."""
import json
import os

import numpy as np
from click.testing import CliRunner

from minirnn.cli import main
from minirnn.tasks import hmm_tasks


def test_casino_learns_the_loaded_die_and_names_the_rolls(tmp_path):
    task = hmm_tasks.build(hmm_tasks.Settings(sequences=4, length=500, dtype="float64"))
    lines = []
    metrics = task.fit(seed=3, out=str(tmp_path), log=lines.append)
    assert metrics["viterbi_accuracy"] > 0.75
    assert abs(metrics["viterbi_accuracy"] - metrics["viterbi_accuracy_true_params"]) < 0.1
    B = np.array(metrics["B"])                  # rows ordered fair, loaded
    assert B[1, 5] > 0.4 and np.all(np.abs(B[0] - 1 / 6) < 0.06)
    assert sum(line.startswith("iteration") for line in lines) == metrics["iterations"]
    written = sorted(f for f in os.listdir(tmp_path) if f != "posterior.png")  # needs matplotlib
    assert written == ["config.json", "metrics.json", "params.npz"]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["history"] == sorted(saved["history"]) and saved["loglik"] == metrics["loglik"]
    assert json.loads((tmp_path / "config.json").read_text())["seed"] == 3


def test_faithful_through_the_cli_finds_short_and_long_eruptions(tmp_path):
    result = CliRunner().invoke(main, ["run", "hmm", "--data", "faithful", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output.strip().splitlines()[-1])
    short, long_ = metrics["means"]             # the two clusters of the eruption data
    assert 1.9 < short < 2.2 and 4.1 < long_ < 4.5
    assert metrics["A"][0][1] > 0.8             # a short eruption is followed by a long one
    assert sum(metrics["viterbi_state_counts"]) == 272
    assert sorted(os.listdir(tmp_path)) == ["config.json", "metrics.json", "params.npz"]


def test_options_of_gradient_training_are_refused():
    result = CliRunner().invoke(main, ["run", "hmm", "--data", "casino", "--epochs", "2"])
    assert result.exit_code == 2 and "do not apply to hmm --data casino" in result.output
    result = CliRunner().invoke(main, ["run", "hmm", "--data", "casino", "--seq-len", "5"])
    assert result.exit_code == 2 and "--seq-len" in result.output
