"""minirnn run gcn --data cora: the task's rules, its files, and the command line."""
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from minirnn import tasks
from minirnn.cli import main
from minirnn.tasks.gcn import should_stop

SHARED = Path(os.environ.get("MINIRNN_DATA") or Path(__file__).resolve().parents[2] / "shared" / "datasets")
needs_cora = pytest.mark.skipif(not (SHARED / "cora").is_dir(), reason="no Cora under MINIRNN_DATA")


def test_early_stopping_is_kipfs_rule():
    """Kipf's loop: `if epoch > patience and loss[-1] > mean(loss[-(patience+1):-1])`,
    epoch counted from 0, so the earliest stop is at the (patience + 2)-th epoch."""
    rising = [1.0, 2.0, 3.0, 4.0]
    assert not should_stop(rising[:3], patience=2)
    assert should_stop(rising, patience=2)
    assert not should_stop([3.0, 1.0, 1.0, 1.0], patience=2)      # equal to the mean: go on
    assert not should_stop([5.0, 4.0, 3.0, 2.0, 1.0], patience=2)


@needs_cora
def test_fit_writes_metrics_and_config(tmp_path):
    task = tasks.build("gcn", "cora", {"epochs": 5, "seeds": 2, "dtype": "float64"}, SHARED)
    lines = []
    metrics = task.fit(seed=3, out=str(tmp_path), log=lines.append)
    assert [r["seed"] for r in metrics["runs"]] == [3, 4]
    assert all(r["epochs"] == 5 and 0 <= r["test_accuracy"] <= 1 for r in metrics["runs"])
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["hidden"] == 16 and config["weight_decay"] == 5e-4 and config["seed"] == 3
    assert "test accuracy over 2 seed(s)" in lines[-1]
    assert sorted(os.listdir(tmp_path)) == ["config.json", "metrics.json"]   # no temp files


@needs_cora
def test_cli_trains_one_seed_to_kipfs_accuracy(tmp_path):
    result = CliRunner().invoke(main, ["run", "gcn", "--data", "cora", "--seeds", "1",
                                       "--data-dir", str(SHARED), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics["test_accuracy_mean"] > 0.78       # paper: 81.5% on average
    assert "ms per epoch" in result.stderr


def test_options_of_other_tasks_are_refused():
    result = CliRunner().invoke(main, ["run", "gcn", "--data", "cora", "--vocab-size", "100"])
    assert result.exit_code == 2 and "--vocab-size do not apply to gcn --data cora" in result.output
    result = CliRunner().invoke(main, ["run", "gcn", "--data", "cora", "--clip", "1"])
    assert result.exit_code == 2 and "--clip do not apply to gcn --data cora" in result.output


@needs_cora
def test_epochs_and_lr_are_the_gcns_own(tmp_path):
    result = CliRunner().invoke(main, ["run", "gcn", "--data", "cora", "--seeds", "1",
                                       "--epochs", "3", "--lr", "0.02", "--data-dir", str(SHARED),
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["epochs"] == 3 and config["lr"] == 0.02
    assert json.loads(result.stdout.strip().splitlines()[-1])["runs"][0]["epochs"] == 3
