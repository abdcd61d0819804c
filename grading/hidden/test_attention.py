"""Graded, hidden: causal self-attention."""
from functools import partial

from minirnn.grade import graded

from grading.cells import check_backward, check_forward
from grading.test_attention import problem, reference, run


@graded(points=2, visibility="hidden")
def test_causal():
    """causal: query i sees keys j <= i only; forward and gradients"""
    arrays, R = problem(2, Tq=5)
    check_forward(partial(run, causal=True), partial(reference, causal=True), arrays,
                  name="o (Tq, B, d_v)")
    check_backward(partial(run, causal=True), partial(reference, causal=True), arrays, R)
