"""What the graded tests of the recurrent cells (Elman, LSTM, GRU) share: a small
float64 problem over a padded batch, and its two checks. The parameters are drawn
here from their shapes, not by the submission's ``init``.

A graded test module imports the concept inside its tests, never at the top: a
submission that does not even import then fails its own tests and nothing else.
"""
import numpy as np

from minirnn.grade import check_close, check_gradients, numerical_gradients

LENGTHS = np.array([5, 2, 0])          # a full sequence, a short one, an empty one
T, D, H = 5, 3, 4


def problem(seed, shapes, states):
    """Arrays {parameter: N(0, 0.25), x (T, B, D), each state (B, H)} and the weights
    R (T, B, H) of the loss L = sum_t <h_t, R_t>."""
    rng = np.random.default_rng(seed)
    B = len(LENGTHS)
    arrays = {name: 0.5 * rng.standard_normal(shape) for name, shape in shapes.items()}
    arrays["x"] = rng.standard_normal((T, B, D))
    arrays.update({name: 0.5 * rng.standard_normal((B, H)) for name in states})
    return arrays, rng.standard_normal((T, B, H))


def check_forward(run, reference, arrays, name="h (forward output, shape (T, B, H))"):
    """The output of the submission's ``run(arrays)`` against ``reference(arrays)``."""
    check_close(name, run(arrays), reference(arrays))


def check_backward(run, reference, arrays, R):
    """Every gradient of ``run(arrays, R)`` (a dict: the parameters, the inputs and the
    initial states) against centred differences of the reference's L = sum <out, R>."""
    numerical = numerical_gradients(lambda: float((reference(arrays) * R).sum()), arrays)
    check_gradients(run(arrays, R), numerical)
