"""Optimizers as plain functions over dicts of arrays (``docs/training.rst``).

Each update changes ``params`` in place and keeps its memory in ``state``, a flat
dict of arrays (``"m/W_h"``, ``"v/W_h"``, ``"t"``) that a checkpoint saves as it is.
"""
import numpy as np

from . import checks
from .kernels.optim import adam_update


def clip_global_norm(grads, max_norm):
    """Scale all gradients by min(1, max_norm / ||g||), ||g|| over every array at once.

    Returns the norm before clipping. Clipping the global norm keeps the direction of
    the whole update, unlike clipping each array or element on its own.
    """
    norm = float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values())))
    if max_norm and norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= scale
    return norm


def sgd(params, grads, state, lr, momentum=0.0):
    """v <- mu v - lr g;  theta <- theta + v   (plain SGD when mu = 0)."""
    for k in grads:                       # all checked first: no step is half taken
        checks.in_place(f"params[{k!r}]", params[k], "SGD")
    for k, g in grads.items():
        if momentum:
            v = state.setdefault("v/" + k, np.zeros_like(g))
            v *= momentum
            v -= lr * g
            params[k] += v
        else:
            params[k] -= lr * g


def adam(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam (Kingma & Ba 2015, Algorithm 1), bias-corrected first and second moments."""
    for k in grads:                       # all checked first: no step is half taken
        checks.in_place(f"params[{k!r}]", params[k], "Adam", flat=True)
    t = int(state.get("t", 0)) + 1
    state["t"] = np.array(t)
    for k, g in grads.items():
        m = state.setdefault("m/" + k, np.zeros(g.shape, g.dtype))   # C order: flat views
        v = state.setdefault("v/" + k, np.zeros(g.shape, g.dtype))
        adam_update(params[k].reshape(-1), np.ascontiguousarray(g).reshape(-1), m.reshape(-1),
                    v.reshape(-1), lr, beta1, beta2, eps, 1 - beta1 ** t, 1 - beta2 ** t)


OPTIMIZERS = {"adam": adam, "sgd": sgd}
