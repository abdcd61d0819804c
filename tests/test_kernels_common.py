"""kernels/common.py's tanh and sigmoid (the ones CPU kernels call) against NumPy's,
and the Chebyshev economisation of their polynomial against NumPy's Chebyshev series;
constant and flush keep float32 arithmetic float32."""
import math

import numba
import numpy as np
import pytest
from numba import njit

from minirnn.kernels.common import (FAST, _chebyshev, _economise, constant, flush,
                                    previous_state_gradient, sigmoid, tanh)


@njit(**FAST)
def _tanh_all(x, out):
    for k in range(x.size):
        out[k] = tanh(x[k])


@njit(**FAST)
def _sigmoid_all(x, out):
    for k in range(x.size):
        out[k] = sigmoid(x[k])


def ulps(got, want, dtype):
    """|got - want| in units of the last place of want (in dtype)."""
    spacing = np.spacing(np.maximum(np.abs(want), np.finfo(dtype).tiny).astype(dtype))
    return np.abs(got.astype(np.float64) - want) / spacing


def grid(dtype):
    """Dense over the range where tanh is not yet +-1, log-spaced near 0, and beyond."""
    small = np.geomspace(np.finfo(dtype).tiny, 1, 20_001)
    x = np.concatenate([np.linspace(-25, 25, 200_001), small, -small, [0.0, 1e30, -1e30]])
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_within_4_ulp_of_numpy(dtype):
    x = grid(dtype)
    got = np.empty_like(x)
    _tanh_all(x, got)
    assert got.dtype == dtype
    assert ulps(got, np.tanh(x.astype(np.float64)), dtype).max() <= 4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_matches_its_definition(dtype):
    x = grid(dtype)
    got = np.empty_like(x)
    _sigmoid_all(x, got)
    with np.errstate(over="ignore"):                  # e^{-x} = inf gives sigma = 0
        want = 1 / (1 + np.exp(-x.astype(np.float64)))
    assert np.abs(got - want).max() <= 4 * np.finfo(dtype).eps


def test_special_values():
    x = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0])
    t, s = np.empty_like(x), np.empty_like(x)
    _tanh_all(x, t)
    _sigmoid_all(x, s)
    assert np.array_equal(t[:2], [1.0, -1.0]) and np.isnan(t[2]) and np.all(t[3:] == 0)
    assert np.array_equal(s[:2], [1.0, 0.0]) and np.isnan(s[2]) and np.all(s[3:] == 0.5)


def test_chebyshev_polynomials_are_cos_n_arccos():
    u = np.linspace(-1, 1, 201)
    for n in range(10):
        want = np.cos(n * np.arccos(u))
        assert np.allclose(np.polynomial.polynomial.polyval(u, _chebyshev(n)), want, atol=1e-12)


@pytest.mark.parametrize("degree", [3, 6, 8])
def test_economisation_is_the_truncated_chebyshev_series(degree):
    """Economising p(s) on |s| <= rho to degree d keeps the first d + 1 terms of its
    Chebyshev series in u = s / rho: converted by NumPy, truncated, converted back."""
    rho, p = 0.4, [1 / math.factorial(k) for k in range(12)]          # e^s to degree 11
    in_u = np.array(p) * rho ** np.arange(12)                           # p(rho u)
    series = np.polynomial.chebyshev.poly2cheb(in_u)[:degree + 1]
    want = np.polynomial.chebyshev.cheb2poly(series) / rho ** np.arange(degree + 1)
    got = np.array([float(c) for c in _economise(p, rho, degree)])
    assert np.allclose(got, want, rtol=1e-12, atol=1e-15)
    s = np.linspace(-rho, rho, 101)                                     # and stays close to e^s
    dropped = np.abs(np.polynomial.chebyshev.poly2cheb(in_u)[degree + 1:]).sum()
    assert np.abs(np.polynomial.polynomial.polyval(s, got) - np.exp(s)).max() <= dropped + 1e-12


def test_python_call_says_where_it_belongs():
    with pytest.raises(TypeError, match="np.tanh"):
        tanh(0.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_constant_and_flush_keep_the_precision_of_their_argument(dtype):
    """Numba types a literal 1.0 as float64: constant(c, x) is c in x's type, in kernels
    and in plain Python (as under the CUDA simulator), and flush returns v's type."""
    one_minus = njit(lambda x: constant(1.0, x) - x)
    flushed = njit(lambda v, tiny: flush(v, tiny))
    x = dtype(0.25)
    assert one_minus(x) == 0.75 and flushed(x, dtype(1)) == 0 and flushed(x, dtype(0.1)) == x
    for kernel in (one_minus, flushed):
        assert kernel.nopython_signatures[0].return_type == numba.from_dtype(np.dtype(dtype))
    assert type(constant(1.0, x)) is dtype


@pytest.mark.parametrize("T", [1, 4])
def test_previous_state_gradient_is_the_sum_over_steps(rng, T):
    """sum_t h_{t-1}^T d_t with h_{-1} = h0, term by term."""
    h0, h, d = (rng.standard_normal(shape) for shape in ((3, 2), (T, 3, 2), (T, 3, 5)))
    want = sum((h[t - 1] if t else h0).T @ d[t] for t in range(T))
    assert np.allclose(previous_state_gradient(h0, h, d), want, rtol=1e-12, atol=1e-12)
