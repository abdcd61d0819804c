"""Graded, hidden: the Elman RNN with the ReLU nonlinearity."""
from functools import partial

from minirnn.grade import graded

from grading.cells import check_backward, check_forward, problem
from grading.test_elman import SHAPES, reference, run


@graded(points=2, visibility="hidden")
def test_relu():
    """relu: forward and every gradient with nonlinearity="relu\""""
    arrays, R = problem(2, SHAPES, ["h0"])
    check_forward(partial(run, nonlinearity="relu"), partial(reference, relu=True), arrays)
    check_backward(partial(run, nonlinearity="relu"), partial(reference, relu=True), arrays, R)
