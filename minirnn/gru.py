"""Gated recurrent unit (``docs/gru.rst``): an update gate mixes old state and new.

Forward, for t = 1..T over a time-major batch x (T, B, D), gates in PyTorch's order
[r | z | n], with a_t = x_t W_x + b_x and c_t = h_{t-1} W_h + b_h split into the
three blocks (c^n and b_hn exist only in the default variant, "after")::

    r_t = sigma(a^r_t + c^r_t)                                        (1)
    z_t = sigma(a^z_t + c^z_t)                                        (2)
    n_t = tanh(a^n_t + r_t * c^n_t)            variant="after"        (3)
    n_t = tanh(a^n_t + s_t W_hn),  s_t = r_t * h_{t-1},  "before"     (4)
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                             (5)
    z_t = 1   for t > length of the sequence, so h_t = h_{t-1}        (6)

Backward through time, with g_T = 0 and hats marking pre-activations (the arguments
of sigma and tanh above)::

    G_t  = dL/dh_t + g_t                                              (7)
    dz^  = G_t * (h_{t-1} - n_t) * z_t (1 - z_t),
    dn^  = G_t * (1 - z_t) * (1 - n_t^2)                              (8)
    after:   dr^ = dn^ * c^n_t * r_t (1 - r_t),   dc^n = r_t * dn^    (9)
    before:  ds  = dn^ W_hn^T,   dr^ = ds * h_{t-1} * r_t (1 - r_t)   (10)
    after:   g_{t-1} = G_t * z_t + [dr^ | dz^ | dc^n] W_h^T
    before:  g_{t-1} = G_t * z_t + ds * r_t + [dr^ | dz^] [W_hr | W_hz]^T   (11)
    da_t = [dr^ | dz^ | dn^]:  dW_x = sum_t x_t^T da_t,  db_x = sum_t da_t,
                               dx_t = da_t W_x^T
    after:   dc_t = [dr^ | dz^ | dc^n]:  dW_h = sum_t h_{t-1}^T dc_t,  db_h = sum_t dc_t
    before:  d[W_hr | W_hz] = sum_t h_{t-1}^T [dr^ | dz^],  db_h = sum_t [dr^ | dz^],
             dW_hn = sum_t s_t^T dn^                                  (12)

Parameters: W_x (D, 3H), W_h (H, 3H), b_x (3H,) with column blocks [r | z | n], and
b_h (3H,) for "after", (2H,) = [b_hr | b_hz] for "before" (that variant has a single
bias, b_xn, for n). The same numbers in ``torch.nn.GRU`` (reset-after):
weight_ih_l0 = W_x.T, weight_hh_l0 = W_h.T, bias_ih_l0 = b_x, bias_hh_l0 = b_h.

The recurrence (1-11) runs in ``minirnn/kernels/gru.py``, which also adds the biases;
x W_x and eq. 12 are large matrix products here.
"""
import numpy as np

from . import checks
from .kernels import gru as kernels
from .kernels import pool
from .kernels.common import previous_state_gradient

BIAS_H_BLOCKS = {"after": 3, "before": 2}      # b_h: [b_hr | b_hz | b_hn] or [b_hr | b_hz]


def _check_variant(variant):
    if variant not in BIAS_H_BLOCKS:
        raise ValueError(f"variant: expected one of {sorted(BIAS_H_BLOCKS)}, got {variant!r}")


def init(rng, D, H, dtype=np.float32, variant="after"):
    """{W_x (D, 3H), W_h (H, 3H), b_x (3H,), b_h (3H,) or (2H,) for "before"}, all
    uniform(+-1/sqrt(H)) as in PyTorch."""
    _check_variant(variant)
    s = 1 / np.sqrt(H)
    shapes = {"W_x": (D, 3 * H), "W_h": (H, 3 * H), "b_x": (3 * H,),
              "b_h": (BIAS_H_BLOCKS[variant] * H,)}
    return {k: rng.uniform(-s, s, shape).astype(dtype) for k, shape in shapes.items()}


