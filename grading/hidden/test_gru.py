"""Graded, hidden: the GRU variant of Cho et al. (r before W_hn)."""
from functools import partial

from minirnn.grade import graded

from grading.cells import check_backward, check_forward, problem
from grading.test_gru import reference, run, shapes


@graded(points=2, visibility="hidden")
def test_variant_before():
    """variant="before": forward and every gradient with r applied before W_hn"""
    arrays, R = problem(2, shapes("before"), ["h0"])
    check_forward(partial(run, variant="before"), partial(reference, variant="before"), arrays)
    check_backward(partial(run, variant="before"), partial(reference, variant="before"), arrays, R)
