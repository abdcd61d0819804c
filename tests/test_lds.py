"""The LDS against closed forms, the textbook filter, the joint Gaussian and pykalman."""
import numpy as np
import pytest

from minirnn import lds
from tests.reference import lds as ref


def random_params(rng, n=3, m=2, dtype=np.float64):
    """A stable random LDS with full-rank covariances."""
    A = rng.standard_normal((n, n))
    F = 0.95 * A / np.abs(np.linalg.eigvals(A)).max()
    B, C, D = (rng.standard_normal((k, k)) for k in (n, m, n))
    p = {"F": F, "H": rng.standard_normal((m, n)), "Q": B @ B.T / n + 0.1 * np.eye(n),
         "R": C @ C.T / m + 0.2 * np.eye(m), "mu0": rng.standard_normal(n),
         "P0": D @ D.T / n + 0.5 * np.eye(n)}
    return {k: v.astype(dtype) for k, v in p.items()}


def data(rng, p, T, missing=(2, 5)):
    _, y = lds.sample(p, T, rng)
    y[list(missing)] = np.nan
    return y


def rel(a, b):
    return np.abs(np.asarray(a) - b).max() / np.abs(b).max()


# --------------------------------------------------------------------- closed forms

def test_scalar_random_walk_reaches_the_steady_state_riccati_solution():
    """F = H = 1: the prior variance P solves P = P - P^2 / (P + r) + q, so
    P = (q + sqrt(q^2 + 4 q r)) / 2, K = P / (P + r) and P_{t|t} = K r."""
    q, r = 0.3, 2.0
    p = {k: np.array(v, float) for k, v in
         dict(F=[[1.0]], H=[[1.0]], Q=[[q]], R=[[r]], mu0=[0.0], P0=[[10.0]]).items()}
    y = np.random.default_rng(0).standard_normal((200, 1))
    _, P, _ = lds.filter(p, y)
    P_prior = (q + np.sqrt(q * q + 4 * q * r)) / 2
    assert P[-1, 0, 0] == pytest.approx(P_prior / (P_prior + r) * r, rel=1e-12)


def test_log_likelihood_equals_the_stacked_gaussian(rng):
    p = random_params(rng)
    y = data(rng, p, 8)
    assert lds.filter(p, y)[2] == pytest.approx(ref.log_likelihood(p, y), rel=1e-12)


def test_filter_equals_the_textbook_filter_with_missing_rows(rng):
    p = random_params(rng, n=4, m=2)
    y = data(rng, p, 60, missing=(0, 5, 6, 59))
    mu, P, ll = lds.filter(p, y)
    mu_ref, P_ref, ll_ref = ref.kalman_filter(p, y)
    assert rel(mu, mu_ref) < 1e-12 and rel(P, P_ref) < 1e-12
    assert ll == pytest.approx(ll_ref, rel=1e-12)
    assert np.array_equal(P, P.transpose(0, 2, 1))        # Joseph update kept symmetric


def test_smoother_equals_conditioning_the_joint_gaussian(rng):
    p = random_params(rng)
    y = data(rng, p, 7)
    mu_s, P_s, P_lag = lds.smooth(p, *lds.filter(p, y)[:2])
    mu_ref, C = ref.smoothed(p, y)
    n = p["F"].shape[0]
    block = lambda s, t: C[s * n:(s + 1) * n, t * n:(t + 1) * n]    # noqa: E731
    assert rel(mu_s, mu_ref) < 1e-10
    assert rel(P_s, np.array([block(t, t) for t in range(len(y))])) < 1e-10
    assert rel(P_lag, np.array([block(t + 1, t) for t in range(len(y) - 1)])) < 1e-10


def deterministic_params(F, Q, P0):
    """n = 2, m = 1 with the given F, Q, P0: partly deterministic dynamics."""
    p = dict(F=F, H=[[1.0, 0.5]], Q=Q, R=[[0.3]], mu0=[1.0, -1.0], P0=P0)
    return {k: np.array(v, float) for k, v in p.items()}


