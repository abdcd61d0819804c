"""Pieces every recurrent kernel shares.

The CPU kernels follow one recipe, chosen by measurement (docs/elman.rst,
"Performance"): each step's matrix product goes to BLAS through NumPy, the
transcendental functions (tanh, sigmoid) go through NumPy's SIMD ufuncs, and the
remaining pointwise math is a fused, serial Numba loop. CUDA twins run one thread per
(batch row, unit) and one launch per step.
"""
import math

import numpy as np
from numba import cuda, njit


def sigmoid_(x):
    """x <- sigma(x) in place, as (1 + tanh(x / 2)) / 2: NumPy's SIMD tanh, no overflow."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


def flush_below(dtype):
    """Gradients smaller than this are set to zero by the backward kernels: sqrt of the
    smallest normal number (1e-19 in float32, 1e-154 in float64).

    Gradients that vanish through time reach the subnormal range, where x86 arithmetic
    is ~30x slower (measured: a (64, 512) x (512, 128) product took 14 ms on subnormals
    against 0.43 ms), and so do their products with small activations inside the
    weight-gradient GEMMs. The product of two numbers above sqrt(tiny) is always
    normal, and a gradient of 1e-19 is nothing next to the ones that matter.
    """
    return np.sqrt(np.finfo(dtype).tiny)


def twin(scalar_function):
    """Compile one scalar Python function for both targets: (CPU inline, CUDA device)."""
    return njit(cache=True, inline="always")(scalar_function), cuda.jit(device=True)(scalar_function)


def transpose(a):
    """a.T as a C-contiguous copy, for the per-step product dz_t W_h^T: made once per
    sequence, it saved ~20% of each step's product here (0.080 against 0.103 ms for
    (64, 512) x (512, 128)). The large weight-gradient products are the other way
    round: a transposed view was 2x faster than copying first."""
    return np.ascontiguousarray(a.T)


def launch_config(rows, cols, threads=(8, 32)):
    """Launch configuration covering a (rows, cols) array with one thread per element."""
    return (math.ceil(rows / threads[0]), math.ceil(cols / threads[1])), threads


@cuda.jit
def state_gradient_cuda(da_t, W_h, lengths, t, g):
    """g[b] = da_t[b] W_h^T for rows still in their sequence; padded rows keep g.
    One (b, k) element per thread: the CUDA form of each cell's g += da_t W_h^T."""
    b, k = cuda.grid(2)
    if b >= g.shape[0] or k >= g.shape[1] or t >= lengths[b]:
        return
    s = 0.0
    for n in range(W_h.shape[1]):
        s += da_t[b, n] * W_h[k, n]
    g[b, k] = s


def require_gpu():
    if not cuda.is_available():
        raise RuntimeError("device='cuda' needs an NVIDIA GPU with the 'cuda' extra "
                           "(pip install 'minirnn[cuda]'); without one, run the CUDA "
                           "kernels in the simulator with NUMBA_ENABLE_CUDASIM=1, or use "
                           "device='cpu'")
