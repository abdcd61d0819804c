"""Hidden Markov models fitted by Baum-Welch (``docs/hmm.rst``): casino and Old Faithful.

``minirnn run hmm --data casino`` and ``minirnn run hmm --data faithful``.

casino    The dishonest casino: a fair die and a loaded one (a six half the time),
          switched by a hidden Markov chain. Rolls are generated from the seed; EM
          starts from random parameters and sees the rolls only. Reported: the learned
          and true matrices, and how often Viterbi names the die that was really used.
faithful  The durations of 272 eruptions of the Old Faithful geyser, modelled by a
          2-state Gaussian HMM: short and long eruptions, and how they alternate.

``fit`` writes config.json, metrics.json and params.npz under --out (each atomically),
and for the casino the posterior plot posterior.png when matplotlib is installed.
"""
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import hmm
from ..data import timeseries
from ..files import write_atomic, write_json

FAIR, LOADED = 0, 1
CASINO = {"pi": np.array([0.5, 0.5]),
          "A": np.array([[0.95, 0.05], [0.10, 0.90]]),
          "B": np.array([[1 / 6] * 6, [0.1] * 5 + [0.5]])}


@dataclass
class Settings:
    data: str = "casino"
    hidden: int = 2             # K, the number of hidden states
    iterations: int = 500       # at most this many EM iterations
    tol: float = 1e-4           # stop when log P(x) rises by less than this
    sequences: int = 10         # casino: sessions rolled
    length: int = 1000          # casino: rolls in the longest session
    dtype: str = "float64"      # float32 rounding stalls EM near its maximum
    device: str = "cpu"         # "cuda": Viterbi on the GPU


def build(settings, data_dir=None):
    return (Casino if settings.data == "casino" else Faithful)(settings, data_dir)


def _matrix(name, M, log):
    log(f"{name}:")
    for row in M:
        log("  " + " ".join(f"{v:6.3f}" for v in row))


class _Task:
    """What both tasks share: EM with progress lines, the files written under --out."""

    def __init__(self, settings, data_dir=None):
        self.s, self.dtype = settings, np.dtype(settings.dtype)

    def fit(self, seed, out, log):
        os.makedirs(out, exist_ok=True)
        rng = np.random.default_rng(seed)
        self.x, self.lengths = self.observations(rng)
        write_json(os.path.join(out, "config.json"), {"task": asdict(self.s), "seed": seed})
        start = {k: v.astype(self.dtype) for k, v in self.start(rng).items()}
        log(f"hmm on {self.s.data}: {self.lengths.sum()} observations in {len(self.lengths)} "
            f"sequence(s), K = {self.s.hidden} states, Baum-Welch from a random start")
        log("(the first run compiles the Numba kernels; later runs load them from cache)")
        t0 = time.perf_counter()
        params, history = hmm.baum_welch(
            start, self.x, self.lengths, self.s.iterations, self.s.tol,
            log=lambda k, ll: log(f"iteration {k:4d}  log-likelihood {ll:.4f}"))
        path, _ = hmm.viterbi(params, self.x, self.lengths, device=self.s.device)
        metrics = {"loglik": history[-1], "iterations": len(history),
                   "seconds": round(time.perf_counter() - t0, 2),
                   **self.report(params, path, out, log)}
        write_atomic(os.path.join(out, "params.npz"), lambda f: np.savez(f, **params))
        write_json(os.path.join(out, "metrics.json"), {**metrics, "history": history})
        return metrics


class Casino(_Task):
    def observations(self, rng):
        """Rolls (T, B) and the dice behind them (kept for the report); sessions of
        random length between T/2 and T, the first (the one plotted) of length T."""
        B, T = self.s.sequences, self.s.length
        self.z, x = hmm.sample(CASINO, rng, T, B)
        lengths = T - rng.integers(0, T // 2 + 1, B)
        lengths[0] = T
        return x, lengths

    def start(self, rng):
        return hmm.init_categorical(rng, self.s.hidden, 6)

    def report(self, params, path, out, log):
        """Names each learned state after the die it coincides with most often under
        Viterbi (EM may number the states either way), then compares."""
        valid = path >= 0
        overlap = np.array([[np.sum((path == k) & (self.z == d) & valid) for d in (FAIR, LOADED)]
                            for k in range(self.s.hidden)])
        die = overlap.argmax(1)                 # learned state k -> the die it stands for
        accuracy = float(np.mean(die[path[valid]] == self.z[valid]))
        true_path, _ = hmm.viterbi(CASINO, self.x, self.lengths)
        true_accuracy = float(np.mean(true_path[valid] == self.z[valid]))
        order = np.argsort(die, kind="stable")
        _matrix("true A (fair, loaded)", CASINO["A"], log)
        _matrix("learned A (states ordered as the dice)", params["A"][np.ix_(order, order)], log)
        _matrix("true B (faces 1-6)", CASINO["B"], log)
        _matrix("learned B", params["B"][order], log)
        log(f"Viterbi accuracy: {accuracy:.4f} with the learned parameters, "
            f"{true_accuracy:.4f} with the true ones")
        gamma, _, _ = hmm.posteriors(params, self.x, self.lengths)
        p_loaded = gamma[:self.lengths[0], 0, die == LOADED].sum(1)
        if plot_posterior(os.path.join(out, "posterior.png"), p_loaded, self.z[:, 0] == LOADED):
            log(f"posterior plot written to {os.path.join(out, 'posterior.png')}")
        return {"viterbi_accuracy": accuracy, "viterbi_accuracy_true_params": true_accuracy,
                "A": params["A"][np.ix_(order, order)].tolist(),
                "B": params["B"][order].tolist(), "state_die": die.tolist()}


class Faithful(_Task):
    def __init__(self, settings, data_dir=None):
        super().__init__(settings)
        self.eruptions = timeseries.load("faithful", data_dir)["eruptions"]

    def observations(self, rng):
        """The eruption durations in minutes as one sequence (T, 1, 1)."""
        return self.eruptions.astype(self.dtype).reshape(-1, 1, 1), np.array([len(self.eruptions)])

    def start(self, rng):
        return hmm.init_gaussian(rng, self.s.hidden, self.x, self.lengths)

    def report(self, params, path, out, log):
        """States ordered by mean eruption length (short first)."""
        order = np.argsort(params["mu"][:, 0])
        mu, sd = params["mu"][order, 0], np.sqrt(params["var"][order, 0])
        A = params["A"][np.ix_(order, order)]
        for k, (m, s) in enumerate(zip(mu, sd)):
            log(f"state {k}: eruptions of {m:.3f} +- {s:.3f} min")
        _matrix("A (states ordered by mean)", A, log)
        occupancy = np.bincount(np.argsort(order)[path[:, 0]], minlength=len(order))
        return {"means": mu.tolist(), "sds": sd.tolist(), "A": A.tolist(),
                "viterbi_state_counts": occupancy.tolist()}


def plot_posterior(path, p_loaded, loaded):
    """P(loaded | all rolls) against the roll, the truly loaded stretches shaded.
    Returns False (and draws nothing) without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(9, 2.6))
    t = np.arange(1, len(p_loaded) + 1)
    ax.fill_between(t, 0, 1, where=loaded[:len(t)], step="mid", color="0.85", lw=0,
                    label="loaded die in use")
    ax.plot(t, p_loaded, lw=0.9, color="C3", label="P(loaded | all rolls)")
    ax.set(xlim=(1, len(t)), ylim=(0, 1.02), xlabel="roll t", ylabel="posterior")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
    return True
