"""Character LM: sequence batching, the step's gradients, learning, and temperature sampling."""
import numpy as np
import pytest

from minirnn import gradcheck, train
from minirnn.tasks.charlm import CharLM, Settings, streams


def test_batches_follow_the_text_and_continue_across_chunks():
    text = "".join(chr(65 + i % 26) for i in range(1000))
    task = CharLM.from_text(text, Settings(seq_len=7, batch_size=3))
    ids = task.encode(text[:900])
    rows = ids[: len(ids) // 3 * 3].reshape(3, -1)           # stream b = contiguous slice b
    for i in range(task.num_batches(0) - 1):
        x, y = task.batch(0, i)
        x_next, _ = task.batch(0, i + 1)
        assert x.shape == (7, 3)                            # time-major
        assert np.array_equal(x, rows[:, 7 * i: 7 * i + 7].T)
        assert np.array_equal(y[:-1], x[1:]) and np.array_equal(y[-1], x_next[0])
    assert np.array_equal(streams(np.arange(10), 3), [[0, 1, 2], [3, 4, 5], [6, 7, 8]])


def test_gradcheck_whole_step(rng):
    """Every gradient of a truncated-BPTT step, embedding included, against centred
    differences, from a carried-in state."""
    errors = gradcheck.check(*gradcheck.charlm_problem(rng))
    assert max(errors.values()) <= 1e-6, errors


def test_learns_a_repetitive_text_and_samples_it_back(tmp_path):
    text = "hello world, " * 400
    task = CharLM.from_text(text, Settings(hidden=32, embed=8, seq_len=13, batch_size=8, dtype="float64"))
    params, metrics = train.train(task, train.Config(epochs=12, lr=1e-2, out=str(tmp_path)),
                                  progress=False, log=lambda m: None)
    assert metrics["val_loss"] < 0.1                        # unigram entropy is ~2 nats
    out = task.sample(params, np.random.default_rng(0), 26, temperature=0.5, prime="hello")
    assert out.startswith("hello world, hello world,")


def test_temperature_sharpens_or_flattens_the_distribution():
    task = CharLM.from_text("abcabcabd" * 50, Settings(hidden=8, embed=4, seq_len=5, batch_size=2))
    params = task.init_params(np.random.default_rng(3))
    params["b_y"][:] = [2.0, 0.0, 0.0, -2.0]                 # biased next-character logits
    params["W_y"][:] = 0
    draws = {T: task.sample(params, np.random.default_rng(1), 4000, T, prime="a")[1:]
             for T in (0.5, 1.0, 3.0)}
    for T, s in draws.items():
        p = np.exp(np.array([2.0, 0, 0, -2.0]) / T)
        assert s.count("a") / len(s) == pytest.approx(p[0] / p.sum(), abs=0.03)


def test_sampling_rejects_bad_arguments():
    task = CharLM.from_text("abcabcabd" * 50, Settings(hidden=8, embed=4, seq_len=5, batch_size=2))
    params = task.init_params(np.random.default_rng(0))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        task.sample(params, np.random.default_rng(0), 5, 0.0)
    with pytest.raises(ValueError, match=r"outside the model's vocabulary: \['z'\]"):
        task.sample(params, np.random.default_rng(0), 5, 1.0, prime="abz")


def test_text_too_short_is_refused():
    with pytest.raises(ValueError, match="text too short for seq_len 64"):
        CharLM.from_text("abc" * 30, Settings())
