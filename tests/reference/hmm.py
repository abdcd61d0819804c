"""HMM references written from the definitions, independently of minirnn's kernels.

``enumerate_paths`` sums the joint P(x, z) (docs/hmm.rst eq. 1) over all K^T state
paths: every posterior and the best path then follow by counting, with no recursion
at all. ``forward_loop`` is the plain NumPy scaled forward pass, the benchmark's
baseline. Emissions come as the likelihood matrix L (T, K), L[t, j] = b_j(x_t).
"""
import itertools

import numpy as np


def categorical_likelihoods(B, x):
    """L (T, K) for one sequence of symbols x (T,)."""
    return B[:, x].T


def gaussian_likelihoods(mu, var, x):
    """L (T, K) for one sequence x (T, D) under diagonal Gaussians."""
    d = x[:, None, :] - mu[None]
    return np.exp(-0.5 * (d ** 2 / var).sum(-1)) / np.sqrt((2 * np.pi * var).prod(-1))


def enumerate_paths(pi, A, L):
    """Brute force over the K^T paths z of one sequence: log P(x), gamma (T, K),
    xi = sum_t P(z_t = i, z_t+1 = j | x) (K, K), the best path and its log P(x, z)."""
    T, K = L.shape
    paths = np.array(list(itertools.product(range(K), repeat=T)))      # (K^T, T)
    joint = pi[paths[:, 0]] * L[0, paths[:, 0]]
    for t in range(1, T):
        joint = joint * A[paths[:, t - 1], paths[:, t]] * L[t, paths[:, t]]
    px = joint.sum()
    post = joint / px
    gamma = np.zeros((T, K))
    xi = np.zeros((K, K))
    for t in range(T):
        np.add.at(gamma[t], paths[:, t], post)
        if t + 1 < T:
            np.add.at(xi, (paths[:, t], paths[:, t + 1]), post)
    best = joint.argmax()
    return np.log(px), gamma, xi, paths[best], np.log(joint[best])


def forward_loop(pi, A, L):
    """log P(x) by the scaled forward recursion, one NumPy vector step per t."""
    alpha = pi * L[0]
    c = alpha.sum()
    loglik = np.log(c)
    alpha = alpha / c
    for t in range(1, L.shape[0]):
        alpha = (alpha @ A) * L[t]
        c = alpha.sum()
        loglik += np.log(c)
        alpha = alpha / c
    return loglik
