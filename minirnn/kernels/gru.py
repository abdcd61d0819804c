"""GRU recurrence kernels: the sequential part of ``minirnn.gru``, CPU and CUDA.

Equation numbers refer to ``docs/gru.rst``; the recipe is kernels/common.py's. Gate
columns are ordered [r | z | n] as in PyTorch, so ``gates[t][:, q*H + j]`` is gate q of
unit j. ``xw`` = x W_x, which the forward pass overwrites with the gates; ``bias`` = b_x
with b_h's r and z blocks already added (r and z only ever see the sum), added in the
pointwise loops. Besides h and the gates, the forward pass keeps one (T, B, H) array m
for the backward pass: m = c^n_t = h_{t-1} W_hn + b_hn (reset-after), m = s_t =
r_t * h_{t-1} (reset-before).

Padding is the update gate set to 1 (eq. 6): the forward pass writes z = 1 into the
padded rows of ``gates``, so the backward kernels need no lengths.
"""
import math

import numpy as np
from numba import cuda, njit

from . import pool
from .common import (FAST, backward_blocks, constant, flush, flush_below, launch,
                     require_gpu, sequence_launch, sigmoid, state_gradient_gpu, tanh, to_device,
                     transpose, twin)


# The three scalar helpers below are only called from solution regions, so their
# bodies are regions too (docs/instructors.rst).

def _blend(z, n, h_prev):
    """h_t = (1 - z) n + z h_{t-1} (eq. 5); exactly h_{t-1} when z = 1."""
    one = constant(1.0, z)                  # 1.0 itself would make float32 math float64
    # BEGIN SOLUTION eq. (5) of docs/gru.rst: h_t from z, n and h_{t-1}
    return (one - z) * n + z * h_prev
    # END SOLUTION


def _blend_backward(G, z, n, h_prev):
    """G = dL/dh_t through eq. 5 and the sigmoid and tanh of eqs. 2-4 (eq. 8):
    returns dz_hat, dn_hat and G z, the part of G that reaches h_{t-1} directly."""
    one = constant(1.0, z)
    # BEGIN SOLUTION eq. (8) of docs/gru.rst: dz_hat, dn_hat and G z
    dz_hat = G * (h_prev - n) * z * (one - z)
    dn_hat = G * (one - z) * (one - n * n)
    return dz_hat, dn_hat, G * z
    # END SOLUTION


def _dsigmoid(dr, r):
    """dr_hat = dL/dr * sigma'(r_hat), with sigma' written with the output r (eqs. 9, 10)."""
    one = constant(1.0, r)
    # BEGIN SOLUTION eqs. (9)-(10) of docs/gru.rst: dr_hat through the sigmoid
    return dr * r * (one - r)
    # END SOLUTION


_blend_cpu, _blend_gpu = twin(_blend)
_blend_backward_cpu, _blend_backward_gpu = twin(_blend_backward)
_dsigmoid_cpu, _dsigmoid_gpu = twin(_dsigmoid)


# ------------------------------------------------------------------------------- CPU

@njit(cache=True, inline="always")
def _blocks(row, H):
    """The three (H,) gate blocks [r | z | n] of a (3H,) row, as views: a loop that
    stores into one view becomes SIMD code (see kernels/lstm.py, _cell_step)."""
    return row[:H], row[H:2 * H], row[2 * H:]


@njit(**FAST)
def _update_reset(hw, bias, gates_t):
    """r and z (eqs. 1, 2) in place of x_t W_xr and x_t W_xz in gates_t, from hw =
    h_{t-1} W_h (its r and z blocks) and the bias."""
    H = gates_t.shape[1] // 3
    b_r, b_z, _ = _blocks(bias, H)
    for b in range(gates_t.shape[0]):
        r, z, _ = _blocks(gates_t[b], H)
        c_r, c_z, _ = _blocks(hw[b], H)
        # BEGIN SOLUTION eqs. (1)-(2) of docs/gru.rst: the gates r and z
        for j in range(H):
            r[j] = sigmoid(r[j] + c_r[j] + b_r[j])
        for j in range(H):
            z[j] = sigmoid(z[j] + c_z[j] + b_z[j])
        # END SOLUTION


