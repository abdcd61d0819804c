"""HMM: every recursion against brute-force enumeration of all paths, hmmlearn's score
and decode, closed forms at T = 1,000,000, and EM's M-step against the definitions."""
import re

import numpy as np
import pytest

from minirnn import hmm
from tests.reference.hmm import (categorical_likelihoods, enumerate_paths,
                                 gaussian_likelihoods)

LENGTHS = np.array([6, 3, 0, 5])


def categorical_problem(rng, K=3, M=4, T=6):
    p = hmm.init_categorical(rng, K, M)
    _, x = hmm.sample(p, rng, T, len(LENGTHS))
    return p, x, [categorical_likelihoods(p["B"], x[:n, b]) for b, n in enumerate(LENGTHS)]


def gaussian_problem(rng, K=3, D=2, T=6):
    p = {"pi": rng.dirichlet(np.ones(K)), "A": rng.dirichlet(np.ones(K), K),
         "mu": rng.standard_normal((K, D)), "var": rng.uniform(0.5, 2, (K, D))}
    _, x = hmm.sample(p, rng, T, len(LENGTHS))
    return p, x, [gaussian_likelihoods(p["mu"], p["var"], x[:n, b]) for b, n in enumerate(LENGTHS)]


PROBLEMS = {"categorical": categorical_problem, "gaussian": gaussian_problem}


@pytest.mark.parametrize("kind", PROBLEMS)
def test_every_recursion_matches_brute_force_enumeration(rng, kind):
    p, x, L = PROBLEMS[kind](rng)
    loglik = hmm.loglik(p, x, LENGTHS)
    alpha, log_c = hmm.forward(p, x, LENGTHS)
    gamma, xi, ll_post = hmm.posteriors(p, x, LENGTHS)
    _, ll_log = hmm.log_forward(p, x, LENGTHS)
    path, logp = hmm.viterbi(p, x, LENGTHS)
    for b, n in enumerate(LENGTHS):
        if n == 0:
            assert loglik[b] == ll_log[b] == logp[b] == 0 and (path[:, b] == -1).all()
            continue
        want_ll, want_gamma, want_xi, want_path, want_logp = enumerate_paths(p["pi"], p["A"], L[b])
        for got in (loglik[b], log_c[:, b].sum(), ll_post[b], ll_log[b]):
            assert got == pytest.approx(want_ll, rel=1e-12)
        assert np.allclose(gamma[:n, b], want_gamma, atol=1e-12)
        assert np.allclose(xi[b], want_xi, atol=1e-12)
        assert np.array_equal(path[:n, b], want_path) and (path[n:, b] == -1).all()
        assert logp[b] == pytest.approx(want_logp, rel=1e-12)
        assert np.allclose(alpha[n - 1, b], want_gamma[-1], atol=1e-12)   # filter = smoother at T
    assert not gamma[LENGTHS[1]:, 1].any() and not log_c[LENGTHS[1]:, 1].any()


def test_scales_are_the_one_step_predictive_probabilities(rng):
    """c_t = P(x_t | x_1:t-1) = P(x_1:t) / P(x_1:t-1), each from enumeration (eq. 6)."""
    p, x, L = categorical_problem(rng)
    _, log_c = hmm.forward(p, x[:, :1])
    prefix = [enumerate_paths(p["pi"], p["A"], L[0][:t])[0] for t in range(1, 7)]
    assert np.allclose(log_c[:, 0], np.diff(prefix, prepend=0.0), atol=1e-12)


def hmmlearn_model(kind, p):
    hmmlearn = pytest.importorskip("hmmlearn.hmm")
    K = len(p["pi"])
    if kind == "categorical":
        m = hmmlearn.CategoricalHMM(K)
        m.n_features, m.emissionprob_ = p["B"].shape[1], p["B"]
    else:
        m = hmmlearn.GaussianHMM(K, covariance_type="diag")
        m.means_, m.covars_ = p["mu"], p["var"]
    m.startprob_, m.transmat_ = p["pi"], p["A"]
    return m


@pytest.mark.parametrize("kind", PROBLEMS)
def test_score_and_decode_agree_with_hmmlearn(rng, kind):
    p, _, _ = PROBLEMS[kind](rng, K=4)
    _, x = hmm.sample(p, rng, 500, 1)
    m = hmmlearn_model(kind, p)
    X = x[:, 0].reshape(500, -1)
    assert hmm.loglik(p, x)[0] == pytest.approx(m.score(X), rel=1e-10)
    logp, states = m.decode(X, algorithm="viterbi")
    path, our_logp = hmm.viterbi(p, x)
    assert our_logp[0] == pytest.approx(logp, rel=1e-10)
    assert np.array_equal(path[:, 0], states)


