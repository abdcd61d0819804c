"""The training loop: exact resume, Ctrl-C, atomic and validated checkpoints."""
import io
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from minirnn import train
from minirnn.data import shakespeare
from minirnn.tasks.charlm import CharLM, Settings


def small_task():
    text = shakespeare.load(download=False)[:6000]
    return CharLM.from_text(text, Settings(hidden=12, embed=6, seq_len=10, batch_size=4))


class Sabotaged:
    """Wraps a task; at step ``at`` it sends itself SIGINT (Ctrl-C) or raises (a crash),
    or, with how="sigint while evaluating", sends SIGINT while evaluating after step ``at``."""

    def __init__(self, task, at, how):
        self.task, self.at, self.how, self.calls = task, at, how, 0

    def __getattr__(self, name):
        return getattr(self.task, name)

    def step(self, *args):
        self.calls += 1
        if self.calls == self.at and self.how in ("crash", "sigint"):
            if self.how == "crash":
                raise RuntimeError("simulated crash")
            os.kill(os.getpid(), signal.SIGINT)
        return self.task.step(*args)

    def evaluate(self, params):
        if self.how == "sigint while evaluating" and self.calls == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return self.task.evaluate(params)


CKPT = train.CHECKPOINT


def run(task, out, resume=False, **kw):
    cfg = train.Config(epochs=2, lr=3e-3, seed=7, out=str(out), checkpoint_every=5, **kw)
    return train.train(task, cfg, resume=resume, progress=False, log=lambda m: None)


