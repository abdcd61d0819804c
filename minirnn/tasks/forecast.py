"""One-step and closed-loop forecasting of a scalar series: ESN vs AR(p) vs persistence
(``docs/esn.rst``, ``docs/ar.rst``).

The series s_0 .. s_{T-1} becomes input/target pairs (u_t, y_t) = (s_t, s_{t+1}); the
last ``test_fraction`` of the series is the test set, as in reservoirpy's
``to_forecasting``. Every model predicts the same test targets from the true past:

* ``esn``: the reservoir runs over all inputs (teacher forcing), the readout is fitted
  on the training states after ``warmup`` steps, then read on the test states; from the
  last training state it also runs in closed loop (its predictions fed back) over the
  test span.
* ``ar``: AR(``order``) by least squares on the training part, and its closed loop.
* persistence (always reported): the next value is the current one.

The closed-loop horizon is the first step whose error exceeds ``threshold`` x the
training series' standard deviation. Mackey-Glass is used as generated (values 0.4 ..
1.3, as in reservoirpy's quickstart); the real series are standardised with the
training mean and deviation for the reservoir. RMSE and R^2 are in the series' units.
"""
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .. import ar, esn
from ..data import mackey_glass, timeseries
from ..files import write_json

# data set: (what, source, defaults): source is a (file, column) of
# minirnn.data.timeseries, or None for the Mackey-Glass generator; the defaults fill
# the Settings left at None. Mackey-Glass has reservoirpy's quickstart setup; the real
# series are short and noisy, and a larger ridge and radius < 1 served them best
# (docs/results/esn.rst).
MG = {"order": 20, "warmup": 100, "ridge": 1e-5, "spectral_radius": 1.25}
REAL = {"warmup": 100, "ridge": 0.1, "spectral_radius": 0.9}
SERIES = {"mackey-glass": ("Mackey-Glass chaotic series, tau = 17 (generated, RK4)", None, MG),
          "sunspots": ("monthly sunspot numbers 1749-1983, 2,820 months",
                       ("monthly-sunspots", "Sunspots"), {**REAL, "order": 12}),
          "airline": ("monthly airline passengers 1949-1960, 144 months",
                      ("airline-passengers", "Passengers"), {**REAL, "order": 12, "warmup": 12}),
          "temperatures": ("daily minimum temperatures in Melbourne 1981-1990, 3,650 days",
                           ("daily-min-temperatures", "Temp"), {**REAL, "order": 7})}


@dataclass
class Settings:
    model: str = "esn"                  # esn or ar
    data: str = "mackey-glass"
    hidden: int = 100                   # reservoir units N
    spectral_radius: float | None = None    # None: the data set's (SERIES), as below
    leak: float = 0.3
    ridge: float | None = None
    density: float = 0.1                # of W
    input_scaling: float = 1.0
    input_density: float = 0.1          # of W_in
    bias_scaling: float = 0.0
    input_to_readout: bool = True       # readout sees [x_t; u_t], not x_t alone
    warmup: int | None = None
    order: int | None = None            # AR order p
    test_fraction: float = 0.2
    length: int = 2000                  # Mackey-Glass samples
    threshold: float = 0.1              # closed-loop horizon, in training deviations
    dtype: str = "float64"              # of the reservoir states
    device: str = "cpu"


def build(settings, data_dir=None):
    if settings.data not in SERIES:
        raise KeyError(f"unknown series {settings.data!r}; available: {', '.join(SERIES)}")
    if not 0 < settings.test_fraction < 1:
        raise ValueError(f"test_fraction: expected a fraction in (0, 1), "
                         f"got {settings.test_fraction}")
    source = SERIES[settings.data][1]
    if source is None:
        s = mackey_glass.mackey_glass(settings.length)
    else:
        s = timeseries.load(source[0], data_dir)[source[1]]
    return Forecast(settings, s)


