"""Seq2seq on dates: gradient checks of the decoder (one step and whole outputs, with
and without attention), beam search scores, a tiny run that learns, exact resume, CLI."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from minirnn import gradcheck, train
from minirnn.cli import main
from minirnn.data import dates
from minirnn.gradcheck import check
from minirnn.tasks import seq2seq
from tests.test_train import Sabotaged

TINY = dict(hidden=8, embed=8, train_size=256, val_size=40, test_size=40, batch_size=32)


def make_task(**options):
    return seq2seq.build(seq2seq.Settings(**{**TINY, **options}))


def float64_problem(rng, attention):
    task = make_task(attention=attention, hidden=3, embed=2, dtype="float64")
    params = gradcheck.perturbed(task.init_params(rng), rng, scale=1.0)
    return task, params, seq2seq.time_major_batch(task.train, np.arange(3))


@pytest.mark.parametrize("attention, steps", [(True, 1), (True, dates.TARGET_LEN),
                                              (False, dates.TARGET_LEN)])
def test_gradcheck_decoder_and_encoder(rng, attention, steps):
    """The cross-entropy of the first ``steps`` outputs (one decoder step, then all),
    back through the whole encoder sequence into the input embedding E_x."""
    errors = check(*gradcheck.seq2seq_problem(rng, attention, steps))
    assert max(errors.values()) <= 1e-6, errors


def teacher_forced_logp(task, params, inputs, lengths, ids):
    """log p(ids | input) summed over the steps up to the first </s>, from the training
    forward (teacher forcing): what follows </s> is not part of the output."""
    m, s0, _ = task.encode(params, inputs, lengths)
    y_prev = np.concatenate([np.full((1, ids.shape[0]), dates.BOS), ids.T[:-1]])
    z, _, _, _ = task.decode(params, y_prev, s0, m, lengths)
    logp = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(logp, ids.T[..., None], axis=2)[..., 0]       # (T', B)
    ended_before = np.cumsum(ids.T == dates.EOS, axis=0) - (ids.T == dates.EOS) > 0
    return np.where(ended_before, 0.0, picked).sum(axis=0)


@pytest.mark.parametrize("attention", [True, False])
def test_beam_scores_are_the_model_probabilities_and_beat_greedy(rng, attention):
    task, params, (inputs, lengths, _) = float64_problem(rng, attention)
    scores = {}
    for beam in (1, 4):
        ids, logp, A = task.translate(params, inputs, lengths, beam=beam)
        assert np.allclose(logp, teacher_forced_logp(task, params, inputs, lengths, ids), atol=1e-10)
        scores[beam] = logp
        if attention:
            assert A.shape == (3, dates.TARGET_LEN, inputs.shape[0])
            assert np.allclose(A.sum(axis=2), 1.0)
            padding = np.arange(inputs.shape[0])[None, None, :] >= lengths[:, None, None]
            assert np.all(A[np.broadcast_to(padding, A.shape)] == 0)
    assert np.all(scores[4] >= scores[1] - 1e-12)


def test_tiny_run_learns_and_resumes_exactly(tmp_path):
    task = make_task(train_size=512)
    cfg = dict(epochs=4, lr=2e-2, seed=3, checkpoint_every=5)
    full, metrics = train.train(task, train.Config(out=str(tmp_path / "a"), **cfg),
                                progress=False, log=lambda m: None)
    losses = [json.loads(line)["train_loss"] for line in open(tmp_path / "a" / "metrics.jsonl")]
    assert losses[-1] < 0.45 * np.log(len(dates.OUTPUT_VOCAB))         # from ~ln 13 at start
    assert losses[-1] < losses[0]
    with pytest.raises(RuntimeError):
        train.train(Sabotaged(task, 12, "crash"), train.Config(out=str(tmp_path / "b"), **cfg),
                    progress=False, log=lambda m: None)
    resumed, _ = train.train(task, train.Config(out=str(tmp_path / "b"), **cfg), resume=True,
                             progress=False, log=lambda m: None)
    assert all(np.array_equal(full[k], resumed[k]) for k in full)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="beam"):
        seq2seq.Seq2Seq(seq2seq.Settings(beam=0))
    with pytest.raises(ValueError, match="data"):
        seq2seq.Seq2Seq(seq2seq.Settings(data="dates-short"))


def invoke(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("attention", ["--attention", "--no-attention"])
def test_cli_run_then_predict(tmp_path, monkeypatch, attention):
    load = dates.load
    monkeypatch.setattr(dates, "load", lambda *sizes_seed_filler: load(256, 40, 40, *sizes_seed_filler[3:]))
    out = tmp_path / "run"
    result = invoke("run", "seq2seq", "--data", "dates", "--epochs", "1", "--hidden", "8",
                    "--embed", "8", "--batch-size", "32", "--beam", "2", attention, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "test_acc_len_0_10" in result.output
    predicted = invoke("predict", "--checkpoint", str(out / "checkpoint.npz"), "3 May 1979")
    assert predicted.exit_code == 0, predicted.output
    iso, p = predicted.output.split()
    assert len(iso) <= dates.TARGET_LEN and set(iso) <= set(dates.OUTPUT_CHARS) and 0 <= float(p) <= 1
    refused = invoke("predict", "--checkpoint", str(out / "checkpoint.npz"), "3 may #79")
    assert refused.exit_code == 1 and "character '#'" in refused.output


def test_options_of_other_tasks_are_refused():
    result = invoke("run", "lstm", "--data", "imdb", "--no-attention")
    assert result.exit_code == 2 and "--attention do not apply" in result.output
    result = invoke("run", "seq2seq", "--data", "dates", "--bidirectional")
    assert result.exit_code == 2 and "--bidirectional do not apply to seq2seq --data dates" in result.output
