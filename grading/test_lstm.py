"""Graded: the LSTM (docs/lstm.rst) against the NumPy loop of tests/reference/lstm.py
and finite differences of it."""
from minirnn.grade import graded
from tests.reference.lstm import lstm_forward

from grading.cells import D, H, LENGTHS, check_backward, check_forward, problem

SHAPES = {"W_x": (D, 4 * H), "W_h": (H, 4 * H), "b": (4 * H,)}
PEEPHOLES = {**SHAPES, "p_i": (H,), "p_f": (H,), "p_o": (H,)}
STATES = ["h0", "c0"]


def run(arrays, R=None):
    """The submission's h, or with R its gradients of L = sum <h, R>; peepholes when
    arrays has them."""
    from minirnn import lstm
    params = {k: arrays[k] for k in PEEPHOLES if k in arrays}
    h, cache = lstm.forward(params, arrays["x"], arrays["h0"], arrays["c0"], LENGTHS)
    if R is None:
        return h
    dx, dh0, dc0, grads = lstm.backward(R, cache)
    return {**grads, "x": dx, "h0": dh0, "c0": dc0}


def reference(arrays):
    return lstm_forward(arrays, arrays["x"], arrays["h0"], arrays["c0"], LENGTHS)


@graded(points=2)
def test_forward():
    """forward: h_t of eqs. (1)-(5) over a padded batch (lengths 5, 2, 0)"""
    arrays, _ = problem(0, SHAPES, STATES)
    check_forward(run, reference, arrays)


@graded(points=3)
def test_backward():
    """backward: every gradient of BPTT (eqs. 7-13) against finite differences"""
    arrays, R = problem(1, SHAPES, STATES)
    check_backward(run, reference, arrays, R)
