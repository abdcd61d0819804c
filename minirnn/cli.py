"""The ``minirnn`` command line (``docs/cli.rst``)."""
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import numpy as np

from . import gradcheck as gc
from . import tasks, train
from .data import DataError
from .files import write_json

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
TRAINING = ("epochs", "lr", "schedule", "clip")     # run's options that go to train.Config


@click.group(name="minirnn", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="minirnn")
def main():
    """minirnn: sequence and graph models from scratch, one readable module each."""


@main.command("list")
def list_():
    """List the models, data sets and runnable tasks."""
    click.echo("models:")
    for name, what in tasks.MODELS.items():
        click.echo(f"  {name:<12} {what}")
    click.echo("data sets:")
    for name, what in tasks.DATASETS.items():
        click.echo(f"  {name:<12} {what}")
    click.echo("tasks (minirnn run MODEL --data DATA):")
    for (model, data), task in tasks.TASKS.items():
        title = task.__doc__.splitlines()[0].replace("``", "").rstrip(": ")
        click.echo(f"  {f'{model} --data {data}':<28} {title}")


@main.command()
@click.argument("model", metavar="MODEL", type=click.Choice(sorted(tasks.MODELS)))
@click.option("--data", "data", required=True, type=click.Choice(sorted(tasks.DATASETS)),
              help="Data set to train on.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Folder holding data already on disk (default: $MINIRNN_DATA).")
@click.option("--epochs", type=click.IntRange(1), default=None, help="[default: the task's].")
@click.option("--batch-size", type=click.IntRange(1), default=None, help="[default: the task's].")
@click.option("--hidden", type=click.IntRange(1), default=None, help="Hidden units [default: the task's].")
@click.option("--seq-len", type=click.IntRange(1), default=None,
              help="Truncated-BPTT chunk length [default: the task's].")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=None,
              help="Learning rate [default: the task's].")
@click.option("--schedule", type=click.Choice(["constant", "linear"]), default=None,
              help="Learning rate constant, or falling linearly to 0 [default: the task's].")
@click.option("--clip", type=click.FloatRange(0), default=5.0, show_default=True,
              help="Global gradient-norm bound (0: off).")
@click.option("--embed", type=click.IntRange(1), default=None, help="Embedding size [default: the task's].")
@click.option("--bidirectional/--unidirectional", default=None,
              help="Read each review both ways (imdb) [default: the task's].")
