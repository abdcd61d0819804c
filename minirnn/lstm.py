"""Long short-term memory (``docs/lstm.rst``): a cell state carried by addition.

Forward, for t = 1..T over a time-major batch x (T, B, D), gates in PyTorch's order:

    z_t = x_t W_x + h_{t-1} W_h + b,   z = [z_i | z_f | z_g | z_o]        (1)
    z_q += p_q * c_{t-1}  for q in i, f, o  (optional peepholes)         (2)
    i, f, o = sigma(z_i), sigma(z_f), sigma(z_o);   g = tanh(z_g)          (3)
    c_t = f * c_{t-1} + i * g                                             (4)
    h_t = o * tanh(c_t)                                                   (5)
    h_t, c_t = h_{t-1}, c_{t-1}   for t > length of the sequence          (6)

Backward through time, G_h and G_c the whole gradients reaching h_t and c_t:

    dz_o = G_h * tanh(c_t) * o (1 - o)                                    (7)
    G_c  = g_c + G_h * o * (1 - tanh^2 c_t)                               (8)
    dz_i = G_c * g * i (1 - i),  dz_f = G_c * c_{t-1} * f (1 - f),
    dz_g = G_c * i * (1 - g^2)                                            (9)
    g_c(t-1) = G_c * f + sum_q dz_q * p_q                                 (10)
    g_h(t-1) = dz_t W_h^T                                                 (11)
    dp_q = sum_t dz_q * c_{t-1}                                           (12)
    dW_x = sum_t x_t^T dz_t,  dW_h = sum_t h_{t-1}^T dz_t,
    db = sum_t dz_t,          dx_t = dz_t W_x^T                            (13)

Same numbers in ``torch.nn.LSTM``: weight_ih_l0 = W_x.T, weight_hh_l0 = W_h.T,
bias_ih_l0 = b, bias_hh_l0 = 0 (PyTorch has no peepholes).
"""
import numpy as np

from . import checks
from .kernels import lstm as kernels
from .kernels import pool
from .kernels.common import previous_state_gradient

PEEPHOLES = ("p_i", "p_f", "p_o")


def init(rng, D, H, dtype=np.float32, peephole=False):
    """{W_x (D, 4H), W_h (H, 4H)} uniform(+-1/sqrt(H)) as PyTorch, b (4H,) zero but for
    the forget gate's 1 (remember by default); with ``peephole``, also p_i, p_f, p_o (H,)
    = 0."""
    s = 1 / np.sqrt(H)
    params = {"W_x": rng.uniform(-s, s, (D, 4 * H)).astype(dtype),
              "W_h": rng.uniform(-s, s, (H, 4 * H)).astype(dtype),
              "b": np.zeros(4 * H, dtype)}
    params["b"][H:2 * H] = 1.0
    if peephole:
        params.update({k: np.zeros(H, dtype) for k in PEEPHOLES})
    return params


def has_peepholes(params, prefix=""):
    """Whether params hold peepholes: any of p_i, p_f, p_o (then check_params wants all)."""
    return any(prefix + k in params for k in PEEPHOLES)


def check_params(params, D=None, dtype=None, prefix="", **options):
    """Presence, shapes and dtype of W_x (D, 4H), W_h (H, 4H), b (4H,) and, if any of
    them is there, all three peepholes (H,); H from W_h, D None takes any input size,
    dtype None the dtype of W_h. Keys and errors carry ``prefix`` (a cell inside birnn's
    dict); forward's ``options`` do not change the shapes. Returns H."""
    H = checks.parameter_shape(params, "W_h", 2, prefix)[0]
    peepholes = {k: (H,) for k in PEEPHOLES} if has_peepholes(params, prefix) else {}
    checks.parameters(params, prefix, dtype, W_h=(H, 4 * H), W_x=(D, 4 * H), b=(4 * H,),
                      **peepholes)
    return H


def forward(params, x, h0=None, c0=None, lengths=None, device="cpu", backprop=True):
    """Run the LSTM over x (T, B, D) from h0, c0 (B, H) (zeros if None).

    Peepholes are used when ``params`` has p_i, p_f, p_o (one or two of them is an
    error). ``lengths`` (B,) ends sequences early; their states then stay fixed, so
    h[-1] is every final state.
    Returns h (T, B, H) and the cache for ``backward``. With ``backprop=False``
    (evaluation, prediction) nothing is kept for a backward pass: the cache is None,
    h is the same, and the gates and cells of all steps are never stored.
    """
    H = check_params(params)
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    lengths, h0, c0 = checks.recurrent_inputs(x, W_x, H, lengths, h0=h0, c0=c0)
    T, B, D = x.shape
    if device not in kernels.KERNELS:
        raise ValueError(f"device: expected one of {sorted(kernels.KERNELS)}, got {device!r}")
    P = np.stack([params[k] for k in PEEPHOLES]) if has_peepholes(params) else None
    xw = pool.matmul(x.reshape(T * B, D), W_x).reshape(T, B, 4 * H)   # eq. (1)'s x_t W_x, all t
    if not backprop:
        return kernels.KERNELS[device][0](xw, W_h, b, P, h0, c0, lengths, store=False)[0], None
    h, c, tc, gates = kernels.KERNELS[device][0](xw, W_h, b, P, h0, c0, lengths)
    return h, (x, h0, c0, h, c, tc, gates, P, lengths, params, device)


def backward(dh, cache):
    """Backpropagate dL/dh (T, B, H) through time.

    Returns dx (T, B, D), dh0, dc0 (B, H) and grads with the keys of params.
    """
    x, h0, c0, h, c, tc, gates, P, lengths, params, device = cache
    checks.shape("dh", dh, h.shape)
    T, B, D = x.shape
    H = h.shape[2]
    keys = ("W_x", "W_h", "b") + (PEEPHOLES if P is not None else ())
    grads = {k: np.zeros_like(params[k]) for k in keys}
    dx = pool.empty((T, B, D), h.dtype)

    def add_block(t0, dz):
        """Eqs. (12) and (13) for the steps t0 .. t0 + n - 1, from their dz (n, B, 4H):
        the sums over t are sums over blocks of steps, each a matrix product with
        inner dimension nB."""
        t1 = t0 + len(dz)
        dz2 = dz.reshape(-1, 4 * H)
        grads["W_x"] += x[t0:t1].reshape(-1, D).T @ dz2               # eq. (13)
        grads["W_h"] += previous_state_gradient(h[t0 - 1] if t0 else h0, h[t0:t1], dz)
        grads["b"] += dz2.sum(axis=0)
        np.matmul(dz2, params["W_x"].T, out=dx[t0:t1].reshape(-1, D))
        if P is not None:                                              # eq. (12)
            c_prev = c[t0 - 1:t1 - 1] if t0 else np.concatenate([c0[None], c[:t1 - 1]])
            for k, gate in zip(PEEPHOLES, (kernels.I, kernels.F, kernels.O)):
                grads[k] += (dz[:, :, gate * H:(gate + 1) * H] * c_prev).sum(axis=(0, 1))

    dh = np.ascontiguousarray(dh, h.dtype)
    dh0, dc0 = kernels.KERNELS[device][1](dh, gates, c, tc, c0, params["W_h"], P, lengths,
                                          add_block)    # dz a block of steps at a time
    return dx, dh0, dc0, grads
