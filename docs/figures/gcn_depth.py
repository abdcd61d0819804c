"""Draw docs/figures/gcn_depth.png: Cora accuracy against the number of GCN layers.

Each depth is trained as ``minirnn run gcn --data cora --num-layers L`` would train it
(Kipf's settings, 16 hidden units per layer), over a few seeds. Run from the
repository root with Cora under $MINIRNN_DATA:
``python docs/figures/gcn_depth.py`` (a few minutes on 2 cores). Writes the PNG and
gcn_depth.txt, the table it is drawn from.
"""
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from minirnn import gcn  # noqa: E402
from minirnn.data import cora  # noqa: E402
from minirnn.tasks.gcn import NodeClassification, Settings  # noqa: E402

DEPTHS = (1, 2, 3, 4, 6, 8)
SEEDS = 5
HERE = Path(__file__).resolve().parent


def accuracies(graph, layers):
    """(train, test) accuracy of each seed at this depth."""
    task = NodeClassification(Settings(num_layers=layers), graph)
    out = []
    for seed in range(SEEDS):
        params, _ = task.train_one(seed)
        Z, _ = gcn.forward(params, task.A_hat, task.X)
        out.append((gcn.accuracy(Z, graph.labels, graph.train),
                    gcn.accuracy(Z, graph.labels, graph.test)))
    return np.array(out)


def main():
    graph = cora.load_planetoid()
    results = {L: accuracies(graph, L) for L in DEPTHS}
    lines = [f"Cora, Planetoid split: accuracy (%) against GCN layers, mean +- std over "
             f"{SEEDS} seeds", f"{'layers':>6} {'train':>14} {'test':>14}"]
    for L, acc in results.items():
        m, s = 100 * acc.mean(axis=0), 100 * acc.std(axis=0)
        lines.append(f"{L:>6} {m[0]:7.1f} +- {s[0]:4.1f} {m[1]:7.1f} +- {s[1]:4.1f}")
    (HERE / "gcn_depth.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for column, label in ((0, "train (140 labelled nodes)"), (1, "test (1000 nodes)")):
        mean = [100 * results[L][:, column].mean() for L in DEPTHS]
        std = [100 * results[L][:, column].std() for L in DEPTHS]
        ax.errorbar(DEPTHS, mean, yerr=std, marker="o", capsize=3, label=label)
    ax.set_xlabel("GCN layers")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(DEPTHS)
    ax.set_title("Cora: deeper GCNs over-smooth")
    ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "gcn_depth.png", dpi=120)


if __name__ == "__main__":
    main()
