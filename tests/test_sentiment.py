"""IMDB sentiment end to end on the shipped 200-review sample (the full run is a benchmark)."""
import numpy as np
import pytest
from click.testing import CliRunner

from minirnn import gradcheck, train
from minirnn.cli import main
from minirnn.data import SHIPPED, imdb
from minirnn.tasks.sentiment import Sentiment, Settings, time_major_batch
from tests.reference.lstm import lstm_forward

SAMPLE = SHIPPED / "imdb-sample"
SMALL = dict(hidden=8, embed=8, vocab_size=400, max_len=60, batch_size=16)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def make_task(**options):
    s = Settings(**{**SMALL, **options})
    data = imdb.load(SAMPLE, s.vocab_size, s.max_len, download=False)
    return Sentiment(s, data.vocab, data)


@pytest.mark.parametrize("model, bidirectional", [("lstm", False), ("gru", True), ("elman", False)])
def test_training_fits_the_training_reviews(tmp_path, model, bidirectional):
    task = make_task(model=model, bidirectional=bidirectional, dropout=0.0)
    params, _ = train.train(task, train.Config(epochs=15, lr=1e-2, out=str(tmp_path)),
                            progress=False, log=lambda m: None)
    accuracy, _ = task.accuracy_and_loss(params, task.train)
    assert accuracy >= 0.9                                    # 90 reviews, memorised
    metrics = task.evaluate(params)
    assert {"val_acc", "test_acc", "val_loss", "test_loss"} <= metrics.keys()


def test_gradcheck_whole_step(rng):
    """Every gradient of a training step: affine, dropout, both poolings, the
    bidirectional LSTM, word dropout and the embedding, against centred differences."""
    errors = gradcheck.check(*gradcheck.sentiment_problem(rng))
    assert max(errors.values()) <= 1e-6, errors


def reference_logits(params, ids):
    """Plain NumPy from docs/sentiment.rst for one review alone, a 1-layer bidirectional
    LSTM: its embeddings, the reference LSTM over them and over them reversed, [mean |
    max] over its own steps, the affine layer."""
    e = params["E"][ids][:, None]                             # (L, 1, D)

    def lstm(direction, x):
        cell = {k.split("/")[1]: v for k, v in params.items() if k.startswith(direction)}
        zero = np.zeros((1, cell["W_h"].shape[0]))
        return lstm_forward(cell, x, zero, zero, [len(x)])[:, 0]

    h = np.concatenate([lstm("l0.fwd/", e), lstm("l0.bwd/", e[::-1])[::-1]], axis=1)
    return np.concatenate([h.mean(axis=0), h.max(axis=0)]) @ params["W_y"] + params["b_y"]