def test_no_underflow_at_a_million_steps(rng):
    """Both states emit alike, so P(x) = prod_t B[0, x_t] whatever A says, and the best
    path stays in state 0 (A's largest entry): closed forms for eqs. (6) and (12)."""
    T = 1_000_000
    p = {"pi": np.array([0.5, 0.5]), "A": np.array([[0.9, 0.1], [0.2, 0.8]]),
         "B": np.tile([0.1, 0.2, 0.3, 0.4], (2, 1))}
    x = rng.integers(0, 4, (T, 1))
    want = np.log(p["B"][0, x[:, 0]]).sum()                   # about -1.5e6
    # 1e-10: the kernel adds the 1e6 terms log c_t one by one (rounding ~1e-11)
    assert hmm.loglik(p, x)[0] == pytest.approx(want, rel=1e-10)
    path, logp = hmm.viterbi(p, x)
    assert not path.any()
    assert logp[0] == pytest.approx(np.log(0.5) + (T - 1) * np.log(0.9) + want, rel=1e-10)


def test_gaussian_far_from_every_mean_does_not_underflow():
    """Densities of exp(-5e5) are 0.0 in float64; the per-step shift keeps them."""
    p = {"pi": np.array([0.5, 0.5]), "A": np.full((2, 2), 0.5),
         "mu": np.array([[0.0], [1.0]]), "var": np.ones((2, 1))}
    x = np.full((3, 1, 1), 1000.0)
    L = np.exp(-0.5 * (1000.0 - p["mu"][:, 0]) ** 2) / np.sqrt(2 * np.pi)
    assert not L.any()                                        # the naive way underflows
    log_b = -0.5 * (1000.0 - p["mu"][:, 0]) ** 2 - 0.5 * np.log(2 * np.pi)
    want = 3 * (np.logaddexp(*log_b) + np.log(0.5))           # A uniform: steps independent
    assert hmm.loglik(p, x)[0] == pytest.approx(want, rel=1e-12)


def test_float32_parameters_give_float64_close_scores(rng):
    p, x, _ = categorical_problem(rng, T=200)
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    assert np.allclose(hmm.loglik(p32, x, LENGTHS), hmm.loglik(p, x, LENGTHS), rtol=1e-5)


def test_impossible_observations_score_minus_infinity_and_refuse_posteriors():
    p = {"pi": np.array([1.0, 0.0]), "A": np.eye(2), "B": np.array([[1.0, 0.0], [0.0, 1.0]])}
    x = np.array([[0], [1]])
    assert hmm.loglik(p, x)[0] == -np.inf
    with pytest.raises(ValueError, match="probability 0"):
        hmm.posteriors(p, x)


# ------------------------------------------------------------------------------- EM

@pytest.mark.parametrize("kind", PROBLEMS)
def test_m_step_is_the_normalised_expected_counts(rng, kind):
    """Eqs. (14-16) from the brute-force posteriors, sequence by sequence."""
    p, x, L = PROBLEMS[kind](rng)
    gamma, xi, _ = hmm.posteriors(p, x, LENGTHS)
    new = hmm.m_step(p, x, LENGTHS, gamma, xi)
    runs = [enumerate_paths(p["pi"], p["A"], L[b]) for b, n in enumerate(LENGTHS) if n]
    seqs = [x[:n, b] for b, n in enumerate(LENGTHS) if n]
    assert np.allclose(new["pi"], np.mean([r[1][0] for r in runs], 0), atol=1e-12)
    counts = sum(r[2] for r in runs)
    assert np.allclose(new["A"], counts / counts.sum(1, keepdims=True), atol=1e-12)
    g = np.concatenate([r[1] for r in runs])               # (N, K)
    obs = np.concatenate(seqs)
    if kind == "categorical":
        onehot = np.eye(p["B"].shape[1])[obs]
        assert np.allclose(new["B"], g.T @ onehot / g.sum(0)[:, None], atol=1e-12)
    else:
        for k in range(len(p["pi"])):
            mean = np.average(obs, axis=0, weights=g[:, k])
            var = np.average((obs - mean) ** 2, axis=0, weights=g[:, k])
            assert np.allclose(new["mu"][k], mean, atol=1e-12)
            assert np.allclose(new["var"][k], np.maximum(var, hmm.MIN_VAR), atol=1e-12)


