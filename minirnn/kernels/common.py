"""Pieces every recurrent kernel shares.

The CPU kernels follow one recipe, chosen by measurement (docs/elman.rst,
"Performance", and docs/lstm.rst, "How it is computed"): each step's matrix product
goes to BLAS through NumPy, and everything pointwise of a step is one fused, serial
Numba loop, whose tanh and sigmoid are the SIMD-vectorisable ones defined here. CUDA
twins run one block per sequence and one thread per unit, the loop over time inside
the kernel (sequence_launch).
"""
import math

import numpy as np
from numba import cuda, njit, types
from numba.extending import overload

#: Numba options of every CPU kernel that calls tanh or sigmoid. error_model="numpy":
#: a float division may not raise ZeroDivisionError, which would keep LLVM from
#: vectorising the loop. contract: a * b + c may become one fused multiply-add.
FAST = dict(cache=True, error_model="numpy", fastmath={"contract"})

TANH_CAP = 40.0     # tanh(x) rounds to +-1 in float64 (and float32) once 2|x| > 40


def _tanh_in(float_, degree):
    """tanh and sigmoid computed in the precision ``float_``, from arithmetic alone.

    tanh(x) = -m / (2 + m) with m = e^{-a} - 1 and a = 2|x| (sign restored at the end).
    a = k/2 + r with k an integer and |r| <= 1/4: e^{-r} - 1 is a Taylor polynomial of
    ``degree`` (its remainder is below the precision's rounding), and e^{-k/2} is the
    product of e^{-v/2} over the binary digits v of k. Then m = E (e^{-r} - 1) + (E - 1)
    has no cancellation for small x, where E = 1, so tanh keeps its relative accuracy.
    Only +, *, /, floor and selects: LLVM turns a loop of it into SIMD code, which a
    call of the C library's tanh (libm, no SVML in pip's llvmlite) never becomes.
    Measured within 4 ulp of NumPy's tanh in both precisions (tests/test_kernels.py).
    """
    coeffs = tuple(float_(1 / math.factorial(n)) for n in range(1, degree + 1))
    digits = tuple(float_(2.0 ** n) for n in range(6, -1, -1))      # k <= 2 * TANH_CAP < 128
    factors = tuple(float_(math.exp(-v / 2)) for v in digits)
    zero, half, one, two, cap = (float_(v) for v in (0, 0.5, 1, 2, TANH_CAP))

    @njit(error_model="numpy", fastmath={"contract"})
    def expm1_neg(a):
        k = np.floor(two * a + half)
        s = half * k - a                                # -r
        q = coeffs[-1]
        for n in range(len(coeffs) - 2, -1, -1):        # Horner: e^{-r} - 1
            q = q * s + coeffs[n]
        q = q * s
        E = one
        for n in range(len(digits)):                    # E = e^{-k/2}
            take = k >= digits[n]
            k = k - digits[n] if take else k
            E = E * factors[n] if take else E
        return E * q + (E - one)

    @njit(error_model="numpy", fastmath={"contract"})
    def tanh(x):
        a = two * abs(x)
        m = expm1_neg(cap if a > cap else a)            # a NaN stays NaN
        t = -m / (two + m)
        return t if x >= zero else -t

    @njit(error_model="numpy", fastmath={"contract"})
    def sigmoid(x):
        return half + half * tanh(half * x)             # sigma(x) = (1 + tanh(x / 2)) / 2

    return tanh, sigmoid


_FLOAT32 = _tanh_in(np.float32, 7)
_FLOAT64 = _tanh_in(np.float64, 12)


def tanh(x):
    """tanh(x) inside CPU kernels, in x's precision (float32 or float64); see _tanh_in."""
    raise TypeError("common.tanh is for Numba kernels; use np.tanh in Python")


def sigmoid(x):
    """sigma(x) = 1 / (1 + e^{-x}) inside CPU kernels, as (1 + tanh(x / 2)) / 2."""
    raise TypeError("common.sigmoid is for Numba kernels")


def _by_precision(which):
    """The implementation of ``which`` (0: tanh, 1: sigmoid) for x's float type."""
    def typer(x):
        fn = (_FLOAT32 if x == types.float32 else _FLOAT64)[which]
        return lambda x: fn(x)
    return typer


overload(tanh, jit_options=dict(error_model="numpy"))(_by_precision(0))
overload(sigmoid, jit_options=dict(error_model="numpy"))(_by_precision(1))


def constant(c, x):
    """The number c in x's float type, for the literals of kernel arithmetic: Numba
    types a literal such as 1.0 as float64, so in float32 kernels ``1.0 - o`` would
    convert o and run at double precision and half the SIMD width (measured: the LSTM
    backward loop did). Works in CPU kernels, CUDA device functions and plain Python
    (the CUDA simulator)."""
    return type(x)(c)


@overload(constant)
def _constant(c, x):
    cast = np.float32 if x == types.float32 else np.float64
    return lambda c, x: cast(c)


@njit(cache=True, inline="always")
def flush(v, tiny):
    """v, or 0 where abs(v) < tiny (see flush_below)."""
    return v if abs(v) >= tiny else constant(0.0, v)


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


def previous_state_gradient(h0, h, d):
    """sum_t h_{t-1}^T d_t over t = 0..T-1 with h_{-1} = h0, for h (T, B, H) and d (T, B,
    G): the weight gradient of a product h_{t-1} W. Steps 1..T-1 are one product with
    h[:-1], a view, and step 0 a small one with h0; concatenating h0 and h[:-1] first
    copied a (T, B, H) array each backward pass, and its fresh pages cost page faults."""
    T, B, H = h.shape
    later = h[:-1].reshape((T - 1) * B, H).T @ d[1:].reshape((T - 1) * B, d.shape[2])
    return later + h0.T @ d[0]


def launch_config(rows, cols, threads=(8, 32)):
    """Launch configuration covering a (rows, cols) array with one thread per element."""
    return (math.ceil(rows / threads[0]), math.ceil(cols / threads[1])), threads


SEQUENCE_THREADS = 256


def sequence_launch(B, H):
    """Launch configuration of the recurrent CUDA kernels: block b runs sequence b, its
    threads stride over the H units (``for j in range(cuda.threadIdx.x, H,
    cuda.blockDim.x)``), and the loop over time runs inside the kernel with
    ``cuda.syncthreads()`` between steps. A step needs the whole previous step of its
    own sequence only, so a block's barrier is all the synchronisation there is: one
    launch per pass. One launch per step spent ~0.8 ms a step in Python (launching, and
    slicing the device arrays) on an H100 machine, far more than the GPU's work."""
    return B, min(SEQUENCE_THREADS, 32 * math.ceil(H / 32))


@cuda.jit(device=True)
def state_gradient_gpu(da_t, W_hT, b, k):
    """(da_t W_h^T)[b, k]: the CUDA form of each cell's g = da_t W_h^T, with W_h^T
    (G, H) stored so that the threads of a warp (consecutive k) read consecutive words."""
    s = constant(0.0, da_t[b, 0])
    for n in range(W_hT.shape[0]):
        s += da_t[b, n] * W_hT[n, k]
    return s


def require_gpu():
    if not cuda.is_available():
        raise RuntimeError("device='cuda' needs an NVIDIA GPU with the 'cuda' extra "
                           "(pip install 'minirnn[cuda]'); without one, run the CUDA "
                           "kernels in the simulator with NUMBA_ENABLE_CUDASIM=1, or use "
                           "device='cpu'")
