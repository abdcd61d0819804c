"""Pieces every recurrent kernel shares.

The CPU kernels follow one recipe, chosen by measurement (docs/elman.rst,
"Performance", and docs/lstm.rst, "How it is computed"): each step's matrix product
goes to BLAS through NumPy, and everything pointwise of a step is one fused, serial
Numba loop, whose tanh and sigmoid are the SIMD-vectorisable ones defined here. CUDA
twins run one block per sequence and one thread per unit, the loop over time inside
the kernel (sequence_launch).
"""
import math
from fractions import Fraction

import numpy as np
from numba import cuda, njit, types
from numba.extending import overload

#: Numba options of every CPU kernel that calls tanh or sigmoid. error_model="numpy":
#: a float division may not raise ZeroDivisionError, which would keep LLVM from
#: vectorising the loop. contract: a * b + c may become one fused multiply-add.
FAST = dict(cache=True, error_model="numpy", fastmath={"contract"})

TANH_CAP = 40.0     # tanh(x) rounds to +-1 in float64 (and float32) once 2|x| > 40


def _chebyshev(n):
    """The integer coefficients of the Chebyshev polynomial T_n, lowest power first."""
    T = [[1], [0, 1]]                                   # T_0 = 1, T_1 = u
    while len(T) <= n:                                  # T_{k+1} = 2u T_k - T_{k-1}
        twice = [0] + [2 * c for c in T[-1]]
        T.append([c - (T[-2][k] if k < len(T[-2]) else 0) for k, c in enumerate(twice)])
    return T[n]


def _economise(coeffs, rho, degree):
    """Chebyshev economisation of sum_k coeffs[k] s^k on |s| <= rho down to ``degree``.

    Each pass removes the top power, a_n s^n, by subtracting a_n rho^n 2^(1-n) T_n(s /
    rho): that has the same s^n term (T_n's is 2^(n-1) u^n) and is at most a_n rho^n
    2^(1-n) in size on |s| <= rho, which bounds what each pass changes. Exact fractions,
    so nothing is rounded until the caller converts the result."""
    a, rho = [Fraction(c) for c in coeffs], Fraction(rho)
    while len(a) - 1 > degree:
        n = len(a) - 1
        T = _chebyshev(n)
        scale = a[n] * rho ** n / T[n]
        for k in range(n):
            a[k] -= scale * T[k] / rho ** k
        a.pop()
    return a


def _tanh_in(float_, taylor, degree):
    """tanh and sigmoid computed in the precision ``float_``, from arithmetic alone.

    tanh(x) = -m / (2 + m) with m = e^{-a} - 1 and a = 2|x| (sign restored at the end).
    a = n ln2 + r with an integer n and |r| <= ln2 / 2: e^{-r} - 1 = -r P(-r), where P
    is the Taylor polynomial of (e^s - 1) / s of degree ``taylor`` - 1 (its remainder is
    below the precision's rounding), economised to degree ``degree`` - 1 (_economise;
    what that adds is below the rounding too), and E = e^{-n ln 2} = 2^-n is built
    directly as a float's bits, exponent field bias - n.
    Then m = E (e^{-r} - 1) + (E - 1) has no cancellation for small x, where n = 0 and
    E = 1, so tanh keeps its relative accuracy. n is found without a float-to-integer
    conversion (which AVX2 lacks for 64-bit integers, so a loop of it stayed scalar):
    adding 1.5 * 2^mantissa rounds a / ln2 to an integer held in the sum's low bits.
    Only +, *, /, bit shifts and selects: LLVM turns a loop of it into SIMD code, which
    a call of the C library's tanh (libm, no SVML in pip's llvmlite) never becomes.
    Within 4 ulp of NumPy's tanh in both precisions (tests/test_kernels_common.py; 3
    measured, 0.65 ns per element in float32, 1.8 in float64: docs/lstm.rst).
    """
    int_, mantissa, bias = (np.int32, 23, 127) if float_ == np.float32 else (np.int64, 52, 1023)
    ln2 = math.log(2)
    P = [Fraction(1, math.factorial(k)) for k in range(1, taylor + 1)]    # (e^s - 1) / s
    coeffs = tuple(float_(c) for c in _economise(P, Fraction(ln2) / 2, degree - 1))
    hi = math.ldexp(round(math.ldexp(ln2, mantissa - 6)), 6 - mantissa)  # n hi exact, n < 64
    ln2_hi, ln2_lo, inv_ln2 = float_(hi), float_(ln2 - hi), float_(1 / ln2)
    magic = float_(1.5 * 2.0 ** mantissa)   # x + magic: round(x) in its low bits (small x)
    one_bits = int_(bias << mantissa)       # the bits of 2^0; of 2^-n: one_bits - (n << mantissa)
    shift = int_(mantissa)
    zero, half, one, two, cap = (float_(v) for v in (0, 0.5, 1, 2, TANH_CAP))

    @njit(error_model="numpy", fastmath={"contract"})
    def expm1_neg(a):
        n_magic = a * inv_ln2 + magic
        n = n_magic - magic                             # round(a / ln2) <= 58
        s = n * ln2_hi - a + n * ln2_lo                 # -r
        q = coeffs[-1]
        for k in range(len(coeffs) - 2, -1, -1):        # Horner: e^{-r} - 1
            q = q * s + coeffs[k]
        q = q * s
        # n_magic's bits are magic's plus n, and magic's shift out: n << mantissa
        E = int_(one_bits - (float_(n_magic).view(int_) << shift)).view(float_)    # 2^-n
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