class Forecast:
    """The task ``minirnn run esn|ar --data SERIES`` fits (``fit(seed, out, log)``)."""

    def __init__(self, settings, s):
        defaults = SERIES[settings.data][2]
        self.s = replace(settings, **{k: v for k, v in defaults.items()
                                      if getattr(settings, k) is None})
        self.series = s
        self.n_test = round(settings.test_fraction * len(s))
        self.n_train = len(s) - 1 - self.n_test          # (input, target) pairs
        if self.n_train <= max(self.s.warmup, 2 * self.s.order + 1):
            raise ValueError(f"{settings.data}: {len(s)} values leave {self.n_train} training "
                             f"pairs, too few for warm-up {self.s.warmup} / AR({self.s.order})")

    def fit(self, seed, out, log):
        st, s, n_train = self.s, self.series, self.n_train
        log(f"{st.model} on {st.data}: {n_train} training pairs, {self.n_test} test pairs")
        pred, closed, metrics = self._ar() if st.model == "ar" else self._esn(seed, log)
        target = s[n_train + 1:]                      # one-step targets y_t = s_{t+1}
        ahead = s[n_train:n_train + self.n_test]      # what the closed loop continues
        over = np.flatnonzero(np.abs(closed - ahead) > st.threshold * s[:n_train + 1].std())
        horizon = int(over[0]) if over.size else self.n_test
        log(f"closed loop stays within {st.threshold:g} deviations for {horizon} steps")
        metrics = {"model": st.model, "data": st.data, "seed": seed, **metrics,
                   "rmse": rmse(pred, target), "r2": r2(pred, target),
                   "persistence_rmse": rmse(s[n_train:-1], target),
                   "closed_loop_horizon": horizon,
                   "closed_loop_rmse_100": rmse(closed[:100], ahead[:100])}
        write_json(Path(out) / "metrics.json", {**metrics, "settings": asdict(st)})
        if _plot(Path(out) / "forecast.png", target, pred, ahead, closed, metrics):
            log(f"plot written to {Path(out) / 'forecast.png'}")
        return metrics

    def _ar(self):
        """One-step test predictions and the closed loop from the end of training."""
        s, n_train = self.series, self.n_train
        params = ar.fit(s[:n_train + 1], self.s.order)
        return (ar.predict(params, s)[-self.n_test:], ar.generate(params, s[:n_train], self.n_test),
                {"order": self.s.order})

    def _esn(self, seed, log):
        """The same for the ESN, in the series' units."""
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
        fitted, test = slice(self.s.warmup, n_train), slice(n_train, None)
        seen = u if st.input_to_readout else u[:, :0]     # what the readout sees of u
        ro = esn.fit_readout(x[fitted], y[fitted], st.ridge, seen[fitted])
        pred = esn.readout(ro, x[test], seen[test])[:, 0]
        u0 = u[n_train - 1:n_train].astype(dtype)
        closed, _ = esn.generate(params, ro, u0, x[n_train - 1:n_train], self.n_test, st.leak)
        train_fit = esn.readout(ro, x[fitted], seen[fitted])
        return (pred * scale + centre, closed[:, 0, 0] * scale + centre,
                {"train_rmse": rmse(train_fit, y[fitted]) * scale})


def rmse(pred, target):
    return float(np.sqrt(np.mean((pred - target) ** 2)))


def r2(pred, target):
    return float(1 - np.sum((pred - target) ** 2) / np.sum((target - target.mean()) ** 2))


def _plot(path, target, pred, ahead, closed, metrics):
    """One-step and closed-loop predictions against the test span; False without
    matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.2), sharex=True)
    name = f"{metrics['model'].upper()}"
    top.plot(target, "k", lw=1, label="series")
    top.plot(pred, "C1--", lw=1, label=f"{name} one step ahead (RMSE {metrics['rmse']:.2g})")
    top.set_title(f"{metrics['data']}, test span: one-step predictions from the true past")
    bottom.plot(ahead, "k", lw=1, label="series")
    bottom.plot(closed, "C0", lw=1, label=f"{name} closed loop (own predictions fed back)")
    bottom.axvline(metrics["closed_loop_horizon"], color="C3", ls=":",
                   label=f"horizon {metrics['closed_loop_horizon']} steps")
    bottom.set_title("closed loop from the end of training")
    bottom.set_xlabel("test step")
    for ax in (top, bottom):
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
