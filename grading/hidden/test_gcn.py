"""Graded, hidden: the gradient of the GCN's input features."""
from minirnn.grade import check_gradients, graded, numerical_gradients

from grading.test_gcn import problem, reference, run


@graded(points=2, visibility="hidden")
def test_features_gradient():
    """backward: dL/dX against finite differences of the dense loss"""
    arrays = problem(2)
    numerical = numerical_gradients(lambda: reference(arrays)[0], {"X": arrays["X"]})
    check_gradients(run(arrays)[1], numerical)