def test_logits_are_each_review_alone_through_a_numpy_reference(rng):
    """A batch of reviews of different lengths gives each review the logits it gets
    alone from the reference: padding reaches neither direction nor the pooling."""
    task = make_task(dtype="float64")
    params = task.init_params(rng)
    idx = np.argsort(task.test.lengths)[[0, len(task.test.lengths) // 2, -1]]
    tokens, lengths, _ = time_major_batch(task.test, idx)
    z, _ = task.forward(params, tokens, lengths, backprop=False)
    for b, L in enumerate(lengths):
        assert np.allclose(z[b], reference_logits(params, tokens[:L, b]), rtol=1e-12, atol=1e-14)


def test_predict_names_the_likelier_class(rng):
    task = make_task(dtype="float64")
    params = task.init_params(rng)
    params["b_y"][:] = [0.3, -0.3]                            # leaning negative
    for text in ["A moving, beautifully shot film.", "Dull, and far too long."]:
        tokens, lengths = imdb.encode([text], task.vocab, task.s.max_len)
        z = reference_logits(params, tokens[0, :lengths[0]])
        p = np.exp(z - z.max())
        p /= p.sum()
        label, prob = task.predict(params, text)
        assert (label, prob) == (("negative", "positive")[p.argmax()], pytest.approx(p.max()))


def test_word_dropout_drops_whole_word_vectors(rng):
    """Each token of the batch appears once, so its row of dE is its word's gradient
    alone: zero in every element (the word dropped) or in none (kept)."""
    task = make_task(dtype="float64", word_dropout=0.5, dropout=0.0)
    params = task.init_params(rng)
    T, B = 12, 4
    tokens = 2 + np.arange(T * B, dtype=np.int32).reshape(T, B)    # past <pad>, <unk>
    _, grads, _, _ = task.step(params, (tokens, np.full(B, T), np.array([0, 1, 0, 1])), None, rng)
    zero = grads["E"][tokens.ravel()] == 0
    dropped = zero.all(axis=1)
    assert np.array_equal(zero.any(axis=1), dropped)                # no word half-dropped
    assert 0 < dropped.sum() < T * B


def test_batches_are_time_major_cut_to_their_longest_review():
    task = make_task()
    seen = []
    for i in range(task.num_batches(0)):
        tokens, lengths, labels = task.batch(0, i)
        assert tokens.shape == (lengths.max(), len(lengths))
        for b, L in enumerate(lengths):                       # ids up to the length, pad after
            assert np.all(tokens[:L, b] != 0) and np.all(tokens[L:, b] == 0)
        seen.append(len(labels))
    assert sum(seen) == len(task.train.labels)


def test_resume_with_dropout_reaches_the_same_parameters(tmp_path):
    """Dropout draws from the training RNG, so this checks that its state is restored."""
    task = make_task(dropout=0.5, bidirectional=True)
    cfg = dict(epochs=2, lr=1e-2, seed=3, checkpoint_every=2)
    full, _ = train.train(task, train.Config(out=str(tmp_path / "a"), **cfg), progress=False,
                          log=lambda m: None)
    original_step = task.step
    calls = []

    def crash_on_fourth(*args):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("crash")
        return original_step(*args)
    task.step = crash_on_fourth
    with pytest.raises(RuntimeError):
        train.train(task, train.Config(out=str(tmp_path / "b"), **cfg), progress=False, log=lambda m: None)
    task.step = original_step
    resumed, _ = train.train(task, train.Config(out=str(tmp_path / "b"), **cfg), resume=True,
                             progress=False, log=lambda m: None)
    assert all(np.array_equal(full[k], resumed[k]) for k in full)


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_cli_run_then_predict(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "lstm", "--data", "imdb", "--data-dir", str(SAMPLE), "--epochs", "1",
                    "--hidden", "8", "--embed", "8", "--vocab-size", "400", "--max-len", "60",
                    "--batch-size", "16", "--bidirectional", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "test_acc" in result.output and "--- sample" not in result.output
    predicted = invoke("predict", "--checkpoint", str(out / "checkpoint.npz"), "What a wonderful film!")
    assert predicted.exit_code == 0, predicted.output
    label, p = predicted.output.split()
    assert label in ("positive", "negative") and 0.5 <= float(p) <= 1.0
    piped = CliRunner().invoke(main, ["predict", "--checkpoint", str(out), "-"],
                               input="What a wonderful film!\n")
    assert piped.output == predicted.output
    for text, why in [("!!! <br />", "no words"), ("zzqx qqwv", "none of the 2 word(s)")]:
        refused = invoke("predict", "--checkpoint", str(out), text)
        assert refused.exit_code == 1 and why in refused.output
    params, opt, state, meta = train.load_checkpoint(out / "checkpoint.npz")
    meta["task"]["device"] = "cuda"                           # as if trained on a GPU
    del meta["task"]["word_dropout"]                          # by a minirnn before word dropout
    train.save_checkpoint(out / "gpu.npz", params, opt, state, meta)
    assert invoke("predict", "--checkpoint", str(out / "gpu.npz"),    # runs on the CPU
                  "What a wonderful film!").output == predicted.output
    refused = invoke("sample", "--checkpoint", str(out / "checkpoint.npz"))
    assert refused.exit_code == 1 and "cannot sample" in refused.output


def test_resume_reads_the_data_where_the_run_did_on_any_device(tmp_path, monkeypatch):
    """No --data-dir on --resume: the run's own folder, not a download; and a run saved
    on a GPU goes on on the CPU."""
    out = tmp_path / "run"
    small = ["--hidden", "8", "--embed", "8", "--vocab-size", "400", "--max-len", "60",
             "--batch-size", "16", "--out", str(out)]
    assert invoke("run", "gru", "--data", "imdb", "--data-dir", str(SAMPLE), "--epochs", "1",
                  *small).exit_code == 0
    params, opt, state, meta = train.load_checkpoint(out / train.CHECKPOINT)
    meta["task"]["device"] = "cuda"
    train.save_checkpoint(out / train.CHECKPOINT, params, opt, state, meta)
    monkeypatch.setenv("MINIRNN_DATA", str(tmp_path))          # no IMDB here, nor online:
    monkeypatch.setattr("minirnn.data.urllib.request.urlopen", lambda *a, **k: pytest.fail("download"))
    resumed = invoke("run", "gru", "--data", "imdb", "--resume", "--epochs", "2", "--device", "cpu",
                     "--out", str(out))
    assert resumed.exit_code == 0, resumed.output
    assert '"epoch": 2' in resumed.output


def test_options_of_another_task_are_refused():
    result = invoke("run", "lstm", "--data", "imdb", "--data-dir", str(SAMPLE), "--seq-len", "5")
    assert result.exit_code == 2 and "--seq-len do not apply to lstm --data imdb" in result.output
    result = invoke("run", "elman", "--data", "shakespeare", "--bidirectional")
    assert result.exit_code == 2 and "--bidirectional do not apply" in result.output
