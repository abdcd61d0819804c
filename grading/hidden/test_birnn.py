"""Graded, hidden: the bidirectional layer on another draw, gradients included, with
ReLU cells: an option that must reach both directions' cells."""
from functools import partial

from minirnn.grade import graded

from grading.cells import check_backward, check_forward
from grading.test_birnn import OUT, problem, reference, run


@graded(points=1, visibility="hidden")
def test_another_draw():
    """another draw, ReLU cells: forward output and every gradient, the cell option
    passed on to both directions"""
    arrays, R = problem(2)
    check_forward(partial(run, relu=True), partial(reference, relu=True), arrays, OUT)
    check_backward(partial(run, relu=True), partial(reference, relu=True), arrays, R)
