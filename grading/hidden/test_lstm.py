"""Graded, hidden: the LSTM with peephole connections."""
from minirnn.grade import graded

from grading.cells import check_backward, check_forward, problem
from grading.test_lstm import PEEPHOLES, STATES, reference, run


@graded(points=2, visibility="hidden")
def test_peepholes():
    """peepholes: forward and every gradient, p_i, p_f, p_o included (eq. 2)"""
    arrays, R = problem(2, PEEPHOLES, STATES)
    check_forward(run, reference, arrays)
    check_backward(run, reference, arrays, R)
