"""Graded: the echo state network's ridge readout (docs/esn.rst, eq. 6) against the
normal equations solved by np.linalg.solve (tests/reference/esn.py)."""
import numpy as np

from minirnn.grade import check_close, graded
from tests.reference.esn import ridge_normal_equations

S, NX, NU, NY = 40, 6, 2, 3        # rows, state units, inputs, outputs


def problem(seed):
    """States x (S, N), inputs u (S, D) and targets y (S, D_out), correlated like a
    reservoir's: y depends on both, plus noise."""
    rng = np.random.default_rng(seed)
    x, u = np.tanh(rng.standard_normal((S, NX))), rng.standard_normal((S, NU))
    y = x @ rng.standard_normal((NX, NY)) + u @ rng.standard_normal((NU, NY)) + 0.1 * rng.standard_normal((S, NY))
    return x, u, y + 1.0


def check_readout(readout, W, c, inputs):
    """W (D_out, N + D) of the reference split into W_out and W_u, and b_out = c."""
    check_close("W_out (D_out, N)", readout["W_out"], W[:, :NX])
    if inputs:
        check_close("W_u (D_out, D)", readout["W_u"], W[:, NX:])
    check_close("b_out (D_out,)", readout["b_out"], c)


@graded(points=2)
def test_states_only():
    """fit_readout: W_out and b_out (eq. 6) from the states alone, ridge 0.1"""
    from minirnn import esn
    x, _, y = problem(0)
    check_readout(esn.fit_readout(x, y, 0.1), *ridge_normal_equations(x, y, 0.1), inputs=False)


@graded(points=2)
def test_with_inputs():
    """fit_readout: W_out, W_u and b_out (eq. 6) from states and inputs, ridge 0.5"""
    from minirnn import esn
    x, u, y = problem(1)
    check_readout(esn.fit_readout(x, y, 0.5, u), *ridge_normal_equations(np.hstack([x, u]), y, 0.5),
                  inputs=True)
