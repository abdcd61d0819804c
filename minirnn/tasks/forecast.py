"""One-step and closed-loop forecasting of a scalar series: ESN vs AR(p) vs persistence
(``docs/esn.rst``, ``docs/ar.rst``).

The series s_0 .. s_{T-1} becomes input/target pairs (u_t, y_t) = (s_t, s_{t+1}); the
last ``test_fraction`` of the series is the test set, as in reservoirpy's
``to_forecasting``. Every model predicts the same test targets from the true past:

* ``esn``: the reservoir runs over all inputs (teacher forcing), the readout is fitted
  on the training states after ``warmup`` steps, then read on the test states; from the
  last training state it also runs in closed loop (its predictions fed back) over the
  test span, and the horizon is the first step whose error exceeds
  ``threshold`` x the training series' standard deviation.
* ``ar``: AR(``order``) by least squares on the training part.
* persistence (always reported): the next value is the current one.

Mackey-Glass is used as generated (values 0.4 .. 1.3, as in reservoirpy's quickstart);
the real series are standardised with the training mean and deviation for the
reservoir. RMSE and R^2 are in the series' own units.
"""
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import ar, esn
from ..data import mackey_glass, timeseries

# data set: (what, source, AR order, ESN warm-up): source is a (file, column) of
# minirnn.data.timeseries, or None for the Mackey-Glass generator.
SERIES = {"mackey-glass": ("Mackey-Glass chaotic series, tau = 17 (generated, RK4)", None, 20, 100),
          "sunspots": ("monthly sunspot numbers 1749-1983, 2,820 months",
                       ("monthly-sunspots", "Sunspots"), 12, 100),
          "airline": ("monthly airline passengers 1949-1960, 144 months",
                      ("airline-passengers", "Passengers"), 12, 12),
          "temperatures": ("daily minimum temperatures in Melbourne 1981-1990, 3,650 days",
                           ("daily-min-temperatures", "Temp"), 7, 100)}


@dataclass
class Settings:
    model: str = "esn"                  # esn or ar
    data: str = "mackey-glass"
    hidden: int = 100                   # reservoir units N
    spectral_radius: float = 1.25
    leak: float = 0.3
    ridge: float = 1e-5
    density: float = 0.1                # of W
    input_scaling: float = 1.0
    input_density: float = 0.1          # of W_in
    bias_scaling: float = 0.0
    input_to_readout: bool = True       # readout sees [x_t; u_t], not x_t alone
    warmup: int | None = None           # None: the data set's (SERIES)
    order: int | None = None            # AR order p; None: the data set's
    test_fraction: float = 0.2
    length: int = 2000                  # Mackey-Glass samples
    threshold: float = 0.1              # closed-loop horizon, in training deviations
    dtype: str = "float64"              # of the reservoir states
    device: str = "cpu"


def build(settings, data_dir=None):
    if settings.data not in SERIES:
        raise KeyError(f"unknown series {settings.data!r}; available: {', '.join(SERIES)}")
    if not 0 < settings.test_fraction < 1:
        raise ValueError(f"test_fraction: expected a fraction in (0, 1), got {settings.test_fraction}")
    source = SERIES[settings.data][1]
    if source is None:
        s = mackey_glass.mackey_glass(settings.length)
    else:
        s = timeseries.load(source[0], data_dir)[source[1]]
    return Forecast(settings, s)


