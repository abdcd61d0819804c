"""Kalman filter kernels: the sequential part of ``minirnn.lds``, CPU and CUDA.

Equation numbers refer to ``docs/lds.rst``. One filter step is two scalar-loop
functions, ``_predict`` and ``_update``, written once and compiled for both targets by
``kernels.common.twin``: the CPU kernel runs the filters of a batch one after another,
the CUDA kernel runs one filter per thread. Neither allocates inside the time loop:
every intermediate matrix lives in scratch arrays made once per filter.

Layouts: y (T, B, m) time-major, mu (T, B, n), P (T, B, n, n). A row of y holding a
NaN is a missing observation: the step predicts and does not update.
"""
import math

import numpy as np
from numba import cuda, njit

from .common import launch, require_gpu, to_device, twin

LOG_2PI = math.log(2.0 * math.pi)


def _start(mu0, P0, mu, P):
    """mu_{1|0} = mu0, P_{1|0} = P0: the first prediction is the initial state (eq. 3)."""
    n = mu.shape[0]
    for i in range(n):
        mu[i] = mu0[i]
        for j in range(n):
            P[i, j] = P0[i, j]


def _predict(F, Q, mu_prev, P_prev, mu, P, FP):
    """mu = F mu_prev, P = F P_prev F^T + Q (eq. 3); FP (n, n) is scratch."""
    n = mu.shape[0]
    for i in range(n):
        s = 0.0
        for k in range(n):
            s += F[i, k] * mu_prev[k]
        mu[i] = s
        for j in range(n):
            s = 0.0
            for k in range(n):
                s += F[i, k] * P_prev[k, j]
            FP[i, j] = s
    for i in range(n):
        for j in range(i + 1):
            s = Q[i, j]
            for k in range(n):
                s += FP[i, k] * F[j, k]
            P[i, j] = s
            P[j, i] = s                   # computed once: the prediction stays symmetric


