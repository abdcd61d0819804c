"""Graded, hidden: the readout without a penalty is ordinary least squares."""
import numpy as np

from minirnn.grade import graded

from grading.test_esn import check_readout, problem


@graded(points=2, visibility="hidden")
def test_least_squares():
    """fit_readout with ridge 0: ordinary least squares (np.linalg.lstsq)"""
    from minirnn import esn
    x, u, y = problem(2)
    design = np.hstack([x, u, np.ones((len(x), 1))])
    theta = np.linalg.lstsq(design, y, rcond=None)[0]
    check_readout(esn.fit_readout(x, y, 0.0, u), theta[:-1].T, theta[-1], inputs=True)
