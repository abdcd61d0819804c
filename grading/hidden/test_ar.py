"""Graded, hidden: AR(p) at a higher order than the series has."""
from minirnn.grade import graded

from grading.test_ar import check_fit, series


@graded(points=1, visibility="hidden")
def test_higher_order():
    """higher order: p = 6 on an AR(2) series, the extra lags fitted too"""
    check_fit(series(2, T=80), 6)
