"""Kernels for ``minirnn.optim``: one fused pass per parameter array instead of the
~10 NumPy passes (and temporaries) the update would take written with array operations."""
import math

from numba import njit


@njit(cache=True)
def adam_update(theta, g, m, v, lr, beta1, beta2, eps, correction1, correction2):
    """Adam (Kingma & Ba 2015, Algorithm 1) on flat arrays, in place (training eq. 8)."""
    for k in range(theta.size):
        m[k] = beta1 * m[k] + (1 - beta1) * g[k]
        v[k] = beta2 * v[k] + (1 - beta2) * g[k] * g[k]
        theta[k] -= lr * (m[k] / correction1) / (math.sqrt(v[k] / correction2) + eps)
