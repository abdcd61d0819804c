"""Tracking a target in the plane with a Kalman filter (``docs/lds.rst``, "Tracking").

A constant-velocity target, state x = (p_x, p_y, v_x, v_y), position seen in noise:

    F = [[I, dt I], [0, I]],  H = [I, 0],  R = r^2 I,
    Q = q [[dt^3/3 I, dt^2/2 I], [dt^2/2 I, dt I]]   (white-noise acceleration)

``minirnn run lds --data tracking`` draws a track from the seed, hides a fraction of
the observations, and reports the position RMSE of the raw observations, the filter
and the smoother; then it forgets Q and R and fits them back by EM.
"""
import os
from dataclasses import asdict, dataclass

import numpy as np

from .. import lds
from ..files import write_atomic, write_json


@dataclass
class Settings:
    steps: int = 300
    dt: float = 1.0
    accel_noise: float = 0.05     # q, the acceleration noise's spectral density
    obs_noise: float = 3.0        # r, standard deviation of each position reading
    missing: float = 0.1          # fraction of steps with no observation
    em_iterations: int = 30
    dtype: str = "float32"
    device: str = "cpu"


def constant_velocity(dt, q, r, dtype=np.float64):
    """The LDS parameters of the module docstring; the target starts near the origin,
    moving at about (1, 1) per unit time."""
    I, Z = np.eye(2), np.zeros((2, 2))
    params = {"F": np.block([[I, dt * I], [Z, I]]), "H": np.block([I, Z]),
              "Q": q * np.block([[dt ** 3 / 3 * I, dt ** 2 / 2 * I], [dt ** 2 / 2 * I, dt * I]]),
              "R": r * r * I, "mu0": np.array([0.0, 0.0, 1.0, 1.0]),
              "P0": np.diag([r * r, r * r, 0.1, 0.1])}
    return {k: v.astype(dtype) for k, v in params.items()}


def build(settings, data_dir=None):
    """The task; it generates its data, so ``data_dir`` is not used."""
    if settings.steps < 2 or not 0 <= settings.missing < 1:
        raise ValueError(f"tracking needs steps >= 2 and 0 <= missing < 1, got "
                         f"steps={settings.steps}, missing={settings.missing}")
    return Tracking(settings)


def rmse(estimate, truth, rows):
    """Root mean squared position error over the chosen rows (None when there are none)."""
    if not rows.any():
        return None
    return float(np.sqrt(((estimate[rows, :2] - truth[rows, :2]) ** 2).sum(1).mean()))


class Tracking:
    """What ``minirnn run lds --data tracking`` fits: ``fit(seed, out, log)``."""

    def __init__(self, settings):
        self.s = settings

    def simulate(self, rng):
        """The true parameters, states x (T, 4) and observations y (T, 2), NaN rows hidden."""
        s = self.s
        params = constant_velocity(s.dt, s.accel_noise, s.obs_noise, np.dtype(s.dtype))
        x, y = lds.sample(params, s.steps, rng)
        y[rng.random(s.steps) < s.missing] = np.nan
        return params, x, y

    def fit(self, seed, out, log):
        s = self.s
        log("(the first run compiles the Kalman filter kernel; later runs load it from cache)")
        params, x, y = self.simulate(np.random.default_rng(seed))
        seen = ~np.isnan(y).any(1)
        mu_f, P_f, ll = lds.filter(params, y, device=s.device)
        mu_s = lds.smooth(params, mu_f, P_f)[0]
        metrics = {"steps": s.steps, "observed": int(seen.sum()), "log_likelihood": ll,
                   "rmse_observations": rmse(y, x, seen),
                   "rmse_filter": rmse(mu_f, x, seen), "rmse_smoother": rmse(mu_s, x, seen),
                   "rmse_filter_missing": rmse(mu_f, x, ~seen),
                   "rmse_smoother_missing": rmse(mu_s, x, ~seen)}
        log("position RMSE on observed steps: observations {rmse_observations:.3f}, "
            "filter {rmse_filter:.3f}, smoother {rmse_smoother:.3f}".format(**metrics))
        metrics.update(self.refit(params, x, y, log))
        write_json(os.path.join(out, "metrics.json"), {**metrics, "settings": asdict(s), "seed": seed})
        if plot_tracks(x, y, mu_f, mu_s, os.path.join(out, "tracks.png")):
            log(f"plot written to {os.path.join(out, 'tracks.png')}")
        log(f"metrics written to {os.path.join(out, 'metrics.json')}")
        return metrics

    def refit(self, truth, x, y, log):
        """EM for Q and R from a start 10x off (F and H, the physics, are known)."""
        start = {**truth, "Q": truth["Q"] * 10, "R": truth["R"] / 10}
        fitted, history = lds.em(start, y, self.s.em_iterations, learn=("Q", "R"))
        mu_s = lds.smooth(fitted, *lds.filter(fitted, y)[:2])[0]
        log(f"EM of Q, R from a start 10x off: log-likelihood {history[0]:.2f} -> "
            f"{history[-1]:.2f} in {len(history) - 1} iterations")
        return {"em_log_likelihood_start": history[0], "em_log_likelihood": history[-1],
                "em_obs_noise": float(np.sqrt(fitted["R"].diagonal().mean())),
                "rmse_smoother_em": rmse(mu_s, x, ~np.isnan(y).any(1))}


def plot_tracks(x, y, mu_f, mu_s, path, window=slice(100, 160)):
    """Two panels written atomically as a PNG to ``path``: the tracks in the plane over
    ``window`` of steps, and each estimate's position error over time (missing steps
    shaded). Returns False (and writes nothing) without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (plane, errors) = plt.subplots(1, 2, figsize=(11, 4.2))
    w = window
    plane.plot(y[w, 0], y[w, 1], "o", color="0.6", ms=3, label="observations")
    plane.plot(x[w, 0], x[w, 1], "k-", lw=2, label="true track")
    plane.plot(mu_f[w, 0], mu_f[w, 1], ".-", color="tab:orange", lw=1, ms=3, label="filter")
    plane.plot(mu_s[w, 0], mu_s[w, 1], "-", color="tab:blue", lw=1.5, label="smoother")
    plane.set(title=f"steps {w.start}-{w.stop - 1} in the plane", xlabel="position x",
              ylabel="position y", aspect="equal")
    plane.legend(fontsize="small")
    t = np.arange(len(x))
    for t_missing in t[np.isnan(y).any(1)]:
        errors.axvspan(t_missing - 0.5, t_missing + 0.5, color="0.9", lw=0)
    for est, label, style in ((y, "observations", dict(color="0.6", lw=0.8)),
                              (mu_f, "filter", dict(color="tab:orange", lw=1)),
                              (mu_s, "smoother", dict(color="tab:blue", lw=1.5))):
        errors.plot(t, np.hypot(*(est[:, :2] - x[:, :2]).T), label=label, **style)
    errors.set(title="position error (grey bands: no observation)", xlabel="step t",
               ylabel="distance to the true position")
    errors.legend(fontsize="small")
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
    return True
