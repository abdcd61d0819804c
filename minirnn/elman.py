"""Elman RNN: a hidden state carried through time (``docs/elman.rst``).

Forward, for t = 1..T over a time-major batch x (T, B, D):

    a_t = x_t W_x + h_{t-1} W_h + b                          (1)
    h_t = phi(a_t),   phi = tanh (default) or relu           (2)
    h_t = h_{t-1}     for t > length of the sequence         (3)

Backward through time, with g_T = 0 and G_t the whole gradient reaching h_t:

    G_t     = dL/dh_t + g_t                                  (4)
    da_t    = G_t * phi'(a_t)                                (5)
    g_{t-1} = da_t W_h^T                                     (6)
    dW_x = sum_t x_t^T da_t,  dW_h = sum_t h_{t-1}^T da_t,
    db   = sum_t da_t,        dx_t = da_t W_x^T              (7)

The recurrence (1-6) runs in ``minirnn/kernels/elman.py``; everything that does not
depend on the previous step (x W_x and eq. 7) is one large matrix product here.
"""
import numpy as np

from . import checks
from .kernels import elman as kernels
from .kernels import pool
from .kernels.common import previous_state_gradient

NONLINEARITIES = {"tanh": kernels.TANH, "relu": kernels.RELU}


def init(rng, D, H, dtype=np.float32):
    """Parameters {W_x (D, H), W_h (H, H), b (H,)}: uniform(+-1/sqrt(H)) as in PyTorch."""
    s = 1 / np.sqrt(H)
    return {"W_x": rng.uniform(-s, s, (D, H)).astype(dtype),
            "W_h": rng.uniform(-s, s, (H, H)).astype(dtype),
            "b": np.zeros(H, dtype)}


def check_params(params, D=None, dtype=None, prefix="", **options):
    """Presence, shapes and dtype of W_x (D, H), W_h (H, H), b (H,), H from W_h; D None
    takes any input size, dtype None the dtype of W_h. Keys and errors carry ``prefix``
    (a cell inside birnn's dict); forward's ``options`` do not change the shapes.
    Returns H."""
    H = checks.parameter_shape(params, "W_h", 2, prefix)[0]
    checks.parameters(params, prefix, dtype, W_h=(H, H), W_x=(D, H), b=(H,))
    return H


def forward(params, x, h0=None, lengths=None, nonlinearity="tanh", device="cpu",
            backprop=True):
    """Run the RNN over x (T, B, D).

    h0 (B, H) is the initial state (zeros if None); lengths (B,) ends each sequence
    early, after which its state stays fixed, so h[-1] is every sequence's last state.
    Returns h (T, B, H) and the cache for ``backward``, None with ``backprop=False``
    (evaluation: nothing is kept for a backward pass, as in lstm.forward).
    """
    H = check_params(params)
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    lengths, h0 = checks.recurrent_inputs(x, W_x, H, lengths, h0=h0)
    T, B, D = x.shape
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity: expected one of {sorted(NONLINEARITIES)}, got {nonlinearity!r}")
    if device not in kernels.KERNELS:
        raise ValueError(f"device: expected one of {sorted(kernels.KERNELS)}, got {device!r}")
    act = NONLINEARITIES[nonlinearity]
    xw = pool.matmul(x.reshape(T * B, D), W_x)                     # eq. (1), all t at once
    xw += b
    h = kernels.KERNELS[device][0](xw.reshape(T, B, H), W_h, h0, lengths, act)
    return h, (x, h0, h, lengths, act, params, device) if backprop else None


def backward(dh, cache):
    """Backpropagate dL/dh (T, B, H) through time.

    Returns dx (T, B, D), dh0 (B, H) and grads {W_x, W_h, b}. To continue the gradient
    of a later chunk into this one, add it to dh[-1].
    """
    x, h0, h, lengths, act, params, device = cache
    checks.shape("dh", dh, h.shape)
    T, B, D = x.shape
    H = h.shape[2]
    da, dh0 = kernels.KERNELS[device][1](np.ascontiguousarray(dh, h.dtype), h,
                                         params["W_h"], lengths, act)
    da2 = da.reshape(T * B, H)
    grads = {"W_x": x.reshape(T * B, D).T @ da2,            # eq. (7)
             "W_h": previous_state_gradient(h0, h, da),
             "b": da2.sum(axis=0)}
    dx = pool.matmul(da2, params["W_x"].T).reshape(T, B, D)
    return dx, dh0, grads
