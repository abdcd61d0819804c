"""HMM recursions: the sequential part of ``minirnn.hmm``, CPU and CUDA.

Equation numbers refer to ``docs/hmm.rst``. Emissions enter every kernel as a
likelihood table: the likelihoods b_j(x_t) of step t of sequence b are the row
``table[index[t, b]]`` (K,). Categorical emissions pass table = B^T (M, K) and
index = x, so the lookup is fused into the loop and costs nothing; Gaussian emissions
pass their per-step densities (T*B, K) and index[t, b] = t*B + b. One set of kernels
serves both.

Each sequence is one independent serial loop over t with K x K inner loops: the CPU
runs the sequences one after the other (a ``prange`` over them doubled the time of
the benchmark's single long sequence: thread wake-ups), the CUDA twin one thread each. The
per-sequence functions are written once and compiled for both (common.twin). Steps
t >= lengths[b] are left untouched by the kernels; the callers fill them.
"""
import math

import numpy as np
from numba import cuda, njit

from .common import launch, require_gpu, to_device, transpose, twin


def _forward_sequence(pi, A_T, table, index, b, length, alpha, c):
    """Scaled forward pass over sequence b (eqs. 2, 3, 5): alpha_hat_t into
    alpha[t % R, b] and c_t into c[t % R, b], for R = alpha.shape[0] (R = T keeps
    every step, R = 2 only the last two). A_T = A^T, so that the sum over i in
    eq. (3) runs along a row. Returns log P(x_1:length) (eq. 6)."""
    R, _, K = alpha.shape
    loglik = 0.0
    for t in range(length):
        a, prev, lik = alpha[t % R, b], alpha[(t - 1) % R, b], table[index[t, b]]
        # BEGIN SOLUTION eqs. (2)-(3), (5) of docs/hmm.rst: alpha_t before scaling and c_t
        c_t = 0.0
        for j in range(K):
            if t == 0:
                p = pi[j]                                         # eq. (2)
            else:
                p = 0.0
                for i in range(K):
                    p += prev[i] * A_T[j, i]                      # eq. (3)
            a[j] = p * lik[j]
            c_t += a[j]                                           # eq. (5)
        # END SOLUTION
        scale = 1.0 / c_t if c_t > 0.0 else 0.0    # c_t = 0: x has probability 0
        for j in range(K):
            a[j] *= scale
        c[t % R, b] = c_t
        loglik += math.log(c_t) if c_t > 0.0 else -math.inf       # eq. (6)
    return loglik


def _viterbi_sequence(log_pi, log_A_T, log_table, index, b, length, delta, psi, path):
    """Viterbi over sequence b in log space (eqs. 11-13): delta (2, B, K) holds the
    last two delta_t, psi (T, B, K) the back-pointers; the best path goes into
    path[:length, b]. log_A_T = (log A)^T, rows along i. Returns max_z log P(x, z)."""
    K = log_pi.shape[0]
    if length == 0:
        return 0.0
    d = delta[0, b]
    for j in range(K):
        d[j] = log_pi[j] + log_table[index[0, b], j]              # eq. (11)
    for t in range(1, length):
        prev, d, lik = delta[(t - 1) % 2, b], delta[t % 2, b], log_table[index[t, b]]
        for j in range(K):
            best, arg = -math.inf, 0
            for i in range(K):
                s = prev[i] + log_A_T[j, i]                       # eq. (12)
                if s > best:                       # ties keep the lowest i, as argmax
                    best, arg = s, i
            d[j] = best + lik[j]
            psi[t, b, j] = arg
    best = 0
    for j in range(K):
        if d[j] > d[best]:
            best = j
    path[length - 1, b] = best                                    # eq. (13)
    for t in range(length - 1, 0, -1):
        path[t - 1, b] = psi[t, b, path[t, b]]
    return d[best]


_forward_sequence_cpu, _forward_sequence_gpu = twin(_forward_sequence)
_viterbi_sequence_cpu, _viterbi_sequence_gpu = twin(_viterbi_sequence)


# ------------------------------------------------------------------------------- CPU

# The sums of eq. (3) may be reassociated (and multiply-adds fused) so that LLVM
# vectorises them: the score at K = 16 took 9.8 ms instead of 34 ms (docs/hmm.rst,
# "How it is computed"). Never "ninf"/"nnan": log 0 = -inf is a legitimate value here.
SUMS = {"reassoc", "contract"}


@njit(cache=True, fastmath=SUMS)
def _forward_batch(pi, A_T, table, index, lengths, alpha, c):
    loglik = np.empty(lengths.shape[0])
    for b in range(lengths.shape[0]):
        loglik[b] = _forward_sequence_cpu(pi, A_T, table, index, b, lengths[b], alpha, c)
    return loglik


def forward_cpu(pi, A, table, index, lengths, keep=True):
    """log P (B,) and, with ``keep``, alpha_hat (T, B, K) and c (T, B) (zero on padded
    steps); without it only two steps are stored: the fast score."""
    T, B = index.shape
    R = T if keep else min(T, 2)
    alpha, c = np.zeros((R, B, pi.shape[0]), table.dtype), np.zeros((R, B), table.dtype)
    loglik = _forward_batch(pi, transpose(A), table, index, lengths, alpha, c)
    return loglik, alpha, c


def loglik_cpu(pi, A, table, index, lengths):
    return forward_cpu(pi, A, table, index, lengths, keep=False)[0]


