"""Elman recurrence kernels: the sequential part of ``minirnn.elman``, CPU and CUDA.

Equation numbers refer to ``docs/elman.rst``. Only the recurrence lives here; the
products that do not depend on the previous step (x W_x, the weight gradients) are
single large GEMMs in ``minirnn/elman.py``.

CPU: each step's product h_{t-1} W_h goes to BLAS through NumPy and so does tanh
(NumPy's SIMD tanh is ~37x faster than Numba's scalar libm call, no SVML in the pip
llvmlite; see docs/elman.rst, "Performance"); masking and the backward pointwise
math are fused Numba loops. CUDA: one block per sequence, one thread per unit, the
loop over time inside the kernel (common.sequence_launch).
"""
import math

import numpy as np
from numba import cuda, njit

from . import pool
from .common import (constant, flush, flush_below, launch, require_gpu, sequence_launch,
                     state_gradient_gpu, to_device, transpose, twin)

TANH, RELU = 0, 1


def _dphi(h, act):
    """phi'(a) written with h = phi(a): 1 - h^2 for tanh, [h > 0] for relu (eq. 5).
    Only called from solution regions, so its body is one too (docs/instructors.rst)."""
    one, zero = constant(1.0, h), constant(0.0, h)    # 1.0 itself would make float32 math float64
    # BEGIN SOLUTION eq. (5) of docs/elman.rst: phi'(a_t) written with h_t
    if act == TANH:
        return one - h * h
    return one if h > zero else zero
    # END SOLUTION


_dphi_cpu, _dphi_gpu = twin(_dphi)


# ------------------------------------------------------------------------------- CPU

@njit(cache=True)
def _keep_padded(h_t, h_prev, lengths, t):
    """Rows whose sequence has ended keep h_{t-1} (eq. 3): padding changes nothing."""
    for b in range(h_t.shape[0]):
        if t >= lengths[b]:
            h_t[b] = h_prev[b]


@njit(cache=True)
def _backward_step(g, dh_t, h_t, lengths, t, act, tiny, da_t):
    """da_t = (dh_t + g_t) * phi'(a_t) (eqs. 4-5); clears g for the rows W_h refills.

    A padded row has da_t = 0 and hands its whole gradient G_t on to h_{t-1}.
    |da| < tiny becomes 0 (common.flush_below).
    """
    B, H = g.shape
    for b in range(B):
        active = t < lengths[b]
        for j in range(H):
            # BEGIN SOLUTION eqs. (4)-(5) of docs/elman.rst: G_t and da_t
            G = g[b, j] + dh_t[b, j]                              # eq. (4)
            if active:
                da = G * _dphi_cpu(h_t[b, j], act)                # eq. (5)
                da_t[b, j] = flush(da, tiny)
                g[b, j] = 0.0
            else:
                da_t[b, j] = 0.0
                g[b, j] = G
            # END SOLUTION


def forward_cpu(xw, W_h, h0, lengths, act):
    """h (T, B, H) from xw = x W_x + b (T, B, H), h0 (B, H), lengths (B,)."""
    h = pool.empty(xw.shape, xw.dtype)
    h_prev = h0
    for t in range(xw.shape[0]):
        # BEGIN SOLUTION eqs. (1)-(3) of docs/elman.rst: a_t and h_t
        a = np.matmul(h_prev, W_h, out=h[t])                      # eq. (1)
        a += xw[t]
        if act == TANH:                                           # eq. (2)
            np.tanh(a, out=a)
        else:
            np.maximum(a, 0, out=a)
        _keep_padded(h[t], h_prev, lengths, t)                    # eq. (3)
        # END SOLUTION
        h_prev = h[t]
    return h