@pytest.mark.parametrize("F, Q, P0", [
    (0.9 * np.eye(2), np.zeros((2, 2)), np.zeros((2, 2))),       # state known exactly
    ([[0.9, 0.0], [0.0, 0.0]], np.zeros((2, 2)), np.eye(2)),     # singular F, no noise
    ([[0.6, 0.3], [0.6, 0.3]], np.zeros((2, 2)), np.eye(2)),     # rank-one F, no noise
    ([[0.8, -0.6], [0.6, 0.8]], np.zeros((2, 2)), [[1.0, 0.0], [0.0, 0.0]]),  # rank-one P0
], ids=["Q=P0=0", "singular-F", "rank-one-F", "rank-one-P0"])
def test_smoother_with_a_singular_predicted_covariance_conditions_the_joint_gaussian(
        rng, F, Q, P0):
    """P_{t+1|t} singular (Q = 0 and P0 or F rank-deficient): the smoother gain uses the
    pseudo-inverse and still equals conditioning the joint Gaussian, whose observation
    covariance stays invertible because R is positive definite."""
    p = deterministic_params(F, Q, P0)
    y = rng.standard_normal((6, 1))
    y[3] = np.nan
    mu_f, P_f, ll = lds.filter(p, y)
    assert ll == pytest.approx(ref.log_likelihood(p, y), rel=1e-12)
    mu_s, P_s, P_lag = lds.smooth(p, mu_f, P_f)
    mu_ref, C = ref.smoothed(p, y)
    block = lambda s, t: C[2 * s:2 * s + 2, 2 * t:2 * t + 2]      # noqa: E731
    assert np.abs(mu_s - mu_ref).max() < 1e-12
    assert np.abs(P_s - [block(t, t) for t in range(6)]).max() < 1e-12
    assert np.abs(P_lag - [block(t + 1, t) for t in range(5)]).max() < 1e-12


def test_batch_equals_each_sequence_alone(rng):
    p = random_params(rng)
    y = np.stack([data(rng, p, 20, missing) for missing in [(), (3,), (0, 19)]], axis=1)
    mu, P, ll = lds.filter(p, y)
    for b in range(3):
        mu_b, P_b, ll_b = lds.filter(p, np.ascontiguousarray(y[:, b]))
        assert np.array_equal(mu[:, b], mu_b) and np.array_equal(P[:, b], P_b) and ll[b] == ll_b


def test_float32_filter_follows_float64(rng):
    p = random_params(rng)
    y = data(rng, p, 100)
    mu64, P64, ll64 = lds.filter(p, y)
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    mu32, P32, ll32 = lds.filter(p32, y.astype(np.float32))
    assert mu32.dtype == np.float32 and rel(mu32, mu64) < 1e-4 and rel(P32, P64) < 1e-4
    assert ll32 == pytest.approx(ll64, rel=1e-5)


# ------------------------------------------------------------------------- sampling

def test_sample_is_reproducible_and_has_the_model_covariance():
    p = random_params(np.random.default_rng(3), n=2, m=2)
    a = lds.sample(p, 5, np.random.default_rng(7))
    b = lds.sample(p, 5, np.random.default_rng(7))
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    rng = np.random.default_rng(8)
    N = 1500
    ys = np.array([lds.sample(p, 3, rng)[1].ravel() for _ in range(N)])
    mean, cov = ref.joint_gaussian(p, 3)
    y_cov = cov[6:, 6:]                                    # x: 3 steps * n = 2 first
    assert np.abs(ys.mean(0) - mean[6:]).max() < 4 * np.sqrt(y_cov.diagonal().max() / N)
    assert np.abs(np.cov(ys.T) - y_cov).max() < 0.15 * np.abs(y_cov).max()   # ~4 std errors


# ------------------------------------------------------------------------------- EM

def test_em_never_lowers_the_log_likelihood(rng):
    truth = random_params(rng)
    y = data(rng, truth, 150, missing=(10, 11, 70))
    start = random_params(np.random.default_rng(99))
    fitted, history = lds.em(start, y, iterations=15)
    steps = np.diff(history)
    assert (steps >= -1e-9 * abs(history[0])).all(), steps
    assert history[-1] > history[0] + 10
    assert lds.filter(fitted, y)[2] == pytest.approx(history[-1], rel=1e-12)


def test_em_keeps_the_parameters_it_is_not_asked_to_learn(rng):
    p = random_params(rng)
    y = data(rng, p, 50)
    fitted, history = lds.em(p, y, iterations=3, learn=("Q", "R"))
    for k in ("F", "H", "mu0", "P0"):
        assert np.array_equal(fitted[k], p[k])
    assert not np.allclose(fitted["Q"], p["Q"]) and np.all(np.diff(history) > -1e-9)


# ------------------------------------------------------------------------- pykalman