_FLOAT32 = _tanh_in(np.float32, 7, 7)
_FLOAT64 = _tanh_in(np.float64, 13, 11)


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
    copied a (T, B, H) array each backward pass, and its fresh pages cost page faults.
    T = 0 is a sum of no terms: zeros."""
    T, B, H = h.shape
    if T == 0:
        return np.zeros((H, d.shape[2]), d.dtype)
    later = h[:-1].reshape((T - 1) * B, H).T @ d[1:].reshape((T - 1) * B, d.shape[2])
    return later + h0.T @ d[0]


#: Bytes of the step gradients (the LSTM's dz, the GRU's da and dc) a CPU backward pass
#: holds at most: a block of consecutive steps, not all T (see backward_blocks).
BLOCK_BYTES = 4 << 20


def backward_blocks(T, step_bytes):
    """Blocks of consecutive steps for a backward pass through time, the last block
    first: (steps, [(t0, t1), ...]), each block of at most ``steps`` steps of
    ``step_bytes`` bytes each: BLOCK_BYTES in all and an eighth of T (rounded up), at
    least one step.

    The backward kernels write each step's gradient into a block buffer and hand each
    full block to the caller, which adds its share of the weight gradients (sums over
    t) and writes its dx. A block holds an eighth of what a (T, B, G) gradient array
    would, and is still in the processor's cache when the products read it. The block
    came first as a cure for page faults: an array of all steps beside the cache's
    gates of the same size took a train step's new memory past glibc's trim
    threshold, so every step gave the heap back to the OS and page-faulted it in again
    (~2,000 faults per float32 LSTM step at T=200, B=64, H=128). The pool
    (kernels/pool.py) now keeps large arrays' memory from step to step anyway.
    An empty batch (B = 0) has steps of 0 bytes: then the eighth of T alone counts.
    """
    steps = max(1, min(-(-T // 8), BLOCK_BYTES // max(step_bytes, 1)))
    return steps, [(max(t1 - steps, 0), t1) for t1 in range(T, 0, -steps)]


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


def launch(kernel, config, *args):
    """``kernel[config](*args)``, the launch of every CUDA wrapper, unless config's grid
    has no blocks: an empty batch (B = 0 sequences, no rows) has nothing to compute,
    and CUDA refuses a grid of zero blocks ("invalid configuration argument"; the
    simulator would run it, silently)."""
    grid = config[0]
    if math.prod(grid if isinstance(grid, tuple) else (grid,)):
        kernel[config](*args)


@cuda.jit(device=True)
def state_gradient_gpu(da_t, W_hT, b, k):
    """(da_t W_h^T)[b, k]: the CUDA form of each cell's g = da_t W_h^T, with W_h^T
    (G, H) stored so that the threads of a warp (consecutive k) read consecutive words."""
    s = constant(0.0, da_t[b, 0])
    for n in range(W_hT.shape[0]):
        s += da_t[b, n] * W_hT[n, k]
    return s


def to_device(*arrays):
    """The arrays copied to the GPU, C-contiguous (a strided view is copied first):
    the host-to-device transfers of every CUDA wrapper."""
    return tuple(cuda.to_device(np.ascontiguousarray(a)) for a in arrays)


def require_gpu():
    if not cuda.is_available():
        raise RuntimeError("device='cuda' needs an NVIDIA GPU with the 'cuda' extra "
                           "(pip install 'minirnn[cuda]'); without one, run the CUDA "
                           "kernels in the simulator with NUMBA_ENABLE_CUDASIM=1, or use "
                           "device='cpu'")