@click.option("--num-layers", type=click.IntRange(1), default=None,
              help="Stacked RNN layers (imdb) [default: the task's].")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Dropout rate (imdb) [default: the task's].")
@click.option("--word-dropout", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Rate of dropping whole word vectors in training (imdb) [default: the task's].")
@click.option("--vocab-size", type=click.IntRange(3), default=None,
              help="Words kept (imdb) [default: the task's].")
@click.option("--max-len", type=click.IntRange(1), default=None,
              help="Tokens kept per review (imdb) [default: the task's].")
@click.option("--attention/--no-attention", default=None,
              help="Decoder attends to the encoder states (seq2seq) [default: on].")
@click.option("--beam", type=click.IntRange(1), default=None, help="Beam width, 1 = greedy (seq2seq).")
@click.option("--seeds", type=click.IntRange(1), default=None,
              help="Runs to average, seeds --seed, --seed + 1, ... (cora) [default: the task's].")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default=None,
              help="[default: the task's: float32 for trained networks, float64 for the "
                   "models fitted by EM or in closed form].")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run folder for config, metrics and checkpoint [default: runs/MODEL-DATA].")
@click.option("--resume", is_flag=True,
              help="Continue the run saved in --out, with its options where none are given.")
@click.option("--sample-length", type=click.IntRange(0), default=400, show_default=True,
              help="Characters to sample at the end (shakespeare).")
def run(model, data, data_dir, epochs, lr, schedule, clip, seed, out, resume, sample_length, **options):
    """Train MODEL on --data, with progress, evaluation, metrics and checkpoints."""
    out = out or os.path.join("runs", f"{model}-{data}")
    given = {k: v for k, v in options.items() if _given(k)}
    training = {k: v for k, v in zip(TRAINING, (epochs, lr, schedule, clip)) if _given(k)}
    try:
        module = tasks.lookup(model, data)
    except KeyError as e:
        raise click.UsageError(e.args[0]) from None
    if _given("sample_length") and module not in tasks.SAMPLED:   # said before the data loads
        raise click.UsageError(f"--sample-length does not apply to {model} --data {data}")
    fitted = module not in tasks.TRAINED    # by EM or in closed form
    if fitted:                          # its own settings, where it has these
        if resume:
            raise click.UsageError(f"--resume does not apply to {model} --data {data}")
        given, training = {**given, **training}, {}
    elif resume:                        # what is not given continues as it was saved
        saved_options, saved_training = _saved_run(out, model, data, epochs)
        given = {**saved_options, **given}
        training = {**{k: saved_training[k] for k in TRAINING}, **training}
        seed = seed if _given("seed") else saved_training["seed"]
        data_dir = data_dir or saved_training.get("data_dir")
    else:                               # said now, not after loading the data
        try:
            train.refuse_to_discard(os.path.join(out, train.CHECKPOINT))
        except train.CheckpointError as e:
            raise click.ClickException(str(e)) from None
    if given.get("device") == "cuda":
        _require_gpu()
    _make_folder(out, "--out")          # now, not after loading the data
    try:
        task = tasks.build(model, data, given, data_dir)
    except (KeyError, ValueError) as e:
        raise click.UsageError(e.args[0]) from None
    except DataError as e:
        raise click.ClickException(str(e)) from None
    if fitted:
        try:
            metrics = task.fit(seed=seed, out=out, log=lambda m: click.echo(m, err=True))
        except (FloatingPointError, ValueError, RuntimeError) as e:
            raise click.ClickException(str(e)) from None
        click.echo(json.dumps(metrics))
        return
    cfg = train.Config(**{"epochs": task.epochs, "lr": task.lr,
                          "schedule": getattr(task, "schedule", "constant"), **training},
                       seed=seed, out=out, data_dir=data_dir and os.path.abspath(data_dir))
    click.echo(f"{model} on {data}: {task.num_batches(0)} batches/epoch, run folder {out}", err=True)
    click.echo("(the first run compiles the Numba kernels; later runs load them from cache)", err=True)
    try:
        params, metrics = train.train(task, cfg, resume=resume, log=lambda m: click.echo(m, err=True))
    except train.Interrupted as e:
        click.echo(str(e), err=True)
        sys.exit(130)
    except (train.CheckpointError, FloatingPointError, ValueError, RuntimeError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(json.dumps(metrics))
    if hasattr(task, "report"):          # figures a task draws from the trained model
        task.report(params, out, lambda m: click.echo(m, err=True))
    if sample_length and module in tasks.SAMPLED:
        rng = np.random.default_rng(seed)
        click.echo("--- sample (temperature 0.8) ---")
        click.echo(task.sample(params, rng, sample_length, 0.8))


def _given(name):
    """Whether the option ``name`` was on the command line, not left at its default."""
    source = click.get_current_context().get_parameter_source(name)
    return source is not click.core.ParameterSource.DEFAULT


def _saved_run(out, model, data, epochs):
    """The task options and the training settings of the run saved in ``out``, which
    must be a run of ``model --data data``'s task with fewer than ``epochs`` (None:
    its own) done."""
    path = os.path.join(out, train.CHECKPOINT)
    try:
        meta = train.load_checkpoint(path)[3]
        if tasks.module_of(meta["task"]) is not tasks.lookup(model, data):
            raise ValueError(f"{out} holds a run of another task ({meta['task']['task']}), "
                             f"not of {model} --data {data}; give its --out")
        train.refuse_finished(path, meta, epochs or meta["train"]["epochs"])
        return tasks.saved_options(meta["task"]), meta["train"]
    except (train.CheckpointError, ValueError, KeyError) as e:
        raise click.ClickException(str(e)) from None


def _make_folder(path, option):
    """Create the folder ``path`` names, or say in one line why it cannot be. A folder
    this command makes goes again if the command ends with it empty (it failed before
    writing anything there)."""
    made = not os.path.isdir(path)
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise click.ClickException(f"cannot make the folder {path} for {option}: "
                                   f"{e.strerror}") from None
    if made:
        click.get_current_context().call_on_close(lambda: _remove_if_empty(path))


def _remove_if_empty(path):
    with contextlib.suppress(OSError):      # not empty: the command wrote there
        os.rmdir(path)


def _require_gpu():
    """Say at once, not after a long fit or epoch, that there is no GPU."""
    from .kernels.common import require_gpu
    try:
        require_gpu()
    except RuntimeError as e:
        raise click.ClickException(str(e)) from None


def load_task(checkpoint, ability):
    """Params and task of a checkpoint, or of the run folder holding it, which must offer
    ``ability`` (sample, predict)."""
    if Path(checkpoint).is_dir():
        checkpoint = os.path.join(checkpoint, train.CHECKPOINT)
    try:
        params, _, _, meta = train.load_checkpoint(checkpoint)
    except train.CheckpointError as e:
        raise click.ClickException(str(e)) from None
    try:           # one review or one sample runs on the CPU, wherever the model trained
        task = tasks.from_meta({**meta["task"], "device": "cpu"})
    except (ValueError, KeyError) as e:
        raise click.ClickException(f"{checkpoint}: {e}") from None
    if not hasattr(task, ability):
        raise click.ClickException(f"{checkpoint} holds a {meta['task']['task']} model, "
                                   f"which cannot {ability}")
    return params, task


@main.command()
@click.option("--checkpoint", required=True, type=click.Path(),
              help="checkpoint.npz written by minirnn run, or its run folder.")
@click.option("--temperature", type=click.FloatRange(0, min_open=True), default=1.0, show_default=True,
              help="Divides the logits: < 1 more confident, > 1 more varied.")
@click.option("--length", type=click.IntRange(1), default=500, show_default=True)
@click.option("--prime", default="\n", help="Text to start from (characters of the training text).")
@click.option("--seed", type=int, default=0, show_default=True)
def sample(checkpoint, temperature, length, prime, seed):
    """Generate text from a trained character model."""
    params, task = load_task(checkpoint, "sample")
    try:
        click.echo(task.sample(params, np.random.default_rng(seed), length, temperature, prime))
    except ValueError as e:
        raise click.ClickException(str(e)) from None


@main.command()
@click.option("--checkpoint", required=True, type=click.Path(),
              help="checkpoint.npz written by minirnn run MODEL --data imdb (or dates), or "
                   "its run folder.")
@click.argument("text", nargs=-1, required=True)
def predict(checkpoint, text):
    """Classify TEXT (a review) as positive or negative, or translate it (a date) to
    ISO 8601; with the model's probability.

    TEXT's words are joined into one text, so quotes are optional; - reads it from
    standard input, and -- before TEXT lets it start with a dash."""
    text = sys.stdin.read() if text == ("-",) else " ".join(text)
    if not text.strip():
        raise click.UsageError("TEXT is empty: give the review (or date) to predict")
    params, task = load_task(checkpoint, "predict")
    try:
        label, p = task.predict(params, text)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{label} {p:.3f}")


@main.command()
@click.argument("model", metavar="MODEL", type=click.Choice(sorted(gc.PROBLEMS)))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--tol", type=click.FloatRange(0), default=1e-6, show_default=True,
              help="Largest relative error that passes.")
def gradcheck(model, seed, tol):
    """Compare MODEL's backward pass with centred differences (float64)."""
    errors = gc.check(*gc.PROBLEMS[model](np.random.default_rng(seed)))
    lines, ok = gc.report(errors, tol)
    click.echo("\n".join(lines))
    click.echo(f"{model}: {'PASS' if ok else 'FAIL'} (relative error <= {tol:g})")
    sys.exit(0 if ok else 1)


@main.command()
@click.option("--length", "T", type=click.IntRange(2), default=10, show_default=True,
              help="Steps between the first symbol and the loss.")
@click.option("--steps", type=click.IntRange(0), default=1000, show_default=True,
              help="Training steps per model.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Also draw the curves into this PNG (needs the plot extra: matplotlib).")
def gradflow(T, steps, seed, plot):
    """How much gradient reaches h_k from a loss T - k steps later: Elman, LSTM, GRU."""
    from . import gradflow as gf
    if plot:                            # checked now, not after the training
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise click.ClickException("--plot needs matplotlib: pip install 'minirnn[plot]'") from None
        _make_folder(Path(plot).parent, "--plot")
    click.echo(f"training each model for {steps} steps on the first-symbol task, T = {T}", err=True)
    results = gf.measure(T=T, steps=steps, seed=seed)
    distances = sorted(d for d in {1, 2, 5, T // 4, T // 2, T} if 1 <= d <= T)
    click.echo("\n".join(gf.table(results, distances)))
    if plot:
        gf.plot(results, plot)
        click.echo(f"plot written to {plot}", err=True)


@main.command(context_settings={"ignore_unknown_options": True,
                                "allow_interspersed_args": False})   # NAME --help: the script's
@click.argument("name", metavar="NAME")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(name, args):
    """Time NAME's kernels (benchmarks/NAME.py: lstm, hmm, attention, ...) against NumPy and
    the reference libraries; ARGS go to the script."""
    if not BENCHMARKS.is_dir():
        raise click.ClickException(f"{BENCHMARKS} not found: benchmarks ship with the source "
                                   "checkout (git clone), not with an installed wheel")
    scripts = sorted(p.stem for p in BENCHMARKS.glob("*.py") if p.stem != "timing")
    if name not in scripts:
        raise click.UsageError(f"no benchmark {name!r}; available: {', '.join(scripts)}")
    sys.exit(subprocess.call([sys.executable, str(BENCHMARKS / f"{name}.py"), *args]))


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--only", default=None, metavar="CONCEPTS",
              help="Comma-separated concepts to strip, e.g. lstm,gru [default: all].")
def assign(out_dir, only):
    """Write a student copy of the project into OUT_DIR: each solution region becomes
    raise NotImplementedError (docs/instructors.rst)."""
    from . import assign as assignment
    try:
        stripped = assignment.make_assignment(Path(__file__).resolve().parents[1], out_dir,
                                              _concepts(only))
    except (ValueError, FileExistsError) as error:
        raise click.UsageError(str(error))
    for path, count in sorted(stripped.items()):
        click.echo(f"  {path}: {count} region(s) stripped")
    click.echo(f"student copy written to {out_dir}")


def _concepts(only):
    """The names of a comma-separated --only, each once, or None for all."""
    if only is None:
        return None
    names = list(dict.fromkeys(n.strip() for n in only.split(",") if n.strip()))
    if not names:
        raise click.UsageError(f"--only {only!r} names no concept; leave --only out for all of them")
    return names


@main.command()
@click.argument("project_dir", default=".", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write Gradescope's results.json here.")
@click.option("--only", default=None, metavar="CONCEPTS",
              help="Comma-separated concepts to grade, e.g. lstm,gru [default: all].")
@click.option("--timeout", type=click.IntRange(1), default=300, show_default=True,
              help="Seconds one pytest process may take for all of a concept's tests, not "
                   "each test; the test running when it is stopped scores 0, and those left "
                   "run in a new process with a new limit.")
def grade(project_dir, json_path, only, timeout):
    """Run the graded tests on PROJECT_DIR (a student copy, or a submission holding the
    concepts' files at their paths) and print points per concept, hidden tests included
    (results.json's output, which students see, counts the visible tests only;
    docs/instructors.rst). Lost points still exit 0; a failure of the grader itself exits 1."""
    from . import grade as grading
    try:
        results, report = grading.grade(project_dir, _concepts(only), timeout)
    except ValueError as error:
        raise click.UsageError(str(error))
    except grading.GradeError as error:
        raise click.ClickException(str(error))
    if json_path:
        write_json(json_path, results)
    click.echo(report)
    click.echo(f"graded in {results['execution_time']:.0f} s"
               + (f"; results written to {json_path}" if json_path else ""))


if __name__ == "__main__":
    main(prog_name="minirnn")
