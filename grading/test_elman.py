"""Graded: the Elman RNN (docs/elman.rst) against the NumPy loop of
tests/reference/elman.py and finite differences of it."""
from minirnn.grade import graded
from tests.reference.elman import elman_forward

from grading.cells import D, H, LENGTHS, check_backward, check_forward, problem

SHAPES = {"W_x": (D, H), "W_h": (H, H), "b": (H,)}


def run(arrays, R=None, nonlinearity="tanh"):
    """The submission's h, or with R its gradients of L = sum <h, R>."""
    from minirnn import elman
    params = {k: arrays[k] for k in SHAPES}
    h, cache = elman.forward(params, arrays["x"], arrays["h0"], LENGTHS, nonlinearity)
    if R is None:
        return h
    dx, dh0, grads = elman.backward(R, cache)
    return {**grads, "x": dx, "h0": dh0}


def reference(arrays, relu=False):
    return elman_forward(*(arrays[k] for k in SHAPES), arrays["x"], arrays["h0"], LENGTHS, relu)


@graded(points=2)
def test_forward():
    """forward: h_t of eqs. (1)-(3) over a padded batch (lengths 5, 2, 0)"""
    arrays, _ = problem(0, SHAPES, ["h0"])
    check_forward(run, reference, arrays)


@graded(points=3)
def test_backward():
    """backward: every gradient of BPTT (eqs. 4-7) against finite differences"""
    arrays, R = problem(1, SHAPES, ["h0"])
    check_backward(run, reference, arrays, R)
