"""minirnn run lds --data tracking: the filter beats the raw readings, the smoother beats
the filter, EM recovers the noise, and the run folder holds only finished files."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from minirnn import lds
from minirnn.cli import main
from minirnn.tasks import tracking


def test_constant_velocity_model_moves_the_position_by_velocity_times_dt():
    p = tracking.constant_velocity(dt=0.5, q=0.1, r=2.0)
    assert np.allclose(p["F"] @ [1.0, 2.0, 3.0, 4.0], [2.5, 4.0, 3.0, 4.0])
    assert np.allclose(p["H"] @ [1.0, 2.0, 3.0, 4.0], [1.0, 2.0])
    assert np.allclose(p["Q"][0, 0], 0.1 * 0.5 ** 3 / 3) and np.allclose(p["R"], 4 * np.eye(2))


def test_cli_run_reports_rmses_and_writes_metrics_and_plot(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "lds", "--data", "tracking", "--out", str(out),
                                       "--dtype", "float64", "--seed", "3"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics["rmse_smoother"] < metrics["rmse_filter"] < metrics["rmse_observations"]
    assert metrics["rmse_smoother_missing"] < metrics["rmse_filter_missing"]
    assert metrics["em_log_likelihood"] > metrics["em_log_likelihood_start"]
    assert metrics["em_obs_noise"] == pytest.approx(tracking.Settings.obs_noise, rel=0.15)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["rmse_filter"] == metrics["rmse_filter"] and saved["seed"] == 3
    names = {p.name for p in out.iterdir()}
    pytest.importorskip("matplotlib")
    assert names == {"metrics.json", "tracks.png"}


def test_readings_have_the_noise_level_and_missing_steps_only_predict():
    task = tracking.build(tracking.Settings(steps=2000, dtype="float64"))
    _, x, y = task.simulate(np.random.default_rng(0))
    seen = ~np.isnan(y).any(1)
    assert 0.05 < 1 - seen.mean() < 0.15                   # Settings.missing = 0.1
    assert tracking.rmse(y, x, seen) == pytest.approx(np.sqrt(2) * 3.0, rel=0.05)
    params = tracking.constant_velocity(1.0, 0.05, 3.0)
    mu, P, _ = lds.filter(params, y)
    for t in np.flatnonzero(~seen[1:]) + 1:               # missing: prediction only (eq. 3)
        assert np.allclose(mu[t], params["F"] @ mu[t - 1], rtol=1e-14)
        assert np.allclose(P[t], params["F"] @ P[t - 1] @ params["F"].T + params["Q"], rtol=1e-14)


def test_options_that_do_not_apply_are_refused():
    result = CliRunner().invoke(main, ["run", "lds", "--data", "tracking", "--hidden", "8"])
    assert result.exit_code == 2 and "--hidden" in result.output