@pytest.mark.parametrize("kind", PROBLEMS)
def test_baum_welch_never_lowers_the_likelihood(rng, kind):
    truth, _, _ = PROBLEMS[kind](rng)
    _, x = hmm.sample(truth, rng, 200, 4)
    start = (hmm.init_categorical(rng, 3, 4) if kind == "categorical"
             else hmm.init_gaussian(rng, 3, x))
    seen = []
    fitted, history = hmm.baum_welch(start, x, iterations=30, log=lambda k, ll: seen.append(k))
    assert np.all(np.diff(history) >= -1e-9 * abs(history[0]))
    assert seen == list(range(1, len(history) + 1))
    assert history[-1] > history[0]
    hmm.check_params(fitted)                                 # still probabilities


# ------------------------------------------------------------------------- sampling

def test_sampling_is_reproducible_and_follows_the_model(rng):
    p = {"pi": np.array([0.2, 0.8]), "A": np.array([[0.7, 0.3], [0.1, 0.9]]),
         "B": np.array([[0.5, 0.5, 0.0], [0.0, 0.1, 0.9]])}
    z, x = hmm.sample(p, np.random.default_rng(5), 5000, 8)
    z2, x2 = hmm.sample(p, np.random.default_rng(5), 5000, 8)
    assert np.array_equal(z, z2) and np.array_equal(x, x2)
    moves = np.zeros((2, 2))
    np.add.at(moves, (z[:-1].ravel(), z[1:].ravel()), 1)
    assert np.allclose(moves / moves.sum(1, keepdims=True), p["A"], atol=0.01)
    assert np.allclose([np.mean(x[z == k][:, None] == np.arange(3), 0) for k in (0, 1)],
                       p["B"], atol=0.01)
    assert np.mean(z[0]) == pytest.approx(0.8, abs=0.2)


# ----------------------------------------------------------------------- bad input

def test_bad_input_is_named(rng):
    p, x, _ = categorical_problem(rng)
    cases = [
        (lambda: hmm.loglik(p, x[:, 0]), r"x: expected \(T, B\) integer symbols"),
        (lambda: hmm.loglik(p, x.astype(float)), "integer symbols"),
        (lambda: hmm.loglik(p, x + 4), r"symbols must lie in 0\.\.3"),
        (lambda: hmm.loglik({**p, "A": p["A"] * 2}, x), "A: expected probabilities"),
        (lambda: hmm.loglik({**p, "B": p["B"][:2]}, x), r"B: expected shape \(3, \?\)"),
        (lambda: hmm.loglik({"pi": p["pi"], "A": p["A"]}, x), "expected emissions B"),
        (lambda: hmm.loglik(p, x, np.array([7, 1, 1, 1])), r"lengths: expected values in \[0, 6\]"),
        (lambda: hmm.viterbi(p, x, device="tpu"), "device: expected one of"),
    ]
    g, xg, _ = gaussian_problem(rng)
    xg[2, 1, 0] = np.nan
    cases += [(lambda: hmm.loglik(g, xg), r"x: non-finite value nan at index \(2, 1, 0\)"),
              (lambda: hmm.loglik({**g, "var": -g["var"]}, xg), "var: expected variances > 0")]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize("name, index", [("pi", (2,)), ("A", (1, 0)), ("B", (2, 3))])
def test_a_negative_probability_is_named_even_when_its_row_sums_to_1(rng, name, index):
    """Moving 0.25 of a row onto its neighbour and leaving -0.25 behind keeps the sum
    at 1: the row sums cannot show what is wrong, the entry itself must be named."""
    p, x, _ = categorical_problem(rng)
    bad = p[name].copy()
    row = bad[index[:-1]]
    j, k = index[-1], (index[-1] + 1) % len(row)
    row[k] += row[j] + 0.25
    row[j] = -0.25
    assert np.allclose(bad.sum(-1), 1)
    with pytest.raises(ValueError, match=rf"{name}: negative value -0\.25 at index "
                                         rf"{re.escape(str(index))}"):
        hmm.loglik({**p, name: bad}, x)


def test_more_gaussian_states_than_observations_is_named(rng):
    with pytest.raises(ValueError, match="K = 5 states .* only 4"):
        hmm.init_gaussian(rng, 5, rng.standard_normal((4, 1, 1)))
