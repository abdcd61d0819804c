"""Graded, hidden: the bidirectional layer on another draw, gradients included."""
from minirnn.grade import check_close, check_gradients, graded, numerical_gradients

from grading.test_birnn import problem, reference, run


@graded(points=1, visibility="hidden")
def test_another_draw():
    """another draw: forward output and every gradient, other weights and inputs"""
    arrays, R = problem(2)
    check_close("out (forward output, shape (T, B, 2H))", run(arrays), reference(arrays))
    numerical = numerical_gradients(lambda: float((reference(arrays) * R).sum()), arrays)
    check_gradients(run(arrays, R), numerical)
