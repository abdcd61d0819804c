"""The Mackey-Glass delay differential equation, integrated with RK4 (``docs/esn.rst``,
eqs. 8-9)::

    dx/dt = a x(t - tau) / (1 + x(t - tau)^n) - b x(t)                      (8)

with tau = 17, a = 0.2, b = 0.1, n = 10 (chaotic). The delay makes the right-hand side
depend on the past, so the integrator keeps a history buffer of x and dx/dt on its own
grid of step h (tau / h steps long). RK4 needs the delayed value at half steps too,
between two stored points; it is the cubic Hermite interpolant of the two neighbours
and their slopes::

    x(s + h/2) ~ (x(s) + x(s + h)) / 2 + h (x'(s) - x'(s + h)) / 8,          (9)

accurate to O(h^4), as RK4 itself. Before t = 0 the history is ``history`` (constant
x0 = 1.2 by default, so x' = 0 there). The series is sampled every ``sample_every``
time units (1 by default, as in reservoirpy's ``mackey_glass``).
"""
import numpy as np


def rhs(x, x_tau, a, b, n):
    """dx/dt of eq. (8) given the current and the delayed value."""
    return a * x_tau / (1.0 + x_tau ** n) - b * x


def rk4_step(x, x_tau, x_tau_half, x_tau_next, h, a, b, n):
    """One classical RK4 step of eq. (8): the delayed values at the start, the middle
    and the end of the step come from the history buffer."""
    k1 = rhs(x, x_tau, a, b, n)
    k2 = rhs(x + h / 2 * k1, x_tau_half, a, b, n)
    k3 = rhs(x + h / 2 * k2, x_tau_half, a, b, n)
    k4 = rhs(x + h * k3, x_tau_next, a, b, n)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def mackey_glass(n_samples, tau=17.0, a=0.2, b=0.1, n=10, x0=1.2, h=0.1, sample_every=1.0,
                 history=None):
    """x(t) at t = 0, sample_every, 2 sample_every, ... : (n_samples,) float64.

    ``h`` is the RK4 step; tau / h and sample_every / h must be whole numbers.
    ``history`` (tau / h + 1 values) is x on [-tau, 0] at step h, ending with x(0);
    by default x0 throughout. Raises ValueError for a step that does not divide tau.
    """
    lag, stride = _whole(tau / h, "tau / h"), _whole(sample_every / h, "sample_every / h")
    if n_samples < 1:
        raise ValueError(f"n_samples: expected at least 1, got {n_samples}")
    steps = (n_samples - 1) * stride
    x = np.empty(lag + 1 + steps)           # x[k] = x(t_k), t_k = (k - lag) h; x[lag] = x(0)
    if history is None:
        x[:lag + 1] = x0
    else:
        history = np.asarray(history, np.float64)
        if history.shape != (lag + 1,) or not np.isfinite(history).all():
            raise ValueError(f"history: expected {lag + 1} finite values (x on [-tau, 0] "
                             f"at step h), got shape {history.shape}")
        x[:lag + 1] = history
    dx = np.empty_like(x)                   # x'(t_k), for the Hermite midpoints
    dx[:lag + 1] = np.gradient(x[:lag + 1], h)
    # x' jumps at t = 0 from the history's slope to the equation's: the interval
    # [0, h] starts with the latter, the interval [-h, 0] ends with the former.
    dx_after_0 = rhs(x[lag], x[0], a, b, n)
    for k in range(lag, lag + steps):
        d0, d1 = x[k - lag], x[k - lag + 1]
        slope0 = dx_after_0 if k == 2 * lag else dx[k - lag]
        half = (d0 + d1) / 2 + h * (slope0 - dx[k - lag + 1]) / 8          # eq. (9)
        x[k + 1] = rk4_step(x[k], d0, half, d1, h, a, b, n)
        dx[k + 1] = rhs(x[k + 1], d1, a, b, n)
    return x[lag::stride].copy()


def _whole(ratio, name):
    if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
        raise ValueError(f"{name} must be a positive whole number, got {ratio:g}")
    return int(round(ratio))
