"""LSTM recurrence kernels: the sequential part of ``minirnn.lstm``, CPU and CUDA.

Equation numbers refer to ``docs/lstm.rst``; the recipe is kernels/common.py's.
Gate columns are ordered [i | f | g | o] as in PyTorch, so ``z[:, q*H + j]`` is gate q
of unit j. On the CPU a step is one BLAS product, h_{t-1} W_h for all four gates, and
one fused Numba loop for everything else (eqs. 1-6), with common.py's SIMD tanh and
sigmoid; the backward step likewise (eqs. 7-11).
"""
import math

import numpy as np
from numba import cuda, njit

from . import pool
from .common import (FAST, backward_blocks, constant, flush, flush_below, launch,
                     require_gpu, sequence_launch, sigmoid, state_gradient_gpu, tanh, to_device,
                     transpose, twin)

I, F, G, O = range(4)


def _unit_backward(G_h, g_c, i, f, g, o, tc, c_prev, p_i, p_f, p_o):
    """BPTT through one unit of one step (eqs. 7-10): returns dz_i, dz_f, dz_g, dz_o
    and the gradient reaching c_{t-1}. Only called from solution regions, so its body
    is one too (docs/instructors.rst)."""
    one = constant(1.0, o)                  # 1.0 itself would make float32 math float64
    # BEGIN SOLUTION eqs. (7)-(10) of docs/lstm.rst: BPTT through one unit of one step
    dz_o = G_h * tc * o * (one - o)                               # eq. (7)
    G_c = g_c + G_h * o * (one - tc * tc)                         # eq. (8)
    dz_i = G_c * g * i * (one - i)                                # eq. (9)
    dz_f = G_c * c_prev * f * (one - f)
    dz_g = G_c * i * (one - g * g)
    g_c_prev = G_c * f + dz_i * p_i + dz_f * p_f + dz_o * p_o     # eq. (10)
    return dz_i, dz_f, dz_g, dz_o, g_c_prev
    # END SOLUTION


_unit_backward_cpu, _unit_backward_gpu = twin(_unit_backward)


# ------------------------------------------------------------------------------- CPU

def _blocks(row, H):
    """The four (H,) gate blocks [i | f | g | o] of a (4H,) row, as views."""
    return row[:H], row[H:2 * H], row[2 * H:3 * H], row[3 * H:]


_blocks = njit(cache=True, inline="always")(_blocks)


@njit(**FAST)
def _cell_step(hw, bias, P, h_prev, c_prev, lengths, t, z, h_t, c_t, tc_t):
    """From z = x_t W_x (B, 4H), hw = h_{t-1} W_h (B, 4H) and the bias: the gates i,
    f, g, o in z's place (eqs. 1-3), and c_t, tanh(c_t), h_t (eqs. 4-5); padded rows
    keep h_{t-1}, c_{t-1} (eq. 6). The bias is added here, where the loop reads z
    anyway, not in a pass of its own over all T steps of x W_x beforehand.

    One loop per equation over the units of a row: a loop that stores into one block
    of a row is what LLVM turns into SIMD code (stores into several blocks of the same
    array, at offsets it cannot compare, keep it scalar)."""
    B, H = c_t.shape
    for b in range(B):
        if t >= lengths[b]:                                       # eq. (6)
            h_t[b], c_t[b], tc_t[b] = h_prev[b], c_prev[b], 0.0
            continue
        i, f, g, o = _blocks(z[b], H)
        r_i, r_f, r_g, r_o = _blocks(hw[b], H)
        b_i, b_f, b_g, b_o = _blocks(bias, H)
        cp, c, tc, h = c_prev[b], c_t[b], tc_t[b], h_t[b]
        # BEGIN SOLUTION eqs. (1)-(5) of docs/lstm.rst: gates, cell state c_t, h_t
        for j in range(H):                                        # eqs. (1)-(3)
            i[j] = sigmoid(i[j] + r_i[j] + b_i[j] + P[0, j] * cp[j])
        for j in range(H):
            f[j] = sigmoid(f[j] + r_f[j] + b_f[j] + P[1, j] * cp[j])
        for j in range(H):
            g[j] = tanh(g[j] + r_g[j] + b_g[j])
        for j in range(H):
            o[j] = sigmoid(o[j] + r_o[j] + b_o[j] + P[2, j] * cp[j])
        for j in range(H):
            c[j] = f[j] * cp[j] + i[j] * g[j]                     # eq. (4)
        for j in range(H):
            tc[j] = tanh(c[j])
        for j in range(H):
            h[j] = o[j] * tc[j]                                   # eq. (5)
        # END SOLUTION