@njit(cache=True)
def backward_cpu(A, table, index, lengths, alpha, c):
    """beta_hat (T, B, K) (eq. 8; zero on padded steps) and the expected transition
    counts xi (B, K, K), summed over t per sequence (eq. 10)."""
    T, B, K = alpha.shape
    beta = np.zeros_like(alpha)
    xi = np.zeros((B, K, K))
    for b in range(B):
        length = lengths[b]
        if length == 0:
            continue
        beta[length - 1, b] = 1.0                                 # eq. (8), t = T
        w = np.empty(K)
        for t in range(length - 2, -1, -1):
            lik = table[index[t + 1, b]]
            for j in range(K):
                w[j] = lik[j] * beta[t + 1, b, j] / c[t + 1, b]
            for i in range(K):
                s = 0.0
                for j in range(K):
                    s += A[i, j] * w[j]                           # eq. (8)
                    xi[b, i, j] += alpha[t, b, i] * A[i, j] * w[j]  # eq. (10)
                beta[t, b, i] = s
    return beta, xi


@njit(cache=True)
def log_forward_cpu(log_pi, log_A, log_table, index, lengths):
    """Forward pass in log space (eq. 7): log alpha (T, B, K), -inf on padded steps,
    and log P (B,)."""
    T, B = index.shape
    K = log_pi.shape[0]
    log_alpha = np.full((T, B, K), -np.inf)
    loglik = np.zeros(B)
    for b in range(B):
        terms = np.empty(K)
        for t in range(lengths[b]):
            lik = log_table[index[t, b]]
            for j in range(K):
                if t == 0:
                    log_alpha[t, b, j] = log_pi[j] + lik[j]               # eq. (2)
                    continue
                for i in range(K):
                    terms[i] = log_alpha[t - 1, b, i] + log_A[i, j]
                log_alpha[t, b, j] = _logsumexp(terms) + lik[j]   # eq. (7)
        if lengths[b] > 0:
            loglik[b] = _logsumexp(log_alpha[lengths[b] - 1, b])          # eq. (4)
    return log_alpha, loglik


@njit(cache=True)
def _logsumexp(v):
    """log sum exp(v), shifted by the largest term so that nothing overflows or
    underflows to zero; -inf when every term is -inf."""
    m = v.max()
    if m == -np.inf:
        return m
    s = 0.0
    for x in v:
        s += math.exp(x - m)
    return m + math.log(s)


@njit(cache=True)
def _viterbi_batch(log_pi, log_A_T, log_table, index, lengths, delta, psi, path):
    logp = np.empty(lengths.shape[0])
    for b in range(lengths.shape[0]):
        logp[b] = _viterbi_sequence_cpu(log_pi, log_A_T, log_table, index, b, lengths[b],
                                        delta, psi, path)
    return logp


def _viterbi_arrays(T, B, K, dtype):
    """Work rows delta (2, B, K), back-pointers psi (T, B, K) (every entry read is
    written first), path (T, B) = -1."""
    return (np.zeros((2, B, K), dtype), np.empty((T, B, K), np.int32),
            np.full((T, B), -1, np.int64))


def viterbi_cpu(log_pi, log_A, log_table, index, lengths):
    """The best state path (T, B) (-1 on padded steps) and its log P(x, z) (B,)."""
    T, B = index.shape
    delta, psi, path = _viterbi_arrays(T, B, log_pi.shape[0], log_table.dtype)
    logp = _viterbi_batch(log_pi, transpose(log_A), log_table, index, lengths, delta, psi, path)
    return path, logp


# ------------------------------------------------------------------------------ CUDA

THREADS = 64


@cuda.jit
def _forward_cuda(pi, A_T, table, index, lengths, alpha, c, loglik):
    b = cuda.grid(1)
    if b < lengths.shape[0]:
        loglik[b] = _forward_sequence_gpu(pi, A_T, table, index, b, lengths[b], alpha, c)


@cuda.jit
def _viterbi_cuda(log_pi, log_A_T, log_table, index, lengths, delta, psi, path, logp):
    b = cuda.grid(1)
    if b < lengths.shape[0]:
        logp[b] = _viterbi_sequence_gpu(log_pi, log_A_T, log_table, index, b, lengths[b],
                                        delta, psi, path)


def _blocks(B):
    return (B + THREADS - 1) // THREADS


def loglik_cuda(pi, A, table, index, lengths):
    """log P (B,): one thread per sequence, each running eqs. (2-6)."""
    require_gpu()
    B, K = lengths.shape[0], pi.shape[0]
    alpha = cuda.device_array((2, B, K), table.dtype)
    c = cuda.device_array((2, B), table.dtype)
    loglik = cuda.device_array(B, np.float64)
    launch(_forward_cuda, (_blocks(B), THREADS), pi, transpose(A), table, index, lengths, alpha,
           c, loglik)
    return loglik.copy_to_host()


def viterbi_cuda(log_pi, log_A, log_table, index, lengths):
    """The best path (T, B) and its log P(x, z) (B,): one thread per sequence."""
    require_gpu()
    T, B = index.shape
    delta, psi, path = to_device(*_viterbi_arrays(T, B, log_pi.shape[0], log_table.dtype))
    logp = cuda.device_array(B, np.float64)
    launch(_viterbi_cuda, (_blocks(B), THREADS), log_pi, transpose(log_A), log_table, index,
           lengths, delta, psi, path, logp)
    return path.copy_to_host(), logp.copy_to_host()


KERNELS = {"cpu": (loglik_cpu, viterbi_cpu), "cuda": (loglik_cuda, viterbi_cuda)}
