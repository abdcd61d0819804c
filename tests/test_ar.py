"""AR(p) by least squares: against numpy.linalg.lstsq on an independently built lagged
design, recovery of known coefficients, and the forecast task on the shipped series."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from minirnn import ar
from minirnn.cli import main
from tests.reference.esn import ar_design


def simulate(rng, c, phi, T, noise=1.0):
    s = np.zeros(T + 100)
    for t in range(len(phi), len(s)):
        s[t] = c + phi @ s[t - len(phi):t][::-1] + noise * rng.standard_normal()
    return s[100:]


def test_fit_equals_lstsq_on_sliding_window_design(rng):
    s = rng.standard_normal(300).cumsum()
    A, y = ar_design(s, 5)
    theta = np.linalg.lstsq(A, y, rcond=None)[0]
    params = ar.fit(s, 5)
    assert np.allclose([params["c"], *params["phi"]], theta, rtol=1e-10, atol=1e-12)
    assert np.allclose(ar.predict(params, s), A @ theta, atol=1e-10)


def test_ar1_recovers_its_coefficient(rng):
    T, phi = 20000, 0.7
    est = ar.fit(simulate(rng, 0.5, np.array([phi]), T), 1)
    stderr = np.sqrt((1 - phi**2) / T)        # asymptotic standard error of phi-hat
    assert abs(est["phi"][0] - phi) < 4 * stderr
    assert est["c"] == pytest.approx(0.5, abs=0.05)


def test_noiseless_ar2_is_recovered_exactly():
    s = np.concatenate([[1.0, 0.3], np.zeros(58)])
    for t in range(2, 60):
        s[t] = 0.2 + 1.6 * s[t - 1] - 0.8 * s[t - 2]
    est = ar.fit(s, 2)
    assert np.allclose(est["phi"], [1.6, -0.8], atol=1e-9) and est["c"] == pytest.approx(0.2)


@pytest.mark.parametrize("p", [1, 3])
def test_generate_feeds_each_prediction_back_as_the_newest_lag(rng, p):
    params = {"c": 0.3, "phi": rng.uniform(-0.5, 0.5, p)}
    past = rng.standard_normal(p + 4)
    s = list(past)
    for _ in range(6):                          # eq. (1) without noise, term by term
        s.append(params["c"] + sum(params["phi"][k] * s[-1 - k] for k in range(p)))
    assert np.allclose(ar.generate(params, past, 6), s[len(past):], rtol=1e-12)
    assert np.allclose(ar.generate(params, past[-p:], 6), s[len(past):], rtol=1e-12)
    with pytest.raises(ValueError, match=f"past: {p - 1} values are too few for AR\\({p}\\), "
                                         f"which needs at least {p}$"):
        ar.generate(params, past[:p - 1], 6)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="p: expected an order >= 1"):
        ar.fit(np.ones(10), 0)
    with pytest.raises(ValueError, match="s: 3 values are too few for AR"):
        ar.fit(np.ones(3), 3)
    with pytest.raises(ValueError, match="s: non-finite value nan at index"):
        ar.fit(np.array([1.0, np.nan, 2.0, 3.0, 4.0]), 1)


@pytest.mark.parametrize("data", ["sunspots", "airline", "temperatures"])
def test_ar_task_on_shipped_series_beats_persistence(tmp_path, data):
    result = CliRunner().invoke(main, ["run", "ar", "--data", data, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout.strip().splitlines()[-1])
    assert m["rmse"] < m["persistence_rmse"]
    assert json.loads((tmp_path / "metrics.json").read_text())["rmse"] == m["rmse"]
