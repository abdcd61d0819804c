import numpy as np

from minirnn import gradcheck


def test_numerical_gradient_of_a_known_function(rng):
    x = rng.standard_normal((3, 2))
    num = gradcheck.numerical_gradient(lambda: float(np.sum(np.sin(x) * x)), x)
    assert np.allclose(num, np.cos(x) * x + np.sin(x), rtol=1e-8, atol=1e-10)


def test_check_flags_a_wrong_gradient(rng):
    w = rng.standard_normal(5)

    def right():
        return float((w ** 3).sum()), {"w": 3 * w ** 2}

    def wrong():                                          # a classic slip: factor missing
        return float((w ** 3).sum()), {"w": w ** 2}
    assert gradcheck.check(right, {"w": w})["w"] < 1e-8
    assert gradcheck.check(wrong, {"w": w})["w"] > 0.1
    lines, ok = gradcheck.report(gradcheck.check(wrong, {"w": w}), 1e-6)
    assert not ok and "FAIL" in lines[0]


def test_rel_error_is_normwise():
    assert gradcheck.rel_error([1.0, 1e-12], [1.0, 2e-12]) < 1e-11
    assert gradcheck.rel_error([1.0, 0.0], [0.0, 1.0]) == 0.5
