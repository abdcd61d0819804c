"""Masked softmax kernels for ``minirnn.attention``, CPU and CUDA.

Equation numbers refer to ``docs/attention.rst``. Scores and weights are batch-first
(N, Tq, Tk), N being batch rows (times heads); each row (n, i) of scores is one query's
alignment with every key. The row functions below are written once and compiled for
both targets (common.twin): the CPU kernels loop over rows, the CUDA kernels run one
thread per row. The products around them (q k^T, A v) are batched GEMMs in NumPy.
"""
import math

from numba import cuda, njit

from .common import launch, launch_config, require_gpu, to_device, twin


def _visible(length, causal, i):
    """How many keys query i may see, eq. (2): the first ``length`` (padding mask),
    and with ``causal`` none after position i (mask j > i, PyTorch's is_causal)."""
    return min(length, i + 1) if causal else length


def _softmax_row(s, L, a):
    """a = softmax of s over its first L entries, exactly 0 beyond (eqs. 2-3); L = 0
    (every key masked) gives a row of zeros, so that query attends to nothing."""
    for j in range(L, s.shape[0]):
        a[j] = 0.0
    if L == 0:
        return
    # BEGIN SOLUTION eqs. (2)-(3) of docs/attention.rst: the masked softmax
    top = s[0]
    for j in range(1, L):
        top = max(top, s[j])
    total = 0.0
    for j in range(L):
        a[j] = math.exp(s[j] - top)                    # shifted: exp never overflows
        total += a[j]
    for j in range(L):
        a[j] /= total
    # END SOLUTION


def _softmax_backward_row(a, da, ds):
    """ds = J^T da with the softmax Jacobian J = diag(a) - a^T a, eq. (7):
    ds_j = a_j (da_j - sum_k a_k da_k). Masked keys have a_j = 0, so ds_j = 0."""
    # BEGIN SOLUTION eq. (7) of docs/attention.rst: ds = J^T da
    dot = 0.0
    for k in range(a.shape[0]):
        dot += a[k] * da[k]
    for j in range(a.shape[0]):
        ds[j] = a[j] * (da[j] - dot)
    # END SOLUTION


_visible_cpu, _visible_gpu = twin(_visible)
_softmax_row_cpu, _softmax_row_gpu = twin(_softmax_row)
_softmax_backward_row_cpu, _softmax_backward_row_gpu = twin(_softmax_backward_row)


# ------------------------------------------------------------------------------- CPU

@njit(cache=True)
def softmax_cpu(s, lengths, causal, a):
    """a[n, i] = masked softmax of s[n, i] (eqs. 2-3); lengths (N,) keys per row n."""
    N, Tq, _ = s.shape
    for n in range(N):
        for i in range(Tq):
            _softmax_row_cpu(s[n, i], _visible_cpu(lengths[n], causal, i), a[n, i])


@njit(cache=True)
def softmax_backward_cpu(a, da, ds):
    """ds[n, i] = J(a[n, i])^T da[n, i], row by row (eq. 7)."""
    N, Tq, _ = a.shape
    for n in range(N):
        for i in range(Tq):
            _softmax_backward_row_cpu(a[n, i], da[n, i], ds[n, i])


# ------------------------------------------------------------------------------ CUDA

@cuda.jit
def _softmax_cuda(s, lengths, causal, a):
    n, i = cuda.grid(2)
    if n < s.shape[0] and i < s.shape[1]:
        _softmax_row_gpu(s[n, i], _visible_gpu(lengths[n], causal, i), a[n, i])


@cuda.jit
def _softmax_backward_cuda(a, da, ds):
    n, i = cuda.grid(2)
    if n < a.shape[0] and i < a.shape[1]:
        _softmax_backward_row_gpu(a[n, i], da[n, i], ds[n, i])


def softmax_cuda(s, lengths, causal, a):
    require_gpu()
    blocks, threads = launch_config(s.shape[0], s.shape[1])
    d_a = cuda.device_array_like(a)
    launch(_softmax_cuda, (blocks, threads), *to_device(s, lengths), causal, d_a)
    d_a.copy_to_host(a)


def softmax_backward_cuda(a, da, ds):
    require_gpu()
    blocks, threads = launch_config(a.shape[0], a.shape[1])
    d_ds = cuda.device_array_like(ds)
    launch(_softmax_backward_cuda, (blocks, threads), *to_device(a, da), d_ds)
    d_ds.copy_to_host(ds)


KERNELS = {"cpu": (softmax_cpu, softmax_backward_cpu),
           "cuda": (softmax_cuda, softmax_backward_cuda)}