@njit(**FAST)
def _backward_step(g_h, carry, g_c, dh_t, gates_t, tc_t, c_prev, P, lengths, t, tiny, dz_t):
    """dz_t (B, 4H) from eqs. 7-9, with G_h = g_h + carry + dh_t, carry = dz_{t+1} W_h^T
    (eq. 11); g_c becomes the gradient at c_{t-1} (eq. 10). g_h holds what padded rows
    pass through: they have dz_t = 0 and hand G_h on; active rows clear it. |values| <
    tiny become 0 (common.flush_below). The gate blocks are taken as separate views:
    one loop then stores into four blocks of dz_t and still becomes SIMD code."""
    B, H = g_h.shape
    for b in range(B):
        gh, ca, gc, dh = g_h[b], carry[b], g_c[b], dh_t[b]
        if t >= lengths[b]:
            for j in range(H):
                gh[j] += ca[j] + dh[j]
            dz_t[b] = 0.0
            continue
        i, f, g, o = _blocks(gates_t[b], H)
        dz_i, dz_f, dz_g, dz_o = _blocks(dz_t[b], H)
        tc, cp = tc_t[b], c_prev[b]
        for j in range(H):
            # BEGIN SOLUTION eqs. (7)-(10) of docs/lstm.rst: dz of the gates, dL/dc_{t-1}
            di, df, dg, do, gc_prev = _unit_backward_cpu(gh[j] + ca[j] + dh[j], gc[j], i[j], f[j],
                                                         g[j], o[j], tc[j], cp[j], P[0, j],
                                                         P[1, j], P[2, j])
            dz_i[j], dz_f[j], dz_g[j], dz_o[j] = (flush(di, tiny), flush(df, tiny),
                                                  flush(dg, tiny), flush(do, tiny))
            gc[j], gh[j] = flush(gc_prev, tiny), 0.0
            # END SOLUTION


def _peepholes(P, H, dtype):
    """P (3, H), or zeros without peepholes: one kernel serves both."""
    return np.zeros((3, H), dtype) if P is None else P


