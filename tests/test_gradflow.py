"""gradflow: the restart trick gives dL/dh_k exactly (checked by finite differences)."""
import numpy as np
import pytest

from minirnn import gradflow, lstm
from minirnn.gradcheck import numerical_gradient


def test_gradient_norm_at_step_k_is_the_derivative_of_the_loss(rng):
    T, B, V, H = 6, 3, 4, 5
    for name, cell in gradflow.CELLS.items():
        params = {**cell.init(rng, V, H, np.float64), "W_y": rng.standard_normal((H, V)),
                  "b_y": np.zeros(V)}
        x, y = gradflow.first_symbol_batch(rng, T, B, V)
        norms = gradflow.gradient_norms(cell, params, x, y)
        h, c, _ = gradflow.final_state(cell, params, x, gradflow.zero_state(cell, B, H))
        k = 3                                         # perturb h_3, rerun steps 4..T
        h_k = h[k - 1].copy()
        start = lambda: (h_k, c[k - 1]) if cell is lstm else (h_k,)  # noqa: E731
        loss = lambda: gradflow.loss_and_grads(cell, params, x[k:], y, start())[0]  # noqa: E731
        numeric = numerical_gradient(loss, h_k)
        assert np.isclose(norms[k], np.linalg.norm(numeric, axis=1).mean(), rtol=1e-6), name


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


def test_cli_plots_into_a_folder_it_makes(tmp_path):
    pytest.importorskip("matplotlib")
    from click.testing import CliRunner

    from minirnn.cli import main
    path = tmp_path / "new" / "gradflow.png"
    result = CliRunner().invoke(main, ["gradflow", "--length", "4", "--steps", "2",
                                       "--plot", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_bytes().startswith(b"\x89PNG")
