"""Echo state network kernels: the reservoir run of ``minirnn.esn``, CPU and CUDA.

Equation numbers refer to ``docs/esn.rst``. The reservoir matrix W arrives in CSR form
(row i's nonzeros are ``data[indptr[i]:indptr[i+1]]`` in columns ``indices[...]``), so
a step costs one multiply-add per nonzero: 10x fewer than a dense product at the usual
density 0.1. The input term W_in u_t + b is computed in the step too (D multiply-adds
per unit): in closed loop u_t is the readout's last prediction, and a (T, B, N) array
of it made beforehand cost more to write and read back than computing it.

CPU: the whole time loop is one @njit call (no Python between steps: at 500 units a
step is a few microseconds, less than one NumPy call's overhead); the CSR product in
@njit beat dense BLAS per step here, see docs/results/esn.rst. CUDA: one block per
series, one thread per unit, the loop over time inside the kernel
(common.sequence_launch).
"""
import math

import numpy as np
from numba import cuda, njit

from .common import FAST, launch, require_gpu, sequence_launch, tanh, to_device


# ------------------------------------------------------------------------------- CPU

@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
def _products(x_prev, u_t, W_in, b, indptr, indices, data, x_t):
    """x_t = W_in u_t + b + W x_{t-1} for every series (eq. 1), term by term: first
    the input term for all units, as a sum of W_in's D columns (SIMD loops over the
    units), then each unit's row of W. The input term inside each row's loop, as
    _preactivation computes it, cost 9 of the run's 134 ms: a loop of D (here 1)
    iterations per row.

    ``reassoc`` lets LLVM sum each row's nonzeros in SIMD lanes (gathers) in any order;
    with unsigned indices (csr's) Numba drops its negative-index checks. Together: 0.4
    against 1.3 ns per nonzero here (docs/results/esn.rst)."""
    for n in range(x_t.shape[0]):
        x, x_p = x_t[n], x_prev[n]
        for i in range(x.shape[0]):
            x[i] = b[i]
        for k in range(W_in.shape[1]):
            for i in range(x.shape[0]):
                x[i] += W_in[i, k] * u_t[n, k]                    # eq. (1): W_in u_t + b
        for i in range(x.shape[0]):
            pre = x[i]
            for k in range(indptr[i], indptr[i + 1]):
                pre += data[k] * x_p[indices[k]]                  # eq. (1): W x_{t-1}
            x[i] = pre


@njit(**FAST)
def _step(x_prev, u_t, W_in, b, indptr, indices, data, leak, x_t):
    """One step for every series: the products, then the leaky tanh update (eq. 2) as a
    loop over the row, which LLVM turns into SIMD code with common.tanh (a scalar
    math.tanh per unit cost more than the sparse product here)."""
    _products(x_prev, u_t, W_in, b, indptr, indices, data, x_t)
    for n in range(x_t.shape[0]):
        x, x_p = x_t[n], x_prev[n]
        for i in range(x.shape[0]):
            x[i] = (1 - leak) * x_p[i] + leak * tanh(x[i])        # eq. (2)


def run_cpu(u, W_in, b, indptr, indices, data, leak, x0):
    """States x (T, B, N) driven by u (T, B, D) from x0 (B, N).

    x is allocated here, by NumPy, not inside the kernel: NumPy asks Linux for
    transparent huge pages on arrays of 4 MB and more (madvise), so the 40 MB of states
    of the benchmark fault in as 20 pages of 2 MB instead of 10,000 of 4 KB. Numba's
    np.empty does not, and its page faults cost 25 against 7 ms here
    (docs/results/esn.rst)."""
    x = np.empty((u.shape[0], *x0.shape), x0.dtype)
    _run(u, W_in, b, indptr, indices, data, leak, x0, x)
    return x


@njit(cache=True)
def _run(u, W_in, b, indptr, indices, data, leak, x0, x):
    """The time loop of run_cpu: x[t] from x[t - 1] (from x0 at t = 0), eqs. (1-2)."""
    x_prev = x0
    for t in range(u.shape[0]):
        _step(x_prev, u[t], W_in, b, indptr, indices, data, leak, x[t])
        x_prev = x[t]


@njit(cache=True)
def generate_cpu(u0, x0, W_in, b, indptr, indices, data, leak, W_out, W_u, b_out, steps):
    """Closed loop from the input u0 (B, D) and the state x0 (B, N) it led to:
    y_t = W_out x_t + W_u u_t + b_out (eq. 4) becomes the next input, u_{t+1} = y_t
    (eq. 7). Returns y (steps, B, D) and the states (steps, B, N) that gave them."""
    B, N = x0.shape
    D = W_out.shape[0]
    y = np.empty((steps, B, D), x0.dtype)
    x = np.empty((steps, B, N), x0.dtype)
    u_t, x_t, x_next = u0.copy(), x0.copy(), np.empty_like(x0)
    for s in range(steps):
        x[s] = x_t
        for n in range(B):
            for d in range(D):                                    # eq. (4)
                acc = b_out[d]
                for i in range(N):
                    acc += W_out[d, i] * x_t[n, i]
                for k in range(D):
                    acc += W_u[d, k] * u_t[n, k]
                y[s, n, d] = acc
        u_t[:] = y[s]                                             # eq. (7)
        _step(x_t, u_t, W_in, b, indptr, indices, data, leak, x_next)
        x_t, x_next = x_next, x_t
    return y, x


# ------------------------------------------------------------------------------ CUDA

@cuda.jit(device=True)
def _preactivation(x_prev, u_t, W_in, b, indptr, indices, data, n, i):
    """(W_in u_t + b + W x_{t-1})_i for unit i of series n (eq. 1): what one thread of
    the CUDA twin computes. The CPU kernel computes the same sum term by term for all
    units (_products)."""
    pre = b[i]
    for k in range(W_in.shape[1]):
        pre += W_in[i, k] * u_t[n, k]                             # eq. (1): W_in u_t + b
    for k in range(indptr[i], indptr[i + 1]):
        pre += data[k] * x_prev[n, indices[k]]                    # eq. (1): W x_{t-1}
    return pre


@cuda.jit
def _run_cuda(u, W_in, b, indptr, indices, data, leak, x):
    """x[0] = x0 on entry, x[t + 1] = x_t on exit; block n runs series n."""
    n = cuda.blockIdx.x
    for t in range(u.shape[0]):
        for i in range(cuda.threadIdx.x, x.shape[2], cuda.blockDim.x):
            pre = _preactivation(x[t], u[t], W_in, b, indptr, indices, data, n, i)
            x[t + 1, n, i] = (1.0 - leak) * x[t, n, i] + leak * math.tanh(pre)   # eq. (2)
        cuda.syncthreads()                              # x_t whole before step t+1 reads it


def run_cuda(u, W_in, b, indptr, indices, data, leak, x0):
    require_gpu()
    T, B, _ = u.shape
    N = x0.shape[1]
    d_x = cuda.device_array((T + 1, B, N), x0.dtype)        # d_x[0] = x0, d_x[t+1] = x_t
    d_x[0].copy_to_device(np.ascontiguousarray(x0))
    launch(_run_cuda, sequence_launch(B, N), *to_device(u, W_in, b, indptr, indices, data),
           leak, d_x)
    return d_x[1:].copy_to_host()


RUN = {"cpu": run_cpu, "cuda": run_cuda}
