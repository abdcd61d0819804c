"""The command line as a user runs it: help, errors and exit codes, a run, sampling, Ctrl-C."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from minirnn import data, tasks, train
from minirnn.cli import main

TINY = ["--epochs", "1", "--hidden", "8", "--seq-len", "16", "--batch-size", "64",
        "--sample-length", "40"]


def invoke(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("command", [[], ["list"], ["run"], ["sample"], ["gradcheck"], ["bench"]])
def test_every_command_has_help(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0 and "Usage: minirnn" in result.output


def test_list_names_models_data_and_tasks():
    out = invoke("list").output
    assert "elman" in out and "shakespeare" in out and "elman --data shakespeare" in out


@pytest.mark.parametrize("args, valid", [(["run", "lsmt", "--data", "shakespeare"], "elman"),
                                         (["run", "elman", "--data", "imbd"], "shakespeare"),
                                         (["gradcheck", "nope"], "elman")])
def test_unknown_model_or_data_exits_2_listing_the_choices(args, valid):
    result = invoke(*args)
    assert result.exit_code == 2 and "Invalid value" in result.output and valid in result.output


def test_bench_of_an_unknown_name_exits_2_listing_the_scripts():
    result = invoke("bench", "nope")
    assert result.exit_code == 2 and "attention" in result.output and "hmm" in result.output


def test_bench_hands_options_after_the_name_to_the_script(capfd):
    """--help after NAME is the script's (argparse), not the bench command's (click)."""
    result = invoke("bench", "lds", "--help")
    assert result.exit_code == 0 and "Usage: minirnn bench" not in result.output
    assert "usage: lds.py" in capfd.readouterr().out


def test_list_gives_each_task_a_title_not_a_module():
    out = invoke("list").output
    assert "module" not in out and "Sentiment of IMDB reviews" in out


def test_gradcheck_prints_each_parameter_and_passes():
    result = invoke("gradcheck", "elman")
    assert result.exit_code == 0, result.output
    for name in ("W_x", "W_h", "b", "x", "h0"):
        assert any(line.startswith(name) and line.endswith("PASS") for line in result.output.splitlines())


def test_gradcheck_fails_with_exit_1_on_an_impossible_tolerance():
    result = invoke("gradcheck", "elman", "--tol", "0")
    assert result.exit_code == 1 and "FAIL" in result.output


def test_run_writes_config_metrics_checkpoint_then_sample(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "elman", "--data", "shakespeare", *TINY, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == ["checkpoint.npz", "config.json", "metrics.jsonl"]
    metrics = [json.loads(line) for line in open(out / "metrics.jsonl")]
    assert {"train_loss", "val_loss", "val_bpc", "val_ppl", "epoch_seconds"} <= metrics[-1].keys()
    assert "--- sample" in result.output
    sampled = invoke("sample", "--checkpoint", str(out / "checkpoint.npz"), "--prime", "ROMEO:",
                     "--length", "30", "--temperature", "0.5")
    assert sampled.exit_code == 0 and sampled.output.startswith("ROMEO:")
    assert len(sampled.output.rstrip("\n")) == 36
    from_folder = invoke("sample", "--checkpoint", str(out), "--prime", "ROMEO:", "--length", "30",
                         "--temperature", "0.5")
    assert from_folder.exit_code == 0 and from_folder.output == sampled.output


def test_bad_checkpoint_is_reported_without_traceback(tmp_path):
    bad = tmp_path / "checkpoint.npz"
    bad.write_text("garbage")
    result = invoke("sample", "--checkpoint", str(bad))
    assert result.exit_code == 1 and "corrupt or truncated" in result.output
    assert "Traceback" not in result.output and "pickle" not in result.output
    assert result.output.count(str(bad)) == 1
    import numpy as np
    np.savez(tmp_path / "params.npz", A=np.eye(2))           # an npz, but not a run's
    result = invoke("predict", "--checkpoint", str(tmp_path / "params.npz"), "good")
    assert result.exit_code == 1 and "no task, train and position" in result.output
    result = invoke("predict", "--checkpoint", str(tmp_path / "params.npz"), "  ")
    assert result.exit_code == 2 and "TEXT is empty" in result.output
    result = invoke("run", "elman", "--data", "shakespeare", *TINY, "--out", str(tmp_path), "--resume")
    assert result.exit_code == 1 and "not a readable minirnn checkpoint" in result.output


def test_resume_continues_with_the_saved_options(tmp_path):
    out = str(tmp_path / "run")
    assert invoke("run", "elman", "--data", "shakespeare", *TINY, "--lr", "0.01", "--seed", "3",
                  "--out", out).exit_code == 0
    resumed = invoke("run", "elman", "--data", "shakespeare", "--resume", "--epochs", "2",
                     "--sample-length", "0", "--out", out)       # no --hidden, --lr, ...
    assert resumed.exit_code == 0, resumed.output
    assert "resuming from" in resumed.output and '"epoch": 2' in resumed.output
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["task"]["hidden"] == 8 and config["train"]["lr"] == 0.01
    assert config["train"]["seed"] == 3
    finished = invoke("run", "elman", "--data", "shakespeare", "--resume", "--out", out)
    assert finished.exit_code == 1 and "finished its 2 epoch(s)" in finished.output
    other = invoke("run", "elman", "--data", "shakespeare", "--resume", "--epochs", "3",
                   "--hidden", "9", "--out", out)
    assert other.exit_code == 1 and "hidden: checkpoint 8, now 9" in other.output
    assert len(other.output) < 400                    # not both task descriptions
    imdb = invoke("run", "lstm", "--data", "imdb", "--resume", "--out", out)
    assert imdb.exit_code == 1 and "holds a run of another task (charlm)" in imdb.output


def test_resume_without_a_run_leaves_no_folder(tmp_path):
    result = invoke("run", "elman", "--data", "shakespeare", "--resume",
                    "--out", str(tmp_path / "none"))
    assert result.exit_code == 1 and "no checkpoint at" in result.output
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("option", [["--clip", "1"], ["--epochs", "2"], ["--resume"],
                                    ["--sample-length", "5"]])
def test_options_a_fitted_model_cannot_use_exit_2(option):
    result = invoke("run", "hmm", "--data", "casino", *option)
    assert result.exit_code == 2 and option[0] in result.output


def test_sample_length_for_a_task_that_draws_no_text_exits_2_before_loading(monkeypatch):
    monkeypatch.setattr(tasks, "build", lambda *a: pytest.fail("the data was loaded"))
    result = invoke("run", "lstm", "--data", "imdb", "--sample-length", "5")
    assert result.exit_code == 2 and "--sample-length does not apply" in result.output


def test_an_out_folder_that_cannot_be_made_is_said_before_any_work(tmp_path):
    (tmp_path / "file").write_text("")
    result = invoke("run", "elman", "--data", "shakespeare", *TINY,
                    "--out", str(tmp_path / "file" / "run"))
    assert result.exit_code == 1 and "cannot make the folder" in result.output
    assert "batches/epoch" not in result.output


def test_settings_that_make_no_batch_exit_with_a_message_and_leave_no_folder(tmp_path):
    result = invoke("run", "elman", "--data", "shakespeare", "--batch-size", "2000000",
                    "--out", str(tmp_path / "run"))
    assert result.exit_code == 1 and "no batch" in result.output
    assert not (tmp_path / "run").exists()


def test_runs_that_cannot_go_on_are_refused_before_the_data_loads(tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert invoke("run", "elman", "--data", "shakespeare", *TINY, "--out", str(out)).exit_code == 0
    monkeypatch.setattr(tasks, "build", lambda *a: pytest.fail("the data was loaded"))
    finished = invoke("run", "elman", "--data", "shakespeare", "--resume", "--out", str(out))
    assert finished.exit_code == 1 and "finished its 1 epoch(s)" in finished.output
    params, opt, state, meta = train.load_checkpoint(out / train.CHECKPOINT)
    meta["position"] = [0, 1, 1]                               # as if stopped after step 1
    train.save_checkpoint(out / train.CHECKPOINT, params, opt, state, meta)
    new = invoke("run", "elman", "--data", "shakespeare", *TINY, "--out", str(out))
    assert new.exit_code == 1 and "unfinished run (step 1)" in new.output


def test_missing_data_is_reported_with_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "SHIPPED", tmp_path / "shipped")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data.urllib.request, "urlopen", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    result = invoke("run", "elman", "--data", "shakespeare", "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    assert "could not download" in result.output and "offline" in result.output


def test_ctrl_c_saves_a_checkpoint_and_exits_with_a_message(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "minirnn.cli", "run", "elman", "--data",
                             "shakespeare", "--epochs", "3", "--hidden", "16", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "checkpoint.npz").exists() and time.time() < deadline:
        time.sleep(0.2)                                  # the first periodic checkpoint
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted at step" in stderr and "--resume" in stderr
    assert "Traceback" not in stderr
    result = invoke("run", "elman", "--data", "shakespeare", "--epochs", "1", "--hidden", "16",
                    "--out", str(out), "--resume", "--sample-length", "0")
    assert result.exit_code == 0 and "resuming from" in result.output
