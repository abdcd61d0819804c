"""Mackey-Glass generator: the RK4 step in closed form on a linear equation, the delay
buffer against solutions of the first two delay intervals (closed form, then SciPy's
solve_ivp by the method of steps), and reservoirpy's series."""
import numpy as np
import pytest

from minirnn.data.mackey_glass import mackey_glass, rk4_step

TAU, A, B, N, X0 = 17.0, 0.2, 0.1, 10, 1.2


def test_rk4_step_is_the_fourth_order_taylor_polynomial_on_a_linear_equation():
    """With a = 0, dx/dt = -b x and one RK4 step multiplies x by sum_k (-bh)^k / k!, k <= 4."""
    h, x = 0.7, 1.3
    z = -B * h
    assert rk4_step(x, 0.5, 0.6, 0.7, h, 0.0, B, N) == pytest.approx(
        x * (1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24), rel=1e-15)


def test_linear_decay_follows_the_exponential():
    x = mackey_glass(50, a=0.0)
    assert np.allclose(x, X0 * np.exp(-B * np.arange(50)), rtol=1e-9)


def delayed_drive(x_tau):
    return A * x_tau / (1 + x_tau**N)


def first_interval(t):
    """On [0, tau] the delayed value is the constant history: dx/dt = c - b x."""
    c = delayed_drive(X0)
    return c / B + (X0 - c / B) * np.exp(-B * t)


def test_first_delay_interval_matches_the_closed_form():
    """Up to RK4's own truncation error, (bh)^5 / 120 ~ 1e-13 per step of h = 0.1."""
    x = mackey_glass(18)
    assert np.allclose(x, first_interval(np.arange(18.0)), rtol=1e-10, atol=0)


def test_second_delay_interval_matches_the_method_of_steps():
    """On [tau, 2 tau] the delayed value is the first interval's closed form; the
    remaining ODE is solved by SciPy to 1e-12. RK4 with h = 0.1 and the Hermite
    midpoints of the history agree to O(h^4)."""
    integrate = pytest.importorskip("scipy.integrate")
    sol = integrate.solve_ivp(lambda t, x: delayed_drive(first_interval(t - TAU)) - B * x,
                              (TAU, 2 * TAU), [first_interval(TAU)], method="DOP853",
                              rtol=1e-12, atol=1e-14, dense_output=True)
    t = np.arange(17, 35)
    x = mackey_glass(35)
    assert np.allclose(x[t], sol.sol(t)[0], rtol=0, atol=1e-8)
    coarse = mackey_glass(35, h=0.5)        # the error shrinks as h^4
    err_fine, err_coarse = (np.abs(s[t] - sol.sol(t)[0]).max() for s in (x, coarse))
    assert err_coarse / err_fine > 100


def test_same_attractor_as_reservoirpy():
    """reservoirpy's mackey_glass uses a different discretisation (and a random
    history), so the series differ point by point; their range, mean, spread and
    quasi-period agree."""
    datasets = pytest.importorskip("reservoirpy.datasets")
    ours, theirs = mackey_glass(2000), datasets.mackey_glass(2000)[:, 0]

    def period(s):
        c = np.correlate(s - s.mean(), s - s.mean(), "full")[len(s) - 1:]
        first_negative = np.argmax(c < 0)
        return first_negative + np.argmax(c[first_negative:first_negative + 100])

    for stat in (np.min, np.max, np.mean, np.std):
        assert stat(ours) == pytest.approx(stat(theirs), rel=0.02)
    assert abs(period(ours) - period(theirs)) <= 5


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="tau / h must be a positive whole number"):
        mackey_glass(10, h=0.3)
    with pytest.raises(ValueError, match="history: expected 171 finite values"):
        mackey_glass(10, history=np.ones(5))
    with pytest.raises(ValueError, match="n_samples: expected at least 1"):
        mackey_glass(0)