def check_params(params, D=None, dtype=None, prefix="", variant="after", **options):
    """Presence, shapes and dtype of W_x (D, 3H), W_h (H, 3H), b_x (3H,) and b_h (3H,),
    or (2H,) for variant "before"; H from W_h, D None takes any input size, dtype None
    the dtype of W_h. Keys and errors carry ``prefix`` (a cell inside birnn's dict);
    forward's other ``options`` do not change the shapes. Returns H."""
    _check_variant(variant)
    H = checks.parameter_shape(params, "W_h", 2, prefix)[0]
    checks.parameters(params, prefix, dtype, W_h=(H, 3 * H), W_x=(D, 3 * H), b_x=(3 * H,),
                      b_h=(None,))
    b_h = params[prefix + "b_h"]
    if b_h.shape != (BIAS_H_BLOCKS[variant] * H,):
        raise ValueError(f"{prefix}b_h: expected shape ({BIAS_H_BLOCKS[variant] * H},) for "
                         f"variant={variant!r}, got {b_h.shape}")
    return H


def forward(params, x, h0=None, lengths=None, variant="after", device="cpu", backprop=True):
    """Run the GRU over x (T, B, D).

    h0 (B, H) is the initial state (zeros if None); lengths (B,) ends each sequence
    early, after which its state stays fixed, so h[-1] is every sequence's last state.
    variant "after" (PyTorch, cuDNN) applies r after the product with W_hn, "before"
    (Cho et al.) before it. Returns h (T, B, H) and the cache for ``backward``, None
    with ``backprop=False`` (evaluation: nothing is kept for a backward pass).
    """
    H = check_params(params, variant=variant)
    W_x, W_h, b_x, b_h = params["W_x"], params["W_h"], params["b_x"], params["b_h"]
    lengths, h0 = checks.recurrent_inputs(x, W_x, H, lengths, h0=h0)
    T, B, D = x.shape
    if device not in kernels.KERNELS:
        raise ValueError(f"device: expected one of {sorted(kernels.KERNELS)}, got {device!r}")
    b = b_x.copy()
    b[:2 * H] += b_h[:2 * H]                       # r and z only ever see b_x + b_h
    xw = pool.matmul(x.reshape(T * B, D), W_x).reshape(T, B, 3 * H)   # a_t less its bias, all t
    h, gates, m = kernels.KERNELS[device][0](xw, W_h, b, b_h[2 * H:], h0, lengths, variant)
    return h, (x, h0, h, gates, m, variant, params, device) if backprop else None


def backward(dh, cache):
    """Backpropagate dL/dh (T, B, H) through time.

    Returns dx (T, B, D), dh0 (B, H) and grads {W_x, W_h, b_x, b_h}. To continue the
    gradient of a later chunk into this one, add it to dh[-1].
    """
    x, h0, h, gates, m, variant, params, device = cache
    checks.shape("dh", dh, h.shape)
    T, B, D = x.shape
    H = h.shape[2]
    grads = {k: np.zeros_like(params[k]) for k in ("W_x", "W_h", "b_x", "b_h")}
    dx = pool.empty((T, B, D), h.dtype)

    def add_block(t0, da, dc):
        """Eq. (12) for the steps t0 .. t0 + n - 1, from their da and dc (n, B, 3H):
        the gradients at x W_x + b_x and at the product with W_h. The sums over t are
        sums over blocks of steps."""
        t1 = t0 + len(da)
        h_before = h[t0 - 1] if t0 else h0
        da2 = da.reshape(-1, 3 * H)
        db = da2.sum(axis=0)
        grads["b_x"] += db
        grads["W_x"] += x[t0:t1].reshape(-1, D).T @ da2
        if variant == "after":                  # all of W_h multiplies h_{t-1}
            grads["W_h"] += previous_state_gradient(h_before, h[t0:t1], dc)
            grads["b_h"] += dc.sum(axis=(0, 1))
        else:                                   # W_hn multiplies m_t = s_t = r_t * h_{t-1}
            grads["W_h"][:, :2 * H] += previous_state_gradient(h_before, h[t0:t1], dc[:, :, :2 * H])
            grads["W_h"][:, 2 * H:] += m[t0:t1].reshape(-1, H).T @ dc[:, :, 2 * H:].reshape(-1, H)
            grads["b_h"] += db[:2 * H]
        np.matmul(da2, params["W_x"].T, out=dx[t0:t1].reshape(-1, D))

    dh = np.ascontiguousarray(dh, h.dtype)
    dh0 = kernels.KERNELS[device][1](dh, h0, h, gates, m, params["W_h"], variant,
                                     add_block)         # da a block of steps at a time
    return dx, dh0, grads
