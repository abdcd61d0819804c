"""Node classification on Cora with Kipf & Welling's GCN (``docs/gcn.rst``).

``minirnn run gcn --data cora`` trains the paper's model on the Planetoid split, once
per seed, full batch: 16 hidden units, dropout 0.5, Adam with learning rate 0.01,
weight decay 5e-4 on the first layer, at most 200 epochs, stopping early once the
validation loss exceeds the mean of the previous 10 (Kipf's rule, and his code's choice
of testing the last model, not the best). Features are row-normalised and kept sparse
(CSR), as in his code, so input dropout and X W_0 touch only the nonzeros. Prints
and writes (atomically, ``metrics.json`` under --out) the test accuracy of every seed,
their mean and standard deviation, and the median time of an epoch (a training step
and the validation pass; the median leaves out the first epoch's one-off Numba start-up
and the moments a shared machine is busy elsewhere).
"""
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import gcn, optim
from ..data import cora
from ..files import write_json


@dataclass
class Settings:
    hidden: int = 16
    num_layers: int = 2
    dropout: float = 0.5
    lr: float = 0.01
    weight_decay: float = 5e-4
    epochs: int = 200
    patience: int = 10
    seeds: int = 10
    dtype: str = "float32"
    device: str = "cpu"


def build(settings, data_dir=None):
    """The task on Cora's Planetoid split, found in ``data_dir`` (see minirnn.data.cora)."""
    return NodeClassification(settings, cora.load_planetoid(data_dir))


def should_stop(val_losses, patience):
    """Kipf's early stopping, as in his code: after more than ``patience`` + 1 epochs,
    stop when the last validation loss exceeds the mean of the ``patience`` before it."""
    return (len(val_losses) > patience + 1
            and val_losses[-1] > np.mean(val_losses[-(patience + 1):-1]))


class NodeClassification:
    """A GCN trained on one graph with a few labelled nodes (transductive)."""

    def __init__(self, settings, graph):
        if settings.num_layers < 1:
            raise ValueError(f"num_layers: expected at least 1, got {settings.num_layers}")
        self.settings = settings
        self.graph = graph
        self.dtype = dtype = np.dtype(settings.dtype)
        self.X = gcn.CSR.from_dense(gcn.row_normalize(graph.features).astype(dtype))
        self.A_hat = gcn.normalized_adjacency(graph.edges, graph.num_nodes, dtype)
        hidden = [settings.hidden] * (settings.num_layers - 1)
        self.sizes = [self.X.shape[1], *hidden, len(graph.classes)]

    def evaluate(self, params, nodes):
        """(loss of eq. 8 with the weight-decay term, accuracy) on ``nodes``, no dropout."""
        s = self.settings
        Z, _ = gcn.forward(params, self.A_hat, self.X, device=s.device)
        L, _ = gcn.loss(params, Z, self.graph.labels, nodes, s.weight_decay)
        return L, gcn.accuracy(Z, self.graph.labels, nodes)

    def train_one(self, seed):
        """Train from Glorot init with ``seed``; returns params and the seconds each
        epoch took."""
        s, g = self.settings, self.graph
        rng = np.random.default_rng(seed)
        params = gcn.init(rng, self.sizes, self.dtype)
        state, val_losses, seconds = {}, [], []
        for _ in range(s.epochs):
            t0 = time.perf_counter()
            _, grads, _ = gcn.loss_and_grads(params, self.A_hat, self.X, g.labels, g.train,
                                             s.dropout, s.weight_decay, rng, s.device)
            optim.adam(params, grads, state, s.lr)
            val_losses.append(self.evaluate(params, g.val)[0])
            seconds.append(time.perf_counter() - t0)
            if should_stop(val_losses, s.patience):
                break
        return params, seconds

    def fit(self, seed, out, log):
        """Train once per seed (seed, seed + 1, ...); returns and writes the metrics."""
        s = self.settings
        os.makedirs(out, exist_ok=True)
        write_json(os.path.join(out, "config.json"), {"task": "gcn-cora", "seed": seed, **asdict(s)})
        log(f"gcn on cora: {s.seeds} seed(s), {s.num_layers} layers, run folder {out} "
            "(the first run compiles the Numba kernels)")
        runs, seconds = [], []
        for k in range(s.seeds):
            params, epoch_seconds = self.train_one(seed + k)
            seconds += epoch_seconds
            _, test_acc = self.evaluate(params, self.graph.test)
            val_loss, val_acc = self.evaluate(params, self.graph.val)
            runs.append({"seed": seed + k, "epochs": len(epoch_seconds),
                         "test_accuracy": test_acc, "val_accuracy": val_acc, "val_loss": val_loss,
                         "seconds": sum(epoch_seconds)})
            log(f"seed {seed + k}: {len(epoch_seconds)} epochs in {sum(epoch_seconds):.2f} s, "
                f"val acc {val_acc:.3f}, test acc {test_acc:.3f}")
        acc = np.array([r["test_accuracy"] for r in runs])
        metrics = {"test_accuracy_mean": float(acc.mean()), "test_accuracy_std": float(acc.std()),
                   "ms_per_epoch": 1e3 * float(np.median(seconds)),
                   "seeds": s.seeds, "runs": runs}
        log(f"test accuracy over {s.seeds} seed(s): {100 * acc.mean():.1f} +- "
            f"{100 * acc.std():.1f} %, {metrics['ms_per_epoch']:.1f} ms per epoch (median)")
        write_json(os.path.join(out, "metrics.json"), metrics)
        return metrics
