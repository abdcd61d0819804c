"""Graded, hidden: the bidirectional layer on another draw, gradients included."""
from minirnn.grade import graded

from grading.cells import check_backward, check_forward
from grading.test_birnn import OUT, problem, reference, run


@graded(points=1, visibility="hidden")
def test_another_draw():
    """another draw: forward output and every gradient, other weights and inputs"""
    arrays, R = problem(2)
    check_forward(run, reference, arrays, OUT)
    check_backward(run, reference, arrays, R)
