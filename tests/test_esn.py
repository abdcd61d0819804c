"""Echo state network: the reservoir run against a dense NumPy loop and reservoirpy, the
reservoir's construction, the echo state property, the ridge readout against the normal
equations, the closed loop, bad input, and the Mackey-Glass task's published numbers."""
import numpy as np
import pytest

from minirnn import esn, tasks
from tests.reference.esn import esn_forward, esn_generate, ridge_normal_equations


def problem(rng, dtype=np.float64, T=30, B=3, D=2, N=12):
    p = esn.init(rng, D, N, spectral_radius=0.9, density=0.3, input_density=0.5,
                 bias_scaling=0.2, dtype=dtype)
    u = rng.standard_normal((T, B, D)).astype(dtype)
    x0 = (0.5 * rng.standard_normal((B, N))).astype(dtype)
    return p, u, x0


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 1e-5)])
def test_forward_equals_dense_numpy_loop(rng, dtype, tol):
    p, u, x0 = problem(rng, dtype)
    x = esn.forward(p, u, 0.3, x0)
    want = esn_forward(p["W_in"], p["W"], p["b"], u, x0, dtype(0.3))
    assert x.dtype == dtype and np.allclose(x, want, rtol=tol, atol=tol)


def test_forward_returns_a_fresh_array_it_owns(rng):
    """The kernel fills an array NumPy allocates (for its huge pages): each call's own."""
    p, u, x0 = problem(rng)
    x1, x2 = esn.forward(p, u, 0.3, x0), esn.forward(p, u, 0.3, x0)
    assert x1.flags.owndata and x1.flags.c_contiguous and not np.shares_memory(x1, x2)
    assert np.array_equal(x1, x2)


def test_forward_equals_reservoirpy_on_the_same_weights(rng):
    nodes = pytest.importorskip("reservoirpy.nodes")
    p, u, _ = problem(rng, B=1)
    res = nodes.Reservoir(W=p["W"], Win=p["W_in"], bias=p["b"], lr=0.3)
    want = res.run(u[:, 0])
    assert np.allclose(esn.forward(p, u, 0.3)[:, 0], want, rtol=1e-13, atol=1e-13)


def test_init_density_scaling_and_spectral_radius(rng):
    N, D = 60, 3
    p = esn.init(rng, D, N, spectral_radius=1.25, density=0.1, input_scaling=0.5,
                 input_density=0.2)
    assert np.count_nonzero(p["W"]) == round(0.1 * N * N)
    assert np.count_nonzero(p["W_in"]) == round(0.2 * N * D)
    assert set(np.unique(p["W_in"])) <= {-0.5, 0.0, 0.5}
    assert not p["b"].any()
    # Gelfand's formula, independent of eigvals: rho = lim ||W^k||^(1/k)
    Wk = np.linalg.matrix_power(p["W"] / 1.25, 400)
    assert np.linalg.norm(Wk, 2) ** (1 / 400) == pytest.approx(1.0, abs=0.02)
    again = esn.init(np.random.default_rng(1234), D, N, 1.25, 0.1, 0.5, 0.2)
    assert all(np.array_equal(p[k], again[k]) for k in p)     # same seed, same reservoir


def test_echo_state_property_forgets_the_initial_state(rng):
    """With rho < 1 and tanh, two runs from different states on the same input meet."""
    p, u, _ = problem(rng, T=300, B=2)
    x0 = np.stack([np.ones(12), -np.ones(12)])
    u[:, 1] = u[:, 0]
    x = esn.forward(p, u, 1.0, x0)
    gap = np.abs(x[:, 0] - x[:, 1]).max(axis=1)
    assert gap[0] > 0.1 and gap[-1] < 1e-12


@pytest.mark.parametrize("with_input", [False, True])
def test_ridge_readout_equals_normal_equations(rng, with_input):
    S, N, D, D_out = 200, 15, 2, 3
    x = np.tanh(rng.standard_normal((S, N)))
    u = rng.standard_normal((S, D)) if with_input else None
    y = rng.standard_normal((S, D_out)) + 3.0
    ro = esn.fit_readout(x, y, 0.1, u)
    z = x if u is None else np.hstack([x, u])
    W, c = ridge_normal_equations(z, y, 0.1)
    assert np.allclose(np.hstack([ro["W_out"], ro["W_u"]]), W, rtol=1e-10, atol=1e-12)
    assert np.allclose(ro["b_out"], c, rtol=1e-10)
    assert np.allclose(esn.readout(ro, x, z[:, N:]), z @ W.T + c, atol=1e-12)


def test_ridge_readout_with_no_penalty_is_least_squares(rng):
    x = rng.standard_normal((50, 6))
    y = x @ rng.standard_normal((6, 2)) + np.array([1.0, -2.0])
    ro = esn.fit_readout(x, y, 0.0)
    assert np.allclose(esn.readout(ro, x, x[:, :0]), y, atol=1e-12)


def test_closed_loop_equals_numpy_loop(rng):
    p, u, x0 = problem(rng, B=1, D=1)
    ro = {"W_out": 0.3 * rng.standard_normal((1, 12)), "W_u": np.array([[0.5]]),
          "b_out": np.array([0.1])}
    y, x = esn.generate(p, ro, u[0], x0, 25, 0.4)
    want = esn_generate(p["W_in"], p["W"], p["b"], ro["W_out"], ro["W_u"], ro["b_out"],
                        u[0, 0], x0[0], 0.4, 25)
    assert np.allclose(y[:, 0], want, rtol=1e-13, atol=1e-13)
    assert np.array_equal(x[0], x0)


def test_bad_input_is_named(rng):
    p, u, x0 = problem(rng)
    with pytest.raises(ValueError, match=r"u: expected shape \(\?, \?, 2\)"):
        esn.forward(p, u[..., :1], 0.3)
    bad = u.copy()
    bad[3, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"u: non-finite value nan at index \(3, 1, 0\)"):
        esn.forward(p, bad, 0.3)
    with pytest.raises(ValueError, match=r"leak: expected a rate in \(0, 1\]"):
        esn.forward(p, u, 0.0)
    with pytest.raises(ValueError, match="device: expected one of"):
        esn.forward(p, u, 0.3, device="tpu")
    with pytest.raises(ValueError, match=r"x0: expected shape \(3, 12\)"):
        esn.forward(p, u, 0.3, x0[:2])
    with pytest.raises(ValueError, match=r"density: expected a fraction in \(0, 1\]"):
        esn.init(rng, 1, 10, density=0.0)
    with pytest.raises(ValueError, match=r"y: expected shape \(5, \?\)"):
        esn.fit_readout(np.ones((5, 3)), np.ones((4, 1)), 1e-3)


def test_mackey_glass_task_beats_reservoirpys_quickstart_numbers(tmp_path):
    """reservoirpy's README: 100 units, rho 1.25, leak 0.3, ridge 1e-5, 2,000 steps,
    last 20% as test, warm-up 100 -> RMSE 0.0020282, R^2 0.99992."""
    task = tasks.build("esn", "mackey-glass", {"dtype": "float32"})
    m = task.fit(seed=0, out=tmp_path, log=lambda _: None)
    assert m["rmse"] <= 0.0020 and m["r2"] >= 0.9999
    assert m["rmse"] < m["persistence_rmse"] / 10
    assert 0 < m["closed_loop_horizon"] <= 400
    assert (tmp_path / "metrics.json").is_file()
