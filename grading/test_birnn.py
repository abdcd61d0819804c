"""Graded: a bidirectional Elman layer (docs/birnn.rst) against sequences reversed by
loops here, run through the NumPy loop of tests/reference/elman.py, and finite
differences of that."""
import numpy as np

from minirnn.grade import check_close, graded
from tests.reference.elman import elman_forward

from grading.cells import D, H, LENGTHS, T, check_backward, check_forward

DIRS = ("fwd", "bwd")
OUT = "out (forward output, shape (T, B, 2H))"


def reverse(x, lengths):
    """Each sequence's first lengths[n] steps reversed, its padding left in place."""
    out = x.copy()
    for n, length in enumerate(lengths):
        out[:length, n] = x[:length, n][::-1]
    return out


def problem(seed):
    rng = np.random.default_rng(seed)
    B = len(LENGTHS)
    arrays = {f"l0.{d}/{name}": 0.5 * rng.standard_normal(shape) for d in DIRS
              for name, shape in (("W_x", (D, H)), ("W_h", (H, H)), ("b", (H,)))}
    arrays["x"] = rng.standard_normal((T, B, D))
    return arrays, rng.standard_normal((T, B, 2 * H))


def reference(arrays, relu=False):
    """[h_fwd | rho(h over rho(x))], eqs. (1)-(3), from zero initial states."""
    x, zeros = arrays["x"], np.zeros((len(LENGTHS), H))
    cell = {d: [arrays[f"l0.{d}/{k}"] for k in ("W_x", "W_h", "b")] for d in DIRS}
    h_fwd = elman_forward(*cell["fwd"], x, zeros, LENGTHS, relu)
    h_bwd = elman_forward(*cell["bwd"], reverse(x, LENGTHS), zeros, LENGTHS, relu)
    return np.concatenate([h_fwd, reverse(h_bwd, LENGTHS)], axis=2)


def run(arrays, R=None, relu=False):
    """The submission's output, or with R its gradients of L = sum <out, R>; relu is
    a cell option, which birnn must pass on to both directions' cells."""
    from minirnn import birnn, elman
    params = {k: v for k, v in arrays.items() if k != "x"}
    out, cache = birnn.forward(params, elman, arrays["x"], LENGTHS,
                               nonlinearity="relu" if relu else "tanh")
    if R is None:
        return out
    dx, grads = birnn.backward(R, cache)
    return {**grads, "x": dx}


@graded(points=1)
def test_reverse():
    """reverse: each sequence reversed within its length, padding in place (eq. 1)"""
    from minirnn import birnn
    x = np.arange(T * len(LENGTHS) * 2, dtype=float).reshape(T, len(LENGTHS), 2)
    check_close("reverse_within_lengths(x, lengths)", birnn.reverse_within_lengths(x, LENGTHS),
                reverse(x, LENGTHS))


@graded(points=2)
def test_forward():
    """forward: [forward | backward] states of a bidirectional layer (eqs. 2-3)"""
    arrays, _ = problem(0)
    check_forward(run, reference, arrays, OUT)


@graded(points=2)
def test_backward():
    """backward: dx and every cell's gradients (eq. 6) against finite differences"""
    arrays, R = problem(1)
    check_backward(run, reference, arrays, R)
