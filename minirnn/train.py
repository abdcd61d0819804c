"""The one training loop every task uses (``docs/training.rst``).

A task is any object with these methods (see ``minirnn/tasks/charlm.py``)::

    meta()                       JSON-able description, saved in every checkpoint
    init_params(rng)             dict of parameter arrays
    num_batches(epoch), batch(epoch, i)
                                 minibatch i of an epoch, a function of (epoch, i) only
    initial_state()              dict of arrays carried between batches (e.g. h_T)
    unit                         what ``count`` counts, for the progress line ("chars")
    step(params, batch, state, rng) -> loss, grads, state, count
    evaluate(params)             dict of metrics on held-out data

Because a batch depends only on (epoch, i) and everything else that changes (params,
optimizer state, carried state, RNG state, position) is in the checkpoint, a resumed
run reaches exactly the parameters of an uninterrupted one.
"""
import json
import os
import signal
import sys
import time
import zipfile
from dataclasses import asdict, dataclass

import numpy as np

from .files import write_atomic, write_json
from .optim import OPTIMIZERS, clip_global_norm

CHECKPOINT = "checkpoint.npz"   # in the run folder, cfg.out


@dataclass
class Config:
    epochs: int = 1
    lr: float = 2e-3
    schedule: str = "constant"   # or "linear": lr falls linearly to 0 over the run (eq. 16)
    optimizer: str = "adam"
    clip: float = 5.0            # global gradient-norm bound; 0 turns clipping off
    seed: int = 0
    eval_every: int = 0          # steps between evaluations; 0 = once per epoch
    checkpoint_every: int = 100  # steps between checkpoints (and at each epoch end)
    out: str = "runs/run"
    data_dir: str = None         # where the task's data came from: --resume looks there again


class CheckpointError(Exception):
    """A checkpoint that is missing, corrupt, or from a different run."""


class Interrupted(Exception):
    """Ctrl-C during training; the checkpoint holds everything done so far."""


# --------------------------------------------------------------------- checkpoints

def save_checkpoint(path, params, opt_state, task_state, meta):
    """Write all arrays and the JSON ``meta`` to ``path`` atomically (temp file + rename)."""
    arrays = {"meta": np.array(json.dumps(meta))}
    for prefix, d in (("params", params), ("opt", opt_state), ("state", task_state)):
        arrays.update({f"{prefix}/{k}": v for k, v in d.items()})
    write_atomic(path, lambda f: np.savez(f, **arrays))


def load_checkpoint(path):
    """Returns params, opt_state, task_state, meta; CheckpointError says what is wrong."""
    if not os.path.exists(path):
        raise CheckpointError(f"no checkpoint at {path}")
    if not zipfile.is_zipfile(path):        # np.load would blame pickles for a text file
        raise CheckpointError(f"{path} is not a readable minirnn checkpoint: not an .npz "
                              f"archive (corrupt or truncated?)")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
            parts = {"params": {}, "opt": {}, "state": {}}
            for key in z.files:
                prefix, _, name = key.partition("/")
                if prefix in parts:
                    parts[prefix][name] = z[key]
    except Exception as e:   # zip, npy and JSON errors all mean the same to a user
        raise CheckpointError(f"{path} is not a readable minirnn checkpoint "
                              f"(corrupt or truncated?): {e}") from e
    if not isinstance(meta.get("task"), dict) or not {"position", "train"} <= meta.keys():
        raise CheckpointError(f"{path} is not a checkpoint of minirnn run's training loop "
                              f"(it has no task, train and position)")
    return parts["params"], parts["opt"], parts["state"], meta


def refuse_to_discard(path):
    """CheckpointError if ``path`` holds a run that stopped before its last epoch: a new
    run in its folder would overwrite it. A finished run may be replaced."""
    try:
        _, _, _, meta = load_checkpoint(path)
    except CheckpointError:                 # none, or nothing a resume could use
        return
    epoch, _, step = meta["position"]
    if epoch < meta["train"]["epochs"]:
        raise CheckpointError(f"{path} holds an unfinished run (step {step}): continue it "
                              f"with --resume, or delete it (or choose another --out) to "
                              f"start again")


