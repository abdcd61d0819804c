"""gradflow: the restart trick gives dL/dh_k exactly, checked at every k by centred
differences through the NumPy reference cells and a NumPy loss."""
import numpy as np
import pytest

from minirnn import gradflow
from minirnn.gradcheck import numerical_gradient
from tests.reference.elman import elman_cell
from tests.reference.gru import gru_cell
from tests.reference.lstm import lstm_cell

STEPS = {   # one step of each cell from the reference equations: state tuple -> state tuple
    "elman": lambda p, x_t, s: (elman_cell(p["W_x"], p["W_h"], p["b"], x_t, s[0]),),
    "lstm": lambda p, x_t, s: lstm_cell(p, x_t, *s),
    "gru": lambda p, x_t, s: (gru_cell(p["W_x"], p["W_h"], p["b_x"], p["b_h"], x_t, s[0]),),
}


def reference_loss(name, params, x, y, state):
    """Mean cross-entropy of naming y from the last state of a run from ``state``."""
    for x_t in x:
        state = STEPS[name](params, x_t, state)
    z = state[0] @ params["W_y"] + params["b_y"]
    z = z - z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))


@pytest.mark.parametrize("name", list(gradflow.CELLS))
def test_gradient_norm_at_every_step_is_the_derivative_of_the_loss(rng, name):
    T, B, V, H = 6, 3, 4, 5
    params = {**gradflow.CELLS[name].init(rng, V, H, np.float64),
              "W_y": rng.standard_normal((H, V)), "b_y": rng.standard_normal(V)}
    x, y = gradflow.first_symbol_batch(rng, T, B, V)
    norms = gradflow.gradient_norms(gradflow.CELLS[name], params, x, y)
    state = tuple(np.zeros((B, H)) for _ in range(2 if name == "lstm" else 1))
    for k in range(T):                      # state: after k steps; perturb its h, run on
        numeric = numerical_gradient(lambda: reference_loss(name, params, x[k:], y, state),
                                     state[0])
        assert np.isclose(norms[k], np.linalg.norm(numeric, axis=1).mean(), rtol=1e-6), k
        state = STEPS[name](params, x[k], state)


def test_table_reports_decay_relative_to_the_last_step():
    results = {"m": {"init": np.array([1e-4, 1e-2, 1.0]), "trained": np.array([2e-3, 1e-2, 2.0]),
                     "accuracy": 0.5}}
    rows = gradflow.table(results, [1, 3])
    assert "1.00e+00" in rows[1] and "1.00e-04" in rows[2] and "1.00e-03" in rows[2]


def test_cli_prints_the_table():
    from click.testing import CliRunner

    from minirnn.cli import main
    result = CliRunner().invoke(main, ["gradflow", "--length", "4", "--steps", "2"])
    assert result.exit_code == 0, result.output
    assert "elman init" in result.output and "lstm trained" in result.output
    assert result.output.count("\n") >= 5


def test_cli_shows_only_distances_the_length_has():
    from click.testing import CliRunner

    from minirnn.cli import main
    result = CliRunner().invoke(main, ["gradflow", "--length", "3", "--steps", "0"])
    assert result.exit_code == 0, result.output
    distances = [line.split()[0] for line in result.output.splitlines() if line[:8].strip().isdigit()]
    assert distances == ["1", "2", "3"]


def test_table_refuses_distances_beyond_the_sequence():
    results = {"m": {"init": np.ones(3), "trained": np.ones(3), "accuracy": 0.5}}
    with pytest.raises(ValueError, match="1..3"):
        gradflow.table(results, [1, 5])


def test_cli_plots_into_a_folder_it_makes(tmp_path):
    pytest.importorskip("matplotlib")
    from click.testing import CliRunner

    from minirnn.cli import main
    path = tmp_path / "new" / "gradflow.png"
    result = CliRunner().invoke(main, ["gradflow", "--length", "4", "--steps", "2",
                                       "--plot", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_bytes().startswith(b"\x89PNG")
