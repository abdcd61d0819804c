"""Graded: scaled dot-product attention (docs/attention.rst) against the NumPy loop of
tests/reference/attention.py and finite differences of it."""
import numpy as np

from minirnn.grade import check_close, graded
from tests.reference.attention import dot_product

from grading.cells import check_backward, check_forward

LENGTHS = np.array([5, 2, 0])            # keys per batch row; the last row has none


def problem(seed, Tq=4, Tk=5, d=4, d_v=3):
    """q (Tq, B, d), k (Tk, B, d), v (Tk, B, d_v) and the weights R (Tq, B, d_v) of
    L = sum <o, R>."""
    rng = np.random.default_rng(seed)
    B = len(LENGTHS)
    arrays = {"q": rng.standard_normal((Tq, B, d)), "k": rng.standard_normal((Tk, B, d)),
              "v": rng.standard_normal((Tk, B, d_v))}
    return arrays, rng.standard_normal((Tq, B, d_v))


def run(arrays, R=None, causal=False):
    """The submission's o, or with R its gradients of L = sum <o, R>."""
    from minirnn import attention
    out, _, cache = attention.dot_product_forward(arrays["q"], arrays["k"], arrays["v"],
                                                  LENGTHS, causal)
    if R is None:
        return out
    return dict(zip("qkv", attention.dot_product_backward(R, cache)))


def reference(arrays, causal=False):
    return dot_product(arrays["q"], arrays["k"], arrays["v"], LENGTHS, causal)[0]


@graded(points=2)
def test_forward():
    """forward: weights A (eqs. 1-3) and output o (eq. 4), key lengths 5, 2, 0"""
    from minirnn import attention
    arrays, _ = problem(0)
    out, A, _ = attention.dot_product_forward(arrays["q"], arrays["k"], arrays["v"], LENGTHS)
    want_out, want_A = dot_product(arrays["q"], arrays["k"], arrays["v"], LENGTHS)
    check_close("A (B, Tq, Tk), 0 on masked keys", A, want_A)
    check_close("o (Tq, B, d_v)", out, want_out)


@graded(points=3)
def test_backward():
    """backward: dq, dk, dv (eqs. 5-7) against finite differences"""
    arrays, R = problem(1)
    check_backward(run, reference, arrays, R)