def refuse_finished(path, meta, epochs):
    """CheckpointError if the run of ``meta`` (saved at ``path``) has done ``epochs``."""
    epoch = meta["position"][0]
    if epoch >= epochs:
        raise CheckpointError(f"{path}: the run has finished its {epoch} epoch(s); "
                              f"to train on, ask for more (--epochs)")


def _differences(saved, now):
    """The settings that differ between two task metas, as 'name: checkpoint A, now B'.
    The device is left out: it changes where a run computes, not what, so a run may go
    on on another."""
    def short(v):
        text = repr(v)
        return text if len(text) <= 40 else text[:37] + "..."
    return "; ".join(f"{k}: checkpoint {short(saved.get(k))}, now {short(now.get(k))}"
                     for k in sorted((saved.keys() | now.keys()) - {"device"})
                     if saved.get(k) != now.get(k))


# ------------------------------------------------------------------------ progress

class Progress:
    """One status line: epoch, batch, loss, throughput, ETA. Redrawn in place on a
    terminal, printed every ~10% elsewhere (logs, CI)."""

    def __init__(self, total, label, unit, first=0, stream=sys.stderr):
        """``first``: the batch it starts at (a resumed epoch), left out of the ETA."""
        self.total, self.label, self.unit, self.stream = total, label, unit, stream
        self.first = first
        self.tty = stream.isatty()
        self.start = time.perf_counter()
        self.items = 0
        self.last_draw = 0.0
        self.last_decile = -1

    def update(self, done, loss, items):
        self.items += items
        now = time.perf_counter()
        decile = 10 * done // max(self.total, 1)
        if self.tty and now - self.last_draw < 0.1 and done < self.total:
            return
        if not self.tty and decile == self.last_decile:
            return
        self.last_draw, self.last_decile = now, decile
        rate = self.items / max(now - self.start, 1e-9)
        eta = (self.total - done) * (now - self.start) / max(done - self.first, 1)
        bar = "#" * (20 * done // max(self.total, 1))
        line = (f"{self.label} [{bar:<20}] {done}/{self.total}  loss {loss:.4f}  "
                f"{f'{rate / 1e3:.1f}k' if rate >= 1e3 else f'{rate:.0f}'} {self.unit}/s  "
                f"eta {int(eta) // 60}:{int(eta) % 60:02d}")
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\n")


# ---------------------------------------------------------------------------- loop

def _log(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def _truncate_metrics(path, step):
    """Drop metric lines written after the checkpoint we resume from, and a last line
    cut short, without its newline (a hard kill)."""
    if os.path.exists(path):
        with open(path) as f:
            lines = [line for line in f if line.endswith("\n")]
        try:
            kept = [line for line in lines if json.loads(line).get("step", 0) <= step]
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{path}: a line is not JSON ({e}); delete or mend it") from None
        write_atomic(path, lambda f: f.write("".join(kept).encode()))


def learning_rate(cfg, step, total):
    """The learning rate of update ``step + 1`` of ``total`` (training eq. 16)."""
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule == "linear":
        return cfg.lr * (1 - step / total)
    raise ValueError(f"unknown learning-rate schedule {cfg.schedule!r}; use constant or linear")


def train(task, cfg, resume=False, progress=True, log=print):
    """Train ``task`` under ``cfg``; returns (params, last metrics).

    Writes ``config.json``, ``metrics.jsonl`` (one JSON object per evaluation) and
    ``checkpoint.npz`` under ``cfg.out``. With ``resume``, continues from the
    checkpoint there. On Ctrl-C it finishes the step, saves, and raises Interrupted.
    """
    os.makedirs(cfg.out, exist_ok=True)
    ckpt_path = os.path.join(cfg.out, CHECKPOINT)
    metrics_path = os.path.join(cfg.out, "metrics.jsonl")
    rng = np.random.default_rng(cfg.seed)
    counts = [task.num_batches(e) for e in range(cfg.epochs)]
    if min(counts) < 1:
        raise ValueError(f"the training data make no batch of these settings (batch size, "
                         f"sequence length): {counts[0]} per epoch")
    if resume:
        params, opt_state, state, meta = load_checkpoint(ckpt_path)
        if differences := _differences(meta["task"], task.meta()):
            raise CheckpointError(f"{ckpt_path} was written with other settings: {differences}")
        refuse_finished(ckpt_path, meta, cfg.epochs)
        rng.bit_generator.state = meta["rng"]
        epoch, index, step = meta["position"]
        loss_sum, count_sum, *seconds = meta["running"]   # older checkpoints: no seconds
        seconds_before = seconds[0] if seconds else 0.0
        _truncate_metrics(metrics_path, step)
        log(f"resuming from {ckpt_path} at epoch {epoch + 1}, batch {index}, step {step}")
    else:
        refuse_to_discard(ckpt_path)
        params, opt_state, state = task.init_params(rng), {}, {}
        epoch = index = step = 0
        loss_sum = count_sum = seconds_before = 0.0
        if os.path.exists(metrics_path):
            os.remove(metrics_path)
    write_json(os.path.join(cfg.out, "config.json"), {"train": asdict(cfg), "task": task.meta()})

    def checkpoint():
        save_checkpoint(ckpt_path, params, opt_state, state, {
            "task": task.meta(), "train": asdict(cfg), "rng": rng.bit_generator.state,
            "position": [epoch, index, step],
            "running": [loss_sum, count_sum, time.perf_counter() - t_epoch if index else 0.0]})

    def interrupted():
        checkpoint()
        return Interrupted(f"interrupted at step {step}; checkpoint saved to {ckpt_path}; "
                           f"continue with --resume")

    def evaluate(**extra):
        if progress:            # scoring held-out data can take a while (IMDB: ~45 s)
            print(f"evaluating after step {step} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        metrics = {"epoch": epoch + 1, "step": step,
                   "train_loss": loss_sum / max(count_sum, 1), **task.evaluate(params),
                   **extra, "eval_seconds": round(time.perf_counter() - t0, 2)}
        _log(metrics_path, metrics)
        log("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                      for k, v in metrics.items() if not k.endswith("seconds")) +
            "".join(f"  {k} {v:.1f}" for k, v in metrics.items() if k.endswith("seconds")))
        return metrics

    update = OPTIMIZERS[cfg.optimizer]
    total = sum(counts)
    metrics = {}
    with _DeferInterrupt(log) as interrupt:
        while epoch < cfg.epochs:
            n = task.num_batches(epoch)
            if index == 0:
                state, loss_sum, count_sum = task.initial_state(), 0.0, 0.0
            bar = Progress(n, f"epoch {epoch + 1}/{cfg.epochs}", task.unit, index) if progress \
                else None
            t_epoch = time.perf_counter() - (seconds_before if index else 0.0)
            while index < n:
                loss, grads, new_state, count = task.step(params, task.batch(epoch, index), state, rng)
                if not np.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss} at step {step + 1} "
                                             f"(epoch {epoch + 1}, batch {index}); lower --lr")
                clip_global_norm(grads, cfg.clip)
                update(params, grads, opt_state, learning_rate(cfg, step, total))
                state, index, step = new_state, index + 1, step + 1
                loss_sum += loss * count
                count_sum += count
                if bar:
                    bar.update(index, loss_sum / count_sum, count)
                if cfg.eval_every and step % cfg.eval_every == 0 and index < n:
                    if bar:
                        bar.close()     # ends the line; the bar goes on below the metrics
                    evaluate()
                if interrupt.requested:
                    raise interrupted()
                if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                    checkpoint()
            if bar:
                bar.close()
            metrics = evaluate(epoch_seconds=round(time.perf_counter() - t_epoch, 2))
            epoch, index = epoch + 1, 0
            if interrupt.requested and epoch < cfg.epochs:   # pressed while evaluating
                raise interrupted()
            checkpoint()
    return params, metrics


class _DeferInterrupt:
    """Turn Ctrl-C into a request honoured between steps, so a checkpoint never holds
    a half-applied update; a second Ctrl-C stops at once."""

    def __init__(self, log):
        self.log, self.requested = log, False

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.log("\nCtrl-C: saving a checkpoint after this step (again to stop at once)")

    def __enter__(self):
        self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)