def forward_cpu(xw, W_h, bias, P, h0, c0, lengths, store=True):
    """From xw = x W_x (T, B, 4H), bias (4H,) and peepholes P (3, H) or None: h (T, B,
    H) and, with ``store``, c and tanh(c) (T, B, H) and the gate activations (T, B, 4H)
    kept for the backward pass. The gates are written over xw (one array of the size
    of all steps' gates, not two). Without ``store`` only h comes back, and the cells
    of a step are overwritten two steps later: they stay small enough for the caches."""
    T, B, H4 = xw.shape
    keep = T if store else 2                     # steps whose cells are kept
    c, tc, h = (pool.empty((n, B, H4 // 4), xw.dtype) for n in (keep, keep, T))
    hw = np.empty((B, H4), xw.dtype)             # h_{t-1} W_h, one step's
    P = _peepholes(P, H4 // 4, xw.dtype)
    h_prev, c_prev = h0, c0
    for t in range(T):
        k = t % keep
        np.matmul(h_prev, W_h, out=hw)                            # eq. (1)
        _cell_step(hw, bias, P, h_prev, c_prev, lengths, t, xw[t], h[t], c[k], tc[k])
        h_prev, c_prev = h[t], c[k]
    return (h, c, tc, xw) if store else (h,)


def backward_cpu(dh, gates, c, tc, c0, W_h, P, lengths, add_block):
    """dz_t from dh = dL/dh_t (T, B, H), handed on a block of consecutive steps at a
    time, the last block first (common.backward_blocks): add_block(t0, dz) gets dz (n,
    B, 4H) of steps t0 .. t0 + n - 1 and must use it before it returns (the next block
    is written into the same buffer). Returns dh0 and dc0 (B, H)."""
    T, B, H = dh.shape
    steps, blocks = backward_blocks(T, B * 4 * H * dh.itemsize)
    dz = pool.empty((steps, B, 4 * H), dh.dtype)
    g_h, g_c, carry = (np.zeros((B, H), dh.dtype) for _ in range(3))
    P = _peepholes(P, H, dh.dtype)
    tiny, W_hT = flush_below(dh.dtype), transpose(W_h)
    for t0, t1 in blocks:
        for t in range(t1 - 1, t0 - 1, -1):
            c_prev = c[t - 1] if t else c0
            _backward_step(g_h, carry, g_c, dh[t], gates[t], tc[t], c_prev, P, lengths, t,
                           tiny, dz[t - t0])
            np.matmul(dz[t - t0], W_hT, out=carry)                # eq. (11)
        add_block(t0, dz[:t1 - t0])
    return g_h + carry, g_c


# ------------------------------------------------------------------------------ CUDA

@cuda.jit(device=True)
def _forward_unit_gpu(xw_t, W_h, bias, P, h_prev, c_prev, lengths, t, b, j, gates_t, c_t, tc_t,
                      h_t):
    H = h_t.shape[1]
    if t >= lengths[b]:                                           # eq. (6)
        h_t[b, j], c_t[b, j], tc_t[b, j] = h_prev[b, j], c_prev[b, j], 0.0
        return
    # BEGIN SOLUTION eqs. (1)-(5) of docs/lstm.rst: gates, c_t, h_t, one unit per thread
    z_i, z_f = xw_t[b, j] + bias[j], xw_t[b, H + j] + bias[H + j]
    z_g, z_o = xw_t[b, 2 * H + j] + bias[2 * H + j], xw_t[b, 3 * H + j] + bias[3 * H + j]
    for k in range(H):                                            # eq. (1)
        h = h_prev[b, k]
        z_i += h * W_h[k, j]
        z_f += h * W_h[k, H + j]
        z_g += h * W_h[k, 2 * H + j]
        z_o += h * W_h[k, 3 * H + j]
    cp = c_prev[b, j]
    i = 1.0 / (1.0 + math.exp(-(z_i + P[0, j] * cp)))            # eqs. (2)-(3)
    f = 1.0 / (1.0 + math.exp(-(z_f + P[1, j] * cp)))
    g = math.tanh(z_g)
    o = 1.0 / (1.0 + math.exp(-(z_o + P[2, j] * cp)))
    c = f * cp + i * g                                            # eq. (4)
    gates_t[b, j], gates_t[b, H + j], gates_t[b, 2 * H + j], gates_t[b, 3 * H + j] = i, f, g, o
    c_t[b, j], tc_t[b, j] = c, math.tanh(c)
    h_t[b, j] = o * tc_t[b, j]                                    # eq. (5)
    # END SOLUTION


@cuda.jit(device=True)
def _backward_unit_gpu(g_h, g_c, dh_t, gates_t, tc_t, c_prev, P, lengths, t, b, j, dz_t):
    H = g_h.shape[1]
    G_h = g_h[b, j] + dh_t[b, j]
    if t >= lengths[b]:
        g_h[b, j] = G_h
        for q in range(4):
            dz_t[b, q * H + j] = 0.0
        return
    # BEGIN SOLUTION eqs. (7)-(10) of docs/lstm.rst: dz of the gates, dL/dc_{t-1}, per thread
    dz_i, dz_f, dz_g, dz_o, g_c[b, j] = _unit_backward_gpu(
        G_h, g_c[b, j], gates_t[b, j], gates_t[b, H + j], gates_t[b, 2 * H + j],
        gates_t[b, 3 * H + j], tc_t[b, j], c_prev[b, j], P[0, j], P[1, j], P[2, j])
    dz_t[b, j], dz_t[b, H + j], dz_t[b, 2 * H + j], dz_t[b, 3 * H + j] = dz_i, dz_f, dz_g, dz_o
    # END SOLUTION


@cuda.jit
def _forward_cuda(xw, W_h, bias, P, lengths, gates, c, tc, h):
    """h[0], c[0] = h0, c0 on entry, h[t + 1], c[t + 1] = h_t, c_t on exit; block b runs
    sequence b."""
    b, H = cuda.blockIdx.x, tc.shape[2]
    for t in range(xw.shape[0]):
        for j in range(cuda.threadIdx.x, H, cuda.blockDim.x):
            _forward_unit_gpu(xw[t], W_h, bias, P, h[t], c[t], lengths, t, b, j, gates[t],
                              c[t + 1], tc[t], h[t + 1])
        cuda.syncthreads()                              # h_t whole before step t+1 reads it


@cuda.jit
def _backward_cuda(dh, gates, tc, c_prev, W_hT, P, lengths, g_h, g_c, dz):
    b, H = cuda.blockIdx.x, g_h.shape[1]
    for t in range(dh.shape[0] - 1, -1, -1):
        for j in range(cuda.threadIdx.x, H, cuda.blockDim.x):
            _backward_unit_gpu(g_h, g_c, dh[t], gates[t], tc[t], c_prev[t], P, lengths, t, b,
                               j, dz[t])
        cuda.syncthreads()                              # dz_t whole before it is multiplied
        for k in range(cuda.threadIdx.x, H, cuda.blockDim.x):
            if t < lengths[b]:
                g_h[b, k] = state_gradient_gpu(dz[t], W_hT, b, k)     # eq. (11)
        cuda.syncthreads()


def forward_cuda(xw, W_h, bias, P, h0, c0, lengths, store=True):
    require_gpu()
    T, B, H4 = xw.shape
    H = H4 // 4
    P = np.zeros((3, H), xw.dtype) if P is None else P
    d_gates = cuda.device_array_like(xw)
    d_h, d_c = (cuda.device_array((T + 1, B, H), xw.dtype) for _ in range(2))  # [0] = initial
    d_tc = cuda.device_array((T, B, H), xw.dtype)
    d_h[0].copy_to_device(np.ascontiguousarray(h0))
    d_c[0].copy_to_device(np.ascontiguousarray(c0))
    launch(_forward_cuda, sequence_launch(B, H), *to_device(xw, W_h, bias, P, lengths), d_gates,
           d_c, d_tc, d_h)
    if not store:                                # only h leaves the GPU
        return (d_h[1:].copy_to_host(),)
    return (d_h[1:].copy_to_host(), d_c[1:].copy_to_host(), d_tc.copy_to_host(),
            d_gates.copy_to_host())


def backward_cuda(dh, gates, c, tc, c0, W_h, P, lengths, add_block):
    """backward_cpu on the GPU; dz comes back whole, as one block."""
    require_gpu()
    T, B, H = dh.shape
    P = np.zeros((3, H), dh.dtype) if P is None else P
    c_prev = np.concatenate([c0[None], c[:-1]])
    d_dz = cuda.device_array_like(gates)
    d_gh, d_gc = (cuda.to_device(np.zeros((B, H), dh.dtype)) for _ in range(2))
    launch(_backward_cuda, sequence_launch(B, H),
           *to_device(dh, gates, tc, c_prev, transpose(W_h), P, lengths), d_gh, d_gc, d_dz)
    add_block(0, d_dz.copy_to_host())
    return d_gh.copy_to_host(), d_gc.copy_to_host()


KERNELS = {"cpu": (forward_cpu, backward_cpu), "cuda": (forward_cuda, backward_cuda)}