def same_arrays(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("how, at, schedule", [("sigint", 13, "constant"), ("crash", 17, "constant"),
                                              ("sigint", 0, "constant"), ("sigint", 13, "linear"),
                                              ("sigint while evaluating", 0, "constant")])
def test_resume_reaches_exactly_the_uninterrupted_parameters(tmp_path, how, at, schedule):
    task = small_task()
    at = at or task.num_batches(0)          # at an epoch boundary
    full, _ = run(task, tmp_path / "full", schedule=schedule)
    expected = RuntimeError if how == "crash" else train.Interrupted
    with pytest.raises(expected):
        run(Sabotaged(task, at, how), tmp_path / "cut", schedule=schedule)
    if how == "sigint while evaluating":                  # stops before the next step
        n = task.num_batches(0)
        assert train.load_checkpoint(tmp_path / "cut" / CKPT)[3]["position"] == [1, 0, n]
    with open(tmp_path / "cut" / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 2, "st')                       # a line cut short by a hard kill
    resumed, _ = run(task, tmp_path / "cut", resume=True, schedule=schedule)
    assert same_arrays(full, resumed)
    p1, o1, s1, _ = train.load_checkpoint(tmp_path / "full" / "checkpoint.npz")
    p2, o2, s2, _ = train.load_checkpoint(tmp_path / "cut" / "checkpoint.npz")
    assert same_arrays(o1, o2) and same_arrays(s1, s2)
    logged = {}
    for name in ("full", "cut"):
        lines = [json.loads(x) for x in open(tmp_path / name / "metrics.jsonl")]
        logged[name] = [(m["epoch"], m["step"], m["train_loss"], m["val_loss"]) for m in lines]
    assert [m[0] for m in logged["cut"]] == [1, 2]        # no duplicates after a crash
    assert logged["cut"] == logged["full"]


def test_linear_schedule_falls_from_lr_to_zero():
    cfg = train.Config(lr=0.4, schedule="linear")
    rates = [train.learning_rate(cfg, step, 8) for step in range(8)]
    assert rates == pytest.approx([0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05])
    assert train.learning_rate(train.Config(lr=0.4), 7, 8) == 0.4
    with pytest.raises(ValueError, match="constant or linear"):
        train.learning_rate(train.Config(schedule="cosine"), 0, 8)


def test_training_lowers_validation_loss_and_writes_run_files(tmp_path):
    task = small_task()
    untrained = task.evaluate(task.init_params(np.random.default_rng(7)))["val_loss"]
    _, metrics = run(task, tmp_path)
    assert metrics["val_loss"] < untrained - 0.5
    assert metrics["val_bpc"] == pytest.approx(metrics["val_loss"] / np.log(2))
    assert metrics["val_ppl"] == pytest.approx(np.exp(metrics["val_loss"]))
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "config.json", "metrics.jsonl"]
    config = json.load(open(tmp_path / "config.json"))
    assert config["train"]["seed"] == 7 and config["task"]["hidden"] == 12


def test_nonfinite_loss_stops_with_the_step(tmp_path):
    class Exploding(Sabotaged):
        def step(self, *args):
            loss, *rest = self.task.step(*args)
            return float("nan"), *rest
    with pytest.raises(FloatingPointError, match="loss became nan at step 1"):
        run(Exploding(small_task(), 0, ""), tmp_path)


def test_checkpoint_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(train.CheckpointError, match="no checkpoint at"):
        train.load_checkpoint(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(train.CheckpointError, match="corrupt or truncated"):
        train.load_checkpoint(tmp_path / "bad.npz")
    task = small_task()
    run(task, tmp_path / "a")
    other = CharLM.from_text(shakespeare.load(download=False)[:6000],
                             Settings(hidden=13, embed=6, seq_len=10, batch_size=4))
    with pytest.raises(train.CheckpointError) as e:
        run(other, tmp_path / "a", resume=True)
    assert str(e.value).endswith("written with other settings: hidden: checkpoint 12, now 13")
    with pytest.raises(train.CheckpointError, match="finished its 2 epoch"):
        run(task, tmp_path / "a", resume=True)
    path = tmp_path / "a" / train.CHECKPOINT
    for broken in ({"train": None}, {"task": "charlm"}):       # no train settings; no task dict
        params, opt, state, meta = train.load_checkpoint(path)
        meta = {k: v for k, v in {**meta, **broken}.items() if v is not None}
        train.save_checkpoint(tmp_path / "b.npz", params, opt, state, meta)
        with pytest.raises(train.CheckpointError, match="no task, train and position"):
            train.load_checkpoint(tmp_path / "b.npz")


def test_a_new_run_keeps_an_unfinished_one_but_replaces_a_finished_one(tmp_path):
    task = small_task()
    with pytest.raises(train.Interrupted):
        run(Sabotaged(task, 7, "sigint"), tmp_path)
    saved = (tmp_path / "checkpoint.npz").read_bytes()
    with pytest.raises(train.CheckpointError, match="unfinished run .step 7.*--resume"):
        run(task, tmp_path)
    assert (tmp_path / "checkpoint.npz").read_bytes() == saved
    run(task, tmp_path, resume=True)
    _, metrics = run(task, tmp_path)                    # finished: started afresh
    assert metrics["step"] == 2 * task.num_batches(0)


def test_settings_that_make_no_batch_are_an_error(tmp_path):
    text = shakespeare.load(download=False)[:6000]
    task = CharLM.from_text(text, Settings(hidden=4, embed=2, seq_len=10, batch_size=1000))
    with pytest.raises(ValueError, match="no batch"):
        run(task, tmp_path)


def test_failed_checkpoint_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.npz"
    train.save_checkpoint(path, {"w": np.ones(3)}, {}, {}, {"task": {}, "position": [0, 0, 1]})
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"half a file")
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        train.save_checkpoint(path, {"w": np.zeros(3)}, {}, {}, {"task": {}, "position": [0, 0, 2]})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


SCRIPT = """
import sys, numpy as np
from minirnn import train
from minirnn.data import shakespeare
from minirnn.tasks.charlm import CharLM, Settings
task = CharLM.from_text(shakespeare.load(download=False)[:30000],
                        Settings(hidden=128, batch_size=50, seq_len=32))
params, _ = train.train(task, train.Config(epochs=1, out=sys.argv[1]), progress=False,
                        log=lambda m: None)
np.savez(sys.argv[1] + "/params.npz", **params)
"""


def test_same_seed_same_numbers_on_one_core_or_two(tmp_path):
    """Bit for bit with the same thread count; across counts only up to rounding, since
    OpenBLAS picks other float32 GEMM kernels for one thread on AVX-512 CPUs (measured
    on an AMD EPYC: every sgemm differed in the last bits between 1 and 2 threads)."""
    runs = {"1": "1", "2": "2", "2 again": "2"}
    for name, n in runs.items():
        env = dict(os.environ, OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, NUMBA_NUM_THREADS=n)
        subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / name)], env=env, check=True)
    one, two, again = (np.load(tmp_path / name / "params.npz") for name in runs)
    assert two.files == again.files and all(np.array_equal(two[k], again[k]) for k in two.files)
    for k in one.files:
        np.testing.assert_allclose(one[k], two[k], rtol=1e-3, atol=1e-4)


def test_progress_after_a_resume_counts_only_the_batches_it_saw():
    stream = io.StringIO()
    bar = train.Progress(100, "epoch 1/1", "reviews", first=80, stream=stream)
    bar.start -= 10                                       # 10 batches in 10 s: 10 left
    bar.update(90, 0.5, 640)
    assert "  64 reviews/s  eta 0:10" in stream.getvalue()


def test_progress_says_when_it_evaluates(tmp_path, capsys):
    """Evaluation is announced on stderr before its metrics line, mid-epoch and at the end."""
    task = small_task()
    cfg = train.Config(epochs=1, out=str(tmp_path), eval_every=task.num_batches(0) // 2)
    train.train(task, cfg, log=print)
    out, err = capsys.readouterr()
    notices = [line for line in err.splitlines() if line.startswith("evaluating after step")]
    assert len(notices) == 2 == len(out.splitlines())
    assert notices[-1] == f"evaluating after step {task.num_batches(0)} ..."