def test_filter_smoother_loglikelihood_and_em_equal_pykalman(rng):
    pykalman = pytest.importorskip("pykalman")
    p = random_params(rng, n=4, m=2)
    y = data(rng, p, 100, missing=(0, 50, 51))
    kf = pykalman.KalmanFilter(p["F"], p["H"], p["Q"], p["R"], initial_state_mean=p["mu0"],
                               initial_state_covariance=p["P0"],
                               em_vars=["transition_matrices", "observation_matrices",
                                        "transition_covariance", "observation_covariance",
                                        "initial_state_mean", "initial_state_covariance"])
    ym = np.ma.masked_invalid(y)
    mu, P, ll = lds.filter(p, y)
    mu_s, P_s, _ = lds.smooth(p, mu, P)
    for got, want in zip((mu, P, mu_s, P_s), (*kf.filter(ym), *kf.smooth(ym))):
        assert rel(got, want) < 1e-9
    assert ll == pytest.approx(kf.loglikelihood(ym), rel=1e-9)
    fitted, _ = lds.em(p, y, iterations=2)
    kf = kf.em(ym, n_iter=2)
    for k, attr in zip(lds.NAMES, ("transition_matrices", "observation_matrices",
                                   "transition_covariance", "observation_covariance",
                                   "initial_state_mean", "initial_state_covariance")):
        assert rel(fitted[k], getattr(kf, attr)) < 1e-9, k


# ------------------------------------------------------------------------ bad input

@pytest.mark.parametrize("change, message", [
    (lambda p: p.pop("Q"), "missing Q"),
    (lambda p: p.update(H=p["H"][:, :2]), "H: expected shape"),
    (lambda p: p.update(Q=p["Q"] + np.triu(np.ones_like(p["Q"]), 1)), "Q: a covariance must be symmetric"),
    (lambda p: p.update(R=-p["R"]), "R: observation noise covariance must be positive definite"),
    (lambda p: p.update(F=p["F"].astype(np.float32)), "params: all arrays need one float dtype, got F float32, H float64"),
    (lambda p: p["mu0"].__setitem__(0, np.nan), "mu0: non-finite"),
])
def test_bad_parameters_are_named(rng, change, message):
    p = random_params(rng)
    change(p)
    with pytest.raises(ValueError, match=message):
        lds.filter(p, np.zeros((4, 2)))


@pytest.mark.parametrize("y, message", [
    (np.zeros((4, 3)), r"y: expected shape \(\?, 2\)"),
    (np.zeros(4), r"y: expected an array of shape"),
    (np.zeros((4, 2), np.float32), "y: expected dtype float64"),
    (np.array([[0.0, 0.0], [np.inf, 0.0]]), r"y: non-finite value inf at index \(1, 0\)"),
])
def test_bad_observations_are_named(rng, y, message):
    with pytest.raises(ValueError, match=message):
        lds.filter(random_params(rng), y)


def test_unknown_device_em_parameter_and_smoother_shapes_are_named(rng):
    p = random_params(rng)
    with pytest.raises(ValueError, match="device: expected one of"):
        lds.filter(p, np.zeros((4, 2)), device="tpu")
    with pytest.raises(ValueError, match="learn: unknown parameter"):
        lds.em(p, np.zeros((4, 2)), learn=("G",))
    with pytest.raises(ValueError, match=r"P_f: expected shape \(4, 3, 3\)"):
        lds.smooth(p, np.zeros((4, 3)), np.zeros((5, 3, 3)))


def test_an_indefinite_prior_stops_the_filter(rng):
    p = random_params(rng)
    p["P0"] = -10 * np.eye(3)
    with pytest.raises(FloatingPointError, match="not positive definite"):
        lds.filter(p, np.zeros((4, 2)))


def test_em_names_a_regression_the_data_cannot_fix(rng):
    """With Q = 0, P0 = 0 and mu0 = 0 every smoothed state is exactly 0, so F and H
    (eqs. 14, 15) are undetermined: a named error, and EM without them still runs."""
    p = deterministic_params(np.eye(2), np.zeros((2, 2)), np.zeros((2, 2)))
    p["mu0"] = np.zeros(2)
    y = rng.standard_normal((20, 1))
    with pytest.raises(ValueError, match="F: cannot be learned.*leave 'F' out of learn"):
        lds.em(p, y, 2)
    with pytest.raises(ValueError, match="H: cannot be learned.*leave 'H' out of learn"):
        lds.em(p, y, 2, learn=("H", "R"))
    fitted, history = lds.em(p, y, 2, learn=("R",))
    assert np.isclose(fitted["R"][0, 0], np.mean(y ** 2))     # y = v: R = its 2nd moment