@njit(**FAST)
def _reset_after(hw, bias, b_hn, gates_t, m_t):
    """r, z (eqs. 1, 2); m_t = h_{t-1} W_hn + b_hn; n = tanh(a^n + r m_t) (eq. 3) in
    the n block, where x_t W_xn was."""
    _update_reset(hw, bias, gates_t)
    H = m_t.shape[1]
    _, _, b_n = _blocks(bias, H)
    for b in range(m_t.shape[0]):
        r, _, n = _blocks(gates_t[b], H)
        _, _, c_n = _blocks(hw[b], H)
        m = m_t[b]
        # BEGIN SOLUTION eq. (3) of docs/gru.rst: m_t and the candidate n
        for j in range(H):
            m[j] = c_n[j] + b_hn[j]
        for j in range(H):
            n[j] = tanh(n[j] + b_n[j] + r[j] * m[j])
        # END SOLUTION


@njit(**FAST)
def _reset_before(hw, bias, h_prev, gates_t, m_t):
    """r, z (eqs. 1, 2); m_t = s_t = r * h_{t-1}, the input of W_hn (eq. 4)."""
    _update_reset(hw, bias, gates_t)
    for b in range(m_t.shape[0]):
        # BEGIN SOLUTION eq. (4) of docs/gru.rst: s_t = r_t * h_{t-1}
        for j in range(m_t.shape[1]):
            m_t[b, j] = gates_t[b, j] * h_prev[b, j]
        # END SOLUTION


@njit(**FAST)
def _candidate_before(hw, bias, gates_t):
    """n = tanh(a^n + s_t W_hn) (eq. 4) in place of x_t W_xn, from s_t W_hn in hw's n
    block."""
    H = gates_t.shape[1] // 3
    _, _, b_n = _blocks(bias, H)
    for b in range(gates_t.shape[0]):
        _, _, n = _blocks(gates_t[b], H)
        _, _, c_n = _blocks(hw[b], H)
        # BEGIN SOLUTION eq. (4) of docs/gru.rst: the candidate n (reset-before)
        for j in range(H):
            n[j] = tanh(n[j] + b_n[j] + c_n[j])
        # END SOLUTION


def _gates_after(W_h, bias, b_hn, h_prev, hw, gates_t, m_t):
    """r, z, n of one reset-after step (eqs. 1-3) into gates_t (B, 3H), which holds
    x_t W_x; hw (B, 3H) is scratch space for the product with W_h."""
    np.matmul(h_prev, W_h, out=hw)               # h_{t-1} W_h for all three gates: one GEMM
    _reset_after(hw, bias, b_hn, gates_t, m_t)


def _gates_before(W_h, bias, h_prev, hw, gates_t, m_t):
    """r, z, n of one reset-before step (eqs. 1, 2, 4) into gates_t (B, 3H), as
    _gates_after."""
    H = m_t.shape[1]
    np.matmul(h_prev, W_h[:, :2 * H], out=hw[:, :2 * H])
    _reset_before(hw, bias, h_prev, gates_t, m_t)
    np.matmul(m_t, W_h[:, 2 * H:], out=hw[:, 2 * H:])         # waits for r: a second GEMM
    _candidate_before(hw, bias, gates_t)


@njit(**FAST)
def _blend_rows(gates_t, h_prev, lengths, t, h_t):
    """Rows whose sequence has ended get z = 1 (eq. 6); then h_t for every row (eq. 5)."""
    B, H = h_t.shape
    for b in range(B):
        _, z, n = _blocks(gates_t[b], H)
        if t >= lengths[b]:
            z[:] = 1.0
        hp, h = h_prev[b], h_t[b]
        for j in range(H):
            # BEGIN SOLUTION eq. (5) of docs/gru.rst: h_t
            h[j] = _blend_cpu(z[j], n[j], hp[j])
            # END SOLUTION