def backward_cpu(dh, h, W_h, lengths, act):
    """da (T, B, H) and dh0 (B, H) from the loss gradients dh = dL/dh_t (T, B, H)."""
    da = pool.empty(dh.shape, dh.dtype)
    g = np.zeros(dh.shape[1:], dh.dtype)        # gradient reaching h_t from step t+1
    tiny, W_hT = flush_below(dh.dtype), transpose(W_h)
    for t in range(dh.shape[0] - 1, -1, -1):
        _backward_step(g, dh[t], h[t], lengths, t, act, tiny, da[t])
        g += da[t] @ W_hT                                        # eq. (6)
    return da, g


# ------------------------------------------------------------------------------ CUDA

@cuda.jit(device=True)
def _forward_unit_gpu(xw_t, W_h, h_prev, lengths, t, act, b, j, h_t):
    if t >= lengths[b]:
        h_t[b, j] = h_prev[b, j]                                  # eq. (3)
        return
    # BEGIN SOLUTION eqs. (1)-(2) of docs/elman.rst: h_t, one unit per thread
    a = xw_t[b, j]
    for k in range(W_h.shape[0]):
        a += h_prev[b, k] * W_h[k, j]                             # eq. (1)
    h_t[b, j] = math.tanh(a) if act == TANH else max(a, 0.0)      # eq. (2)
    # END SOLUTION


@cuda.jit(device=True)
def _backward_unit_gpu(g, dh_t, h_t, lengths, t, act, b, j, da_t):
    # BEGIN SOLUTION eqs. (4)-(5) of docs/elman.rst: G_t and da_t, one unit per thread
    G = g[b, j] + dh_t[b, j]                                      # eq. (4)
    if t < lengths[b]:
        da_t[b, j] = G * _dphi_gpu(h_t[b, j], act)                # eq. (5)
    else:
        da_t[b, j] = 0.0
        g[b, j] = G
    # END SOLUTION


@cuda.jit
def _forward_cuda(xw, W_h, lengths, act, h):
    """h[0] = h0 on entry, h[t + 1] = h_t on exit; block b runs sequence b."""
    b, H = cuda.blockIdx.x, h.shape[2]
    for t in range(xw.shape[0]):
        for j in range(cuda.threadIdx.x, H, cuda.blockDim.x):
            _forward_unit_gpu(xw[t], W_h, h[t], lengths, t, act, b, j, h[t + 1])
        cuda.syncthreads()                              # h_t whole before step t+1 reads it


@cuda.jit
def _backward_cuda(dh, h, W_hT, lengths, act, g, da):
    b, H = cuda.blockIdx.x, g.shape[1]
    for t in range(dh.shape[0] - 1, -1, -1):
        for j in range(cuda.threadIdx.x, H, cuda.blockDim.x):
            _backward_unit_gpu(g, dh[t], h[t], lengths, t, act, b, j, da[t])
        cuda.syncthreads()                              # da_t whole before it is multiplied
        for k in range(cuda.threadIdx.x, H, cuda.blockDim.x):
            if t < lengths[b]:
                g[b, k] = state_gradient_gpu(da[t], W_hT, b, k)   # eq. (6)
        cuda.syncthreads()


def forward_cuda(xw, W_h, h0, lengths, act):
    require_gpu()
    T, B, H = xw.shape
    d_h = cuda.device_array((T + 1, B, H), xw.dtype)   # d_h[0] = h0, d_h[t+1] = h_t
    d_h[0].copy_to_device(np.ascontiguousarray(h0))
    launch(_forward_cuda, sequence_launch(B, H), *to_device(xw, W_h, lengths), act, d_h)
    return d_h[1:].copy_to_host()


def backward_cuda(dh, h, W_h, lengths, act):
    require_gpu()
    T, B, H = dh.shape
    d_da = cuda.device_array_like(dh)
    d_g = cuda.to_device(np.zeros((B, H), dh.dtype))
    launch(_backward_cuda, sequence_launch(B, H), *to_device(dh, h, transpose(W_h), lengths),
           act, d_g, d_da)
    return d_da.copy_to_host(), d_g.copy_to_host()


KERNELS = {"cpu": (forward_cpu, backward_cpu), "cuda": (forward_cuda, backward_cuda)}