def _update(H, R, y, mu, P, A, AP, PHt, K, L, e):
    """Condition the prediction (mu, P) on y in place (eqs. 4-7, Joseph form); returns
    the step's log-likelihood term (eqs. 8-9), 0 for a missing y, NaN when S_t is not
    positive definite. Scratch: A, AP (n, n), PHt, K (n, m), L (m, m), e (m)."""
    n, m = mu.shape[0], y.shape[0]
    for i in range(m):
        if math.isnan(y[i]):
            return 0.0                    # missing: mu_{t|t}, P_{t|t} = the prediction
    for i in range(n):                    # PHt = P H^T
        for j in range(m):
            s = 0.0
            for k in range(n):
                s += P[i, k] * H[j, k]
            PHt[i, j] = s
    for i in range(m):                    # e = y - H mu, S = H P H^T + R   eq. (4)
        s = y[i]
        for k in range(n):
            s -= H[i, k] * mu[k]
        e[i] = s
        for j in range(i + 1):
            s = R[i, j]
            for k in range(n):
                s += H[i, k] * PHt[k, j]
            L[i, j] = s
    log_det = 0.0                         # S = L L^T in place, lower triangle   eq. (9)
    for j in range(m):
        d = L[j, j]
        for k in range(j):
            d -= L[j, k] * L[j, k]
        if not d > 0.0:
            return math.nan
        d = math.sqrt(d)
        L[j, j] = d
        log_det += 2.0 * math.log(d)
        for i in range(j + 1, m):
            s = L[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / d
    for i in range(n):                    # K = PHt S^-1: solve L z = PHt_i, L^T k = z  eq. (5)
        for j in range(m):
            # BEGIN SOLUTION eq. (5) of docs/lds.rst: the Kalman gain K (forward substitution)
            s = PHt[i, j]
            for k in range(j):
                s -= L[j, k] * K[i, k]
            K[i, j] = s / L[j, j]
            # END SOLUTION
        for j in range(m - 1, -1, -1):
            # BEGIN SOLUTION eq. (5) of docs/lds.rst: the Kalman gain K (back substitution)
            s = K[i, j]
            for k in range(j + 1, m):
                s -= L[k, j] * K[i, k]
            K[i, j] = s / L[j, j]
            # END SOLUTION
    # BEGIN SOLUTION eq. (6) of docs/lds.rst: the updated mean mu
    for i in range(n):                    # mu += K e                           eq. (6)
        s = 0.0
        for j in range(m):
            s += K[i, j] * e[j]
        mu[i] += s
    # END SOLUTION
    for i in range(n):                    # A = I - K H, AP = A P
        for j in range(n):
            s = 1.0 if i == j else 0.0
            for k in range(m):
                s -= K[i, k] * H[k, j]
            A[i, j] = s
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(n):
                s += A[i, k] * P[k, j]
            AP[i, j] = s
    for i in range(n):                    # P = A P A^T + K R K^T, lower half mirrored  eq. (7)
        for j in range(i + 1):
            s = 0.0
            for k in range(n):
                s += AP[i, k] * A[j, k]
            for k in range(m):
                for q in range(m):
                    s += K[i, k] * R[k, q] * K[j, q]
            P[i, j] = s
            P[j, i] = s
    quad = 0.0                            # e^T S^-1 e = |L^-1 e|^2 (e overwritten)  eq. (9)
    for i in range(m):
        s = e[i]
        for k in range(i):
            s -= L[i, k] * e[k]
        e[i] = s / L[i, i]
        quad += e[i] * e[i]
    return -0.5 * (m * LOG_2PI + log_det + quad)                           # eq. (8)


_start_cpu, _start_gpu = twin(_start)
_predict_cpu, _predict_gpu = twin(_predict)
_update_cpu, _update_gpu = twin(_update)


def _scratch(B, n, m, dtype, zeros=np.zeros):
    """Per-filter scratch: (B, 3, n, n) for A, AP, FP; (B, 2, n, m) for PHt, K;
    (B, m, m) for L; (B, m) for e."""
    return zeros((B, 3, n, n), dtype), zeros((B, 2, n, m), dtype), \
        zeros((B, m, m), dtype), zeros((B, m), dtype)


# ------------------------------------------------------------------------------- CPU

@njit(cache=True)
def _filter_cpu(F, H, Q, R, mu0, P0, y, mu, P, ll, nn, nm, mm, e):
    T, B, _ = y.shape
    for b in range(B):
        A, AP, FP = nn[b, 0], nn[b, 1], nn[b, 2]
        total = 0.0
        for t in range(T):
            if t == 0:
                _start_cpu(mu0, P0, mu[0, b], P[0, b])
            else:
                _predict_cpu(F, Q, mu[t - 1, b], P[t - 1, b], mu[t, b], P[t, b], FP)
            total += _update_cpu(H, R, y[t, b], mu[t, b], P[t, b], A, AP,
                                 nm[b, 0], nm[b, 1], mm[b], e[b])
        ll[b] = total


def filter_cpu(F, H, Q, R, mu0, P0, y):
    """Filtered means mu (T, B, n), covariances P (T, B, n, n) and log-likelihoods
    ll (B,) of the B sequences in y (T, B, m); ll[b] is NaN where some S_t was not
    positive definite."""
    T, B, m = y.shape
    n = F.shape[0]
    mu, P = np.empty((T, B, n), y.dtype), np.empty((T, B, n, n), y.dtype)
    ll = np.empty(B, np.float64)
    _filter_cpu(F, H, Q, R, mu0, P0, y, mu, P, ll, *_scratch(B, n, m, y.dtype))
    return mu, P, ll


# ------------------------------------------------------------------------------ CUDA

@cuda.jit
def _filter_cuda(F, H, Q, R, mu0, P0, y, mu, P, ll, nn, nm, mm, e):
    b = cuda.grid(1)
    T, B, _ = y.shape
    if b >= B:
        return
    total = 0.0
    for t in range(T):
        if t == 0:
            _start_gpu(mu0, P0, mu[0, b], P[0, b])
        else:
            _predict_gpu(F, Q, mu[t - 1, b], P[t - 1, b], mu[t, b], P[t, b], nn[b, 2])
        total += _update_gpu(H, R, y[t, b], mu[t, b], P[t, b], nn[b, 0], nn[b, 1],
                             nm[b, 0], nm[b, 1], mm[b], e[b])
    ll[b] = total


def filter_cuda(F, H, Q, R, mu0, P0, y, threads=64):
    """filter_cpu on the GPU: one thread per sequence of the batch."""
    require_gpu()
    T, B, m = y.shape
    n = F.shape[0]
    d_mu, d_P = cuda.device_array((T, B, n), y.dtype), cuda.device_array((T, B, n, n), y.dtype)
    d_ll = cuda.device_array(B, np.float64)
    scratch = _scratch(B, n, m, y.dtype, zeros=cuda.device_array)
    launch(_filter_cuda, (math.ceil(B / threads), threads), *to_device(F, H, Q, R, mu0, P0, y),
           d_mu, d_P, d_ll, *scratch)
    return d_mu.copy_to_host(), d_P.copy_to_host(), d_ll.copy_to_host()


KERNELS = {"cpu": filter_cpu, "cuda": filter_cuda}
