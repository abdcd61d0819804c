"""Graded: the GRU (docs/gru.rst) against the NumPy loop of tests/reference/gru.py and
finite differences of it."""
from minirnn.grade import graded
from tests.reference.gru import gru_forward

from grading.cells import D, H, LENGTHS, check_backward, check_forward, problem


def shapes(variant):
    """b_h has a block for the candidate only when r applies after W_hn."""
    return {"W_x": (D, 3 * H), "W_h": (H, 3 * H), "b_x": (3 * H,),
            "b_h": ((3 if variant == "after" else 2) * H,)}


def run(arrays, R=None, variant="after"):
    """The submission's h, or with R its gradients of L = sum <h, R>."""
    from minirnn import gru
    params = {k: arrays[k] for k in shapes(variant)}
    h, cache = gru.forward(params, arrays["x"], arrays["h0"], LENGTHS, variant)
    if R is None:
        return h
    dx, dh0, grads = gru.backward(R, cache)
    return {**grads, "x": dx, "h0": dh0}


def reference(arrays, variant="after"):
    return gru_forward(arrays, arrays["x"], arrays["h0"], LENGTHS, variant)


@graded(points=2)
def test_forward():
    """forward: h_t of eqs. (1)-(3), (5)-(6), r after W_hn (PyTorch's variant), padded batch"""
    arrays, _ = problem(0, shapes("after"), ["h0"])
    check_forward(run, reference, arrays)


@graded(points=3)
def test_backward():
    """backward: every gradient of BPTT (eqs. 7-9, 11-12) against finite differences"""
    arrays, R = problem(1, shapes("after"), ["h0"])
    check_backward(run, reference, arrays, R)
