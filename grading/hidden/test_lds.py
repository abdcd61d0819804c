"""Graded, hidden: the Kalman filter with unobserved (NaN) rows."""
from minirnn.grade import graded

from grading.test_lds import check_filter, problem


@graded(points=2, visibility="hidden")
def test_missing_rows():
    """missing rows: steps whose y_t is NaN only predict (no update, no likelihood)"""
    check_filter(*problem(2, missing=(2, 4)))