@njit(**FAST)
def _backward_after_rows(g, carry, dh_t, gates_t, m_t, h_prev, tiny, da_t, dc_t):
    """One reset-after step, all pointwise (eqs. 7-9), with g + carry the gradient
    from step t+1 (eq. 11: carry = dc_{t+1} W_h^T): da_t = [dr_hat | dz_hat | dn_hat]
    and dc_t = [dr_hat | dz_hat | r dn_hat]; g becomes G z."""
    B, H = g.shape
    for b in range(B):
        r, z, n = _blocks(gates_t[b], H)
        da_r, da_z, da_n = _blocks(da_t[b], H)
        dc_r, dc_z, dc_n = _blocks(dc_t[b], H)
        for j in range(H):
            # BEGIN SOLUTION eqs. (7)-(9) of docs/gru.rst: da_t, dc_t and G z
            G = g[b, j] + carry[b, j] + dh_t[b, j]                # eq. (7)
            dz_hat, dn_hat, Gz = _blend_backward_cpu(G, z[j], n[j], h_prev[b, j])
            dr_hat = _dsigmoid_cpu(dn_hat * m_t[b, j], r[j])      # eq. (9)
            da_r[j], da_z[j], da_n[j] = flush(dr_hat, tiny), flush(dz_hat, tiny), flush(dn_hat, tiny)
            dc_r[j], dc_z[j], dc_n[j] = da_r[j], da_z[j], flush(r[j] * da_n[j], tiny)
            g[b, j] = flush(Gz, tiny)
            # END SOLUTION


@njit(**FAST)
def _backward_zn_rows(g, carry, dh_t, gates_t, h_prev, tiny, da_t):
    """Reset-before, eqs. 7-8 (g and carry as in _backward_after_rows): the z and n
    blocks of da_t; g becomes G z."""
    B, H = g.shape
    for b in range(B):
        _, z, n = _blocks(gates_t[b], H)
        _, da_z, da_n = _blocks(da_t[b], H)
        for j in range(H):
            # BEGIN SOLUTION eqs. (7)-(8) of docs/gru.rst: the z and n blocks of da_t, G z
            G = g[b, j] + carry[b, j] + dh_t[b, j]                # eq. (7)
            dz_hat, dn_hat, Gz = _blend_backward_cpu(G, z[j], n[j], h_prev[b, j])
            da_z[j], da_n[j] = flush(dz_hat, tiny), flush(dn_hat, tiny)
            g[b, j] = flush(Gz, tiny)
            # END SOLUTION


@njit(cache=True)
def _backward_r_rows(ds, gates_t, h_prev, tiny, g, da_t):
    """Reset-before, eq. 10 from ds = dL/ds_t: dr_hat into da_t, ds r into g (eq. 11)."""
    B, H = g.shape
    for b in range(B):
        for j in range(H):
            # BEGIN SOLUTION eqs. (10)-(11) of docs/gru.rst: dr_hat and ds r (reset-before)
            r = gates_t[b, j]
            da_t[b, j] = flush(_dsigmoid_cpu(ds[b, j] * h_prev[b, j], r), tiny)
            g[b, j] = flush(g[b, j] + ds[b, j] * r, tiny)
            # END SOLUTION