class Forecast:
    """The task ``minirnn run esn|ar --data SERIES`` fits (``fit(seed, out, log)``)."""

    def __init__(self, settings, s):
        self.s, self.series = settings, s
        _, _, order, warmup = SERIES[settings.data]
        self.order = settings.order or order
        self.warmup = settings.warmup if settings.warmup is not None else warmup
        self.n_test = round(settings.test_fraction * len(s))
        self.n_train = len(s) - 1 - self.n_test          # (input, target) pairs
        if self.n_train <= max(self.warmup, 2 * self.order + 1):
            raise ValueError(f"{settings.data}: {len(s)} values leave {self.n_train} training "
                             f"pairs, too few for warm-up {self.warmup} / AR({self.order})")

    def fit(self, seed, out, log):
        s, n_train = self.series, self.n_train
        target = s[n_train + 1:]                      # the test targets y_t = s_{t+1}
        log(f"{self.s.model} on {self.s.data}: {n_train} training pairs, {self.n_test} test pairs")
        metrics = {"model": self.s.model, "data": self.s.data, "seed": seed,
                   "persistence_rmse": rmse(s[n_train:-1], target)}
        if self.s.model == "ar":
            params = ar.fit(s[:n_train + 1], self.order)
            pred = ar.predict(params, s)[-self.n_test:]
            metrics["order"] = self.order
            curves = {}
        else:
            pred, curves = self._esn(seed, log)
            metrics.update(curves.pop("metrics"))
        metrics.update(rmse=rmse(pred, target), r2=r2(pred, target))
        _write_json(Path(out) / "metrics.json", {**metrics, "settings": asdict(self.s)})
        if _plot(Path(out) / "forecast.png", target, pred, curves, metrics):
            log(f"plot written to {Path(out) / 'forecast.png'}")
        return metrics

    def _esn(self, seed, log):
        """One-step test predictions and the closed-loop run, in the series' units."""
        st, s, n_train = self.s, self.series, self.n_train
        dtype = np.dtype(st.dtype)
        centre, scale = (0.0, 1.0) if SERIES[st.data][1] is None else \
            (s[:n_train + 1].mean(), s[:n_train + 1].std())
        z = (s - centre) / scale
        u, y = z[:-1, None], z[1:, None]
        params = esn.init(np.random.default_rng(seed), 1, st.hidden, st.spectral_radius,
                          st.density, st.input_scaling, st.input_density, st.bias_scaling, dtype)
        log("(the first run compiles the Numba kernels; later runs load them from cache)")
        x = esn.forward(params, u[:, None].astype(dtype), st.leak, device=st.device)[:, 0]
        fitted, test = slice(self.warmup, n_train), slice(n_train, None)
        seen = u if st.input_to_readout else u[:, :0]     # what the readout sees of u
        ro = esn.fit_readout(x[fitted], y[fitted], st.ridge, seen[fitted])
        pred = esn.readout(ro, x[test], seen[test])
        u0 = u[n_train - 1:n_train].astype(dtype)
        closed, _ = esn.generate(params, ro, u0, x[n_train - 1:n_train], self.n_test, st.leak)
        closed = closed[:, 0, 0] * scale + centre
        target = s[n_train:n_train + self.n_test]
        error = np.abs(closed - target)
        over = np.flatnonzero(error > st.threshold * s[:n_train + 1].std())
        horizon = int(over[0]) if over.size else self.n_test
        log(f"closed loop stays within {st.threshold:g} deviations for {horizon} steps")
        return pred[:, 0] * scale + centre, {
            "closed": (closed, target, horizon),
            "metrics": {"train_rmse": rmse(esn.readout(ro, x[fitted], seen[fitted]) * scale,
                                           y[fitted] * scale),
                        "closed_loop_horizon": horizon,
                        "closed_loop_rmse_to_horizon": rmse(closed[:max(horizon, 1)],
                                                            target[:max(horizon, 1)])}}


def rmse(pred, target):
    return float(np.sqrt(np.mean((pred - target) ** 2)))


def r2(pred, target):
    return float(1 - np.sum((pred - target) ** 2) / np.sum((target - target.mean()) ** 2))


def _write_json(path, obj):
    """Write through a temporary file and rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def _plot(path, target, pred, curves, metrics):
    """One-step (and closed-loop) predictions against the test series; False without
    matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = 2 if curves else 1
    fig, axes = plt.subplots(rows, 1, figsize=(9, 2.6 * rows), squeeze=False)
    ax = axes[0, 0]
    ax.plot(target, "k", lw=1, label="series")
    ax.plot(pred, "C1--", lw=1, label=f"one-step {metrics['model']} (RMSE {metrics['rmse']:.2g})")
    ax.set_title(f"{metrics['data']}: test span, one-step predictions")
    ax.legend(loc="upper right", fontsize=8)
    if curves:
        closed, truth, horizon = curves["closed"]
        ax = axes[1, 0]
        ax.plot(truth, "k", lw=1, label="series")
        ax.plot(closed, "C0", lw=1, label="closed loop (own predictions fed back)")
        ax.axvline(horizon, color="C3", ls=":", label=f"horizon {horizon} steps")
        ax.set_title("closed-loop forecast from the end of training")
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("test step")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
