"""The vanishing-gradient lesson, measured (``docs/gradflow.rst``).

The task: read T random symbols and name the first one at the end, so the only useful
signal sits T steps back. For each model we measure how much gradient reaches the
state h_k from the loss L at the last step,

    ||dL/dh_k||   for k = 0..T-1    (mean over the batch),

at initialisation and after training. dL/dh_k is, by definition, the gradient of the
initial state of a run that starts at h_k and reads x_{k+1..T}: exactly what every
cell's ``backward`` returns as dh0, so no kernel needs instrumenting.
"""
import numpy as np

from . import elman, gru, lstm
from .layers import affine_backward, affine_forward, softmax_cross_entropy
from .optim import adam, clip_global_norm

CELLS = {"elman": elman, "lstm": lstm, "gru": gru}


def first_symbol_batch(rng, T, B, V):
    """One-hot inputs (T, B, V) of random symbols; the target is the first symbol."""
    symbols = rng.integers(0, V, (T, B))
    return np.eye(V)[symbols], symbols[0]


def zero_state(cell, B, H):
    """The initial state a cell's forward takes: (h0,), or (h0, c0) for the LSTM."""
    zeros = np.zeros((B, H))
    return (zeros, zeros) if cell is lstm else (zeros,)


def final_state(cell, params, x, state0):
    """Run ``cell`` from ``state0``; returns the run's h (T, B, H), its c (LSTM only,
    else None) and the cache."""
    h, cache = cell.forward(params, x, *state0)
    c = cache[4] if cell is lstm else None          # lstm's cache holds c (T, B, H)
    return h, c, cache


def loss_and_grads(cell, params, x, y, state0):
    """Cross-entropy of naming y from h_T; gradients of params and of the state0."""
    h, _, cache = final_state(cell, params, x, state0)
    z, z_cache = affine_forward(h[-1], params["W_y"], params["b_y"])
    loss, dz = softmax_cross_entropy(z, y)
    dh_T, dW_y, db_y = affine_backward(dz, z_cache)
    dh = np.zeros_like(h)
    dh[-1] = dh_T
    _, *dstate0, grads = cell.backward(dh, cache)
    grads.update(W_y=dW_y, b_y=db_y)
    return loss, grads, dstate0


def gradient_norms(cell, params, x, y):
    """||dL/dh_k|| for k = 0..T-1 (distance T - k from the loss), batch mean."""
    T, B, _ = x.shape
    state0 = zero_state(cell, B, params["W_h"].shape[0])
    h, c, _ = final_state(cell, params, x, state0)
    norms = []
    for k in range(T):                               # restart the run at state k
        start = state0 if k == 0 else ((h[k - 1], c[k - 1]) if cell is lstm else (h[k - 1],))
        _, _, dstate = loss_and_grads(cell, params, x[k:], y, start)
        norms.append(np.linalg.norm(dstate[0], axis=1).mean())
    return np.array(norms)


def train(cell, params, rng, T, B, V, steps, lr=3e-3):
    """Adam on fresh batches of the first-symbol task; returns the final batch accuracy."""
    opt = {}
    state0 = zero_state(cell, B, params["W_h"].shape[0])
    for _ in range(steps):
        x, y = first_symbol_batch(rng, T, B, V)
        _, grads, _ = loss_and_grads(cell, params, x, y, state0)
        clip_global_norm(grads, 1.0)
        adam(params, grads, opt, lr)
    x, y = first_symbol_batch(rng, T, B, V)
    h, _, _ = final_state(cell, params, x, state0)
    z, _ = affine_forward(h[-1], params["W_y"], params["b_y"])
    return float(np.mean(z.argmax(axis=1) == y))


def measure(T=10, B=64, V=8, H=64, steps=1000, seed=0, models=tuple(CELLS), lr=3e-3):
    """{model: {"init": norms, "trained": norms, "accuracy": a}} on the same task.

    The defaults show the lesson: after 1000 steps LSTM and GRU name the symbol
    10 steps back, the Elman RNN does not (measured: 1.0, 1.0 and 0.31; chance 0.125).
    """
    out = {}
    for name in models:
        rng = np.random.default_rng(seed)
        cell = CELLS[name]
        params = {**cell.init(rng, V, H, np.float64),
                  "W_y": rng.uniform(-H ** -0.5, H ** -0.5, (H, V)), "b_y": np.zeros(V)}
        x, y = first_symbol_batch(np.random.default_rng(seed + 1), T, B, V)
        init = gradient_norms(cell, params, x, y)
        accuracy = train(cell, params, rng, T, B, V, steps, lr)
        out[name] = {"init": init, "trained": gradient_norms(cell, params, x, y),
                     "accuracy": accuracy}
    return out


def table(results, distances):
    """Rows of ||dL/dh_k|| / ||dL/dh_{T-1}|| by distance T - k: the decay, free of the
    loss scale (a trained model has a small loss, hence small gradients everywhere)."""
    names = list(results)
    T = len(next(iter(results.values()))["init"])
    if not all(1 <= d <= T for d in distances):
        raise ValueError(f"distances must lie in 1..{T}, got {list(distances)}")
    head = "distance  " + "  ".join(f"{n + ' ' + s:>14}" for n in names for s in ("init", "trained"))
    rows = [head]
    for d in distances:
        cells = []
        for n in names:
            for s in ("init", "trained"):
                norms = results[n][s]
                cells.append(f"{norms[len(norms) - d] / norms[-1]:14.2e}")
        rows.append(f"{d:8d}  " + "  ".join(cells))
    rows.append("accuracy  " + "  ".join(f"{'':>14}{results[n]['accuracy']:14.2f}" for n in names))
    return rows


def plot(results, path):
    """Two panels (initialisation, trained): the decay against distance, log scale."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    for ax, stage in zip(axes, ("init", "trained")):
        for name, r in results.items():
            norms = r[stage]
            ax.semilogy(np.arange(len(norms), 0, -1), norms / norms[-1], label=name)
        ax.set(title=f"at {'initialisation' if stage == 'init' else 'the end of training'}",
               xlabel="distance T - k")
    axes[0].set_ylabel("||dL/dh_k|| / ||dL/dh_T-1||")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