def forward_cpu(xw, W_h, bias, b_hn, h0, lengths, variant):
    """h (T, B, H), gates [r | z | n] (T, B, 3H) and m (T, B, H) from xw = x W_x (T, B,
    3H), which becomes the gates (one array of that size, not two), and bias (3H,)."""
    T, B, H3 = xw.shape
    h, m = (pool.empty((T, B, H3 // 3), xw.dtype) for _ in range(2))
    hw = np.empty((B, H3), xw.dtype)             # h_{t-1} W_h, one step's
    h_prev = h0
    for t in range(T):
        if variant == "after":
            _gates_after(W_h, bias, b_hn, h_prev, hw, xw[t], m[t])
        else:
            _gates_before(W_h, bias, h_prev, hw, xw[t], m[t])
        _blend_rows(xw[t], h_prev, lengths, t, h[t])              # eqs. (5), (6)
        h_prev = h[t]
    return h, xw, m


def backward_cpu(dh, h0, h, gates, m, W_h, variant, add_block):
    """From dh = dL/dh_t (T, B, H), a block of consecutive steps at a time, the last
    block first (common.backward_blocks): add_block(t0, da, dc) gets, for steps t0 ..
    t0 + n - 1, da (n, B, 3H), the gradient at x W_x + b_x, and dc (n, B, 3H), the
    gradient at the product with W_h (plus b_h): dc_t = [dr_hat | dz_hat | r *
    dn_hat] for reset-after; for reset-before dc is da itself, whose n block is the
    gradient at s_t W_hn. add_block must use them before it returns (the next block
    is written into the same buffers). Returns dh0 (B, H)."""
    T, B, H = dh.shape
    after = variant == "after"
    steps, blocks = backward_blocks(T, B * (6 if after else 3) * H * dh.itemsize)
    da = pool.empty((steps, B, 3 * H), dh.dtype)
    dc = pool.empty(da.shape, da.dtype) if after else da
    k = 3 * H if after else 2 * H                  # the columns of W_h that take h_{t-1}
    tiny, W_hT = flush_below(dh.dtype), transpose(W_h[:, :k])
    W_hnT = None if after else transpose(W_h[:, 2 * H:])     # for reset-before's ds (eq. 10)
    g = np.zeros_like(h0)                          # gradient reaching h_t from step t+1:
    carry = np.zeros_like(h0)                      # g + carry, carry = dc_{t+1} W_h^T
    for t0, t1 in blocks:
        for t in range(t1 - 1, t0 - 1, -1):
            h_prev, da_t = (h[t - 1] if t else h0), da[t - t0]
            if after:
                _backward_after_rows(g, carry, dh[t], gates[t], m[t], h_prev, tiny, da_t,
                                     dc[t - t0])
            else:
                _backward_zn_rows(g, carry, dh[t], gates[t], h_prev, tiny, da_t)
                ds = da_t[:, 2 * H:] @ W_hnT                          # eq. (10)
                _backward_r_rows(ds, gates[t], h_prev, tiny, g, da_t)
            np.matmul(dc[t - t0, :, :k], W_hT, out=carry)             # eq. (11)
        add_block(t0, da[:t1 - t0], dc[:t1 - t0])
    return g + carry


# ------------------------------------------------------------------------------ CUDA

@cuda.jit(device=True)
def _sigmoid_gpu(a):
    return 0.5 + 0.5 * math.tanh(0.5 * a)        # the CPU's form too (common.sigmoid)


@cuda.jit(device=True)
def _finish_unit(z, n, h_prev, lengths, t, b, j, gates_t, h_t):
    """Eqs. 5-6 for unit j of row b, storing the gates the backward pass reads."""
    H = h_t.shape[1]
    z = z if t < lengths[b] else 1.0
    gates_t[b, H + j], gates_t[b, 2 * H + j] = z, n
    # BEGIN SOLUTION eq. (5) of docs/gru.rst: h_t, one unit per thread
    h_t[b, j] = _blend_gpu(z, n, h_prev[b, j])
    # END SOLUTION


@cuda.jit(device=True)
def _forward_after_unit_gpu(xw_t, W_h, bias, b_hn, h_prev, lengths, t, gates_t, m_t, h_t, b, j):
    H = h_t.shape[1]
    # BEGIN SOLUTION eqs. (1)-(3), (5) of docs/gru.rst: r, z, n, h_t, one unit per thread
    a_r, a_z, hn = xw_t[b, j] + bias[j], xw_t[b, H + j] + bias[H + j], b_hn[j]
    for k in range(H):
        h = h_prev[b, k]
        a_r += h * W_h[k, j]
        a_z += h * W_h[k, H + j]
        hn += h * W_h[k, 2 * H + j]
    r = _sigmoid_gpu(a_r)                                         # eq. (1)
    n = math.tanh(xw_t[b, 2 * H + j] + bias[2 * H + j] + r * hn)  # eq. (3)
    gates_t[b, j], m_t[b, j] = r, hn
    _finish_unit(_sigmoid_gpu(a_z), n, h_prev, lengths, t, b, j, gates_t, h_t)  # eq. (2)
    # END SOLUTION


@cuda.jit(device=True)
def _forward_rz_unit_gpu(xw_t, W_h, bias, h_prev, gates_t, m_t, b, j):
    H = m_t.shape[1]
    # BEGIN SOLUTION eqs. (1)-(2), (4) of docs/gru.rst: r, z and s_t, one unit per thread
    a_r, a_z = xw_t[b, j] + bias[j], xw_t[b, H + j] + bias[H + j]
    for k in range(H):
        a_r += h_prev[b, k] * W_h[k, j]
        a_z += h_prev[b, k] * W_h[k, H + j]
    r = _sigmoid_gpu(a_r)                                         # eq. (1)
    gates_t[b, j], gates_t[b, H + j] = r, _sigmoid_gpu(a_z)       # eq. (2)
    m_t[b, j] = r * h_prev[b, j]
    # END SOLUTION


@cuda.jit(device=True)
def _forward_n_unit_gpu(xw_t, W_h, bias, h_prev, m_t, lengths, t, gates_t, h_t, b, j):
    H = h_t.shape[1]
    # BEGIN SOLUTION eqs. (4)-(5) of docs/gru.rst: n and h_t (reset-before), one unit per thread
    a_n = xw_t[b, 2 * H + j] + bias[2 * H + j]
    for k in range(H):
        a_n += m_t[b, k] * W_h[k, 2 * H + j]
    n = math.tanh(a_n)                                            # eq. (4)
    _finish_unit(gates_t[b, H + j], n, h_prev, lengths, t, b, j, gates_t, h_t)
    # END SOLUTION


@cuda.jit(device=True)
def _backward_after_unit_gpu(g, dh_t, gates_t, m_t, h_prev, da_t, dc_t, b, j):
    H = g.shape[1]
    # BEGIN SOLUTION eqs. (7)-(9) of docs/gru.rst: da_t, dc_t and G z, one unit per thread
    r, z, n = gates_t[b, j], gates_t[b, H + j], gates_t[b, 2 * H + j]
    G = g[b, j] + dh_t[b, j]                                      # eq. (7)
    dz_hat, dn_hat, g[b, j] = _blend_backward_gpu(G, z, n, h_prev[b, j])
    dr_hat = _dsigmoid_gpu(dn_hat * m_t[b, j], r)                 # eq. (9)
    da_t[b, j], da_t[b, H + j], da_t[b, 2 * H + j] = dr_hat, dz_hat, dn_hat
    dc_t[b, j], dc_t[b, H + j], dc_t[b, 2 * H + j] = dr_hat, dz_hat, r * dn_hat
    # END SOLUTION


@cuda.jit(device=True)
def _backward_zn_unit_gpu(g, dh_t, gates_t, h_prev, da_t, b, j):
    H = g.shape[1]
    # BEGIN SOLUTION eqs. (7)-(8) of docs/gru.rst: the z and n blocks of da_t, G z, per thread
    G = g[b, j] + dh_t[b, j]                                      # eq. (7)
    da_t[b, H + j], da_t[b, 2 * H + j], g[b, j] = _blend_backward_gpu(
        G, gates_t[b, H + j], gates_t[b, 2 * H + j], h_prev[b, j])
    # END SOLUTION


@cuda.jit(device=True)
def _backward_r_unit_gpu(W_h, gates_t, h_prev, g, da_t, b, k):
    H = g.shape[1]
    # BEGIN SOLUTION eqs. (10)-(11) of docs/gru.rst: dr_hat and ds r (reset-before), per thread
    ds = 0.0
    for j in range(H):
        ds += da_t[b, 2 * H + j] * W_h[k, 2 * H + j]              # eq. (10)
    da_t[b, k] = _dsigmoid_gpu(ds * h_prev[b, k], gates_t[b, k])
    g[b, k] += ds * gates_t[b, k]
    # END SOLUTION


@cuda.jit
def _forward_cuda(xw, W_h, bias, b_hn, lengths, after, gates, m, h):
    """h[0] = h0 on entry, h[t + 1] = h_t on exit; block b runs sequence b."""
    b, H = cuda.blockIdx.x, m.shape[2]
    for t in range(xw.shape[0]):
        if after:
            for j in range(cuda.threadIdx.x, H, cuda.blockDim.x):
                _forward_after_unit_gpu(xw[t], W_h, bias, b_hn, h[t], lengths, t, gates[t],
                                        m[t], h[t + 1], b, j)
        else:
            for j in range(cuda.threadIdx.x, H, cuda.blockDim.x):
                _forward_rz_unit_gpu(xw[t], W_h, bias, h[t], gates[t], m[t], b, j)
            cuda.syncthreads()                          # s_t whole before eq. (4) reads it
            for j in range(cuda.threadIdx.x, H, cuda.blockDim.x):
                _forward_n_unit_gpu(xw[t], W_h, bias, h[t], m[t], lengths, t, gates[t],
                                    h[t + 1], b, j)
        cuda.syncthreads()                              # h_t whole before step t+1 reads it


@cuda.jit
def _backward_cuda(dh, h_prev, gates, m, W_h, W_hT, after, g, da, dc):
    """dc is da for reset-before; W_hT holds the columns of W_h that take h_{t-1} (its r
    and z blocks, and n's too for reset-after), transposed."""
    b, H = cuda.blockIdx.x, g.shape[1]
    for t in range(dh.shape[0] - 1, -1, -1):
        if after:
            for j in range(cuda.threadIdx.x, H, cuda.blockDim.x):
                _backward_after_unit_gpu(g, dh[t], gates[t], m[t], h_prev[t], da[t], dc[t], b, j)
        else:
            for j in range(cuda.threadIdx.x, H, cuda.blockDim.x):
                _backward_zn_unit_gpu(g, dh[t], gates[t], h_prev[t], da[t], b, j)
            cuda.syncthreads()                          # dn_hat whole before eq. (10) reads it
            for k in range(cuda.threadIdx.x, H, cuda.blockDim.x):
                _backward_r_unit_gpu(W_h, gates[t], h_prev[t], g, da[t], b, k)
        cuda.syncthreads()                              # dc_t whole before it is multiplied
        for k in range(cuda.threadIdx.x, H, cuda.blockDim.x):
            g[b, k] += state_gradient_gpu(dc[t], W_hT, b, k)      # eq. (11)
        cuda.syncthreads()


def forward_cuda(xw, W_h, bias, b_hn, h0, lengths, variant):
    require_gpu()
    T, B, H3 = xw.shape
    H = H3 // 3
    d_gates = cuda.device_array_like(xw)
    d_m = cuda.device_array((T, B, H), xw.dtype)
    d_h = cuda.device_array((T + 1, B, H), xw.dtype)   # d_h[0] = h0, d_h[t+1] = h_t
    d_h[0].copy_to_device(np.ascontiguousarray(h0))
    launch(_forward_cuda, sequence_launch(B, H),
           *to_device(xw, W_h, bias, b_hn, lengths), variant == "after", d_gates, d_m, d_h)
    return d_h[1:].copy_to_host(), d_gates.copy_to_host(), d_m.copy_to_host()


def backward_cuda(dh, h0, h, gates, m, W_h, variant, add_block):
    """backward_cpu on the GPU; da and dc come back whole, as one block."""
    require_gpu()
    T, B, H = dh.shape
    after = variant == "after"
    k = 3 * H if after else 2 * H                  # the columns of W_h that take h_{t-1}
    h_prev = np.concatenate([h0[None], h[:-1]])
    d_da = cuda.device_array_like(gates)
    d_dc = cuda.device_array_like(gates) if after else d_da
    d_g = cuda.to_device(np.zeros((B, H), dh.dtype))
    launch(_backward_cuda, sequence_launch(B, H),
           *to_device(dh, h_prev, gates, m, W_h, transpose(W_h[:, :k])), after, d_g, d_da, d_dc)
    da = d_da.copy_to_host()
    add_block(0, da, d_dc.copy_to_host() if after else da)
    return d_g.copy_to_host()


KERNELS = {"cpu": (forward_cpu, backward_cpu), "cuda": (forward_cuda, backward_cuda)}
