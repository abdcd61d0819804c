"""Bidirectional and stacked (deep) RNNs over any recurrent cell (``docs/birnn.rst``).

A cell is a module with the interface of ``minirnn.elman`` (``lstm`` and ``gru`` share
it: init, check_params, forward, backward). With rho the reversal of each sequence
within its length l (steps counted from 0),

    rho(x)_t = x_{l-1-t}  for t < l,   x_t  for t >= l                  (1)

one layer runs a cell forwards and another over the reversed sequences,

    hf = RNN_fwd(x),   hb = rho(RNN_bwd(rho(x)))                         (2)
    out_t = [hf_t | hb_t]                                                (3)

and a sequence's summary is [hf at its last step | hb at step 0]         (4)

Layer k > 0 reads the output of layer k-1 through inverted dropout of rate p:

    x^(k) = m^(k) * out^(k-1),   m^(k) = Bernoulli(1 - p) / (1 - p)      (5)

Backward, dhf and dhb being the two halves of dout: rho is a permutation and its own
inverse, so it is also its own backward; x feeds both directions, so their gradients add:

    dx^(k)     = dx_fwd(dhf) + rho(dx_bwd(rho(dhb)))                     (6)
    dout^(k-1) = m^(k) * dx^(k)                                          (7)
"""
import numpy as np

from . import checks
from .layers import dropout_backward, dropout_forward


def directions(bidirectional):
    """The directions of a layer, in the order their outputs are concatenated."""
    return ("fwd", "bwd") if bidirectional else ("fwd",)


def reverse_within_lengths(x, lengths):
    """x (T, B, ...) with the first lengths[b] steps of each sequence b reversed and its
    padding left in place, eq. (1). Applying it twice gives x back."""
    T, B = x.shape[:2]
    lengths = np.asarray(lengths)
    # BEGIN SOLUTION eq. (1) of docs/birnn.rst: reverse each sequence within its length
    t = np.arange(T)[:, None]
    source = np.where(t < lengths, lengths - 1 - t, t)      # (T, B): the step to read
    return x[source, np.arange(B)]
    # END SOLUTION


def init(rng, cell, D, H, num_layers=1, bidirectional=True, dtype=np.float32, **cell_options):
    """Parameters {"l<k>.<fwd|bwd>/<name>": array}: each cell's own dict under a prefix.

    Layer 0 reads D inputs; layer k > 0 reads the H * num_directions outputs below it.
    cell_options go to every cell.init (e.g. peephole=True for lstm).
    """
    dirs = directions(bidirectional)
    params = {}
    for k in range(num_layers):
        D_k = D if k == 0 else H * len(dirs)
        for d in dirs:
            for name, value in cell.init(rng, D_k, H, dtype, **cell_options).items():
                params[f"l{k}.{d}/{name}"] = value
    return params


def _cell_params(params, prefix):
    """The dict one cell expects: its arrays (not copies) without the prefix."""
    return {key[len(prefix):]: value for key, value in params.items() if key.startswith(prefix)}


def forward(params, cell, x, lengths=None, num_layers=1, bidirectional=True, dropout=0.0,
            rng=None, device="cpu", backprop=True, **cell_options):
    """Run num_layers layers of ``cell`` (a module such as ``minirnn.elman``) over x (T, B, D).

    lengths (B,) ends sequences early as in the cell; padding never reaches a valid step
    in either direction. dropout, the rate between layers, needs rng (an
    np.random.Generator): rng=None is evaluation mode, without dropout. cell_options go
    to every cell.forward (e.g. nonlinearity="relu" for elman); initial states are zeros.

    Returns out (T, B, H * num_directions), the last layer's [forward | backward]
    states, and the cache for ``backward``; with ``backprop=False`` (evaluation) the
    cache is None and no cell keeps anything for a backward pass. out[-1, :, :H] is
    each sequence's last forward state, but its last backward state (the one that has
    read the whole sequence) is at out[0, :, H:]: take both with ``final_states``. On
    padded steps out repeats these two.
    """
    checks.float_array("x", x, 3)
    T, B, _ = x.shape
    lengths = checks.lengths(lengths, B, T)
    dirs = directions(bidirectional)
    if not (isinstance(num_layers, (int, np.integer)) and num_layers >= 1):
        raise ValueError(f"num_layers: expected a positive integer, got {num_layers!r}")
    expected = sorted(f"l{k}.{d}" for k in range(num_layers) for d in dirs)
    got = sorted({key.split("/")[0] for key in params if "/" in key})   # other keys: not ours
    if got != expected:
        raise ValueError(f"params: expected cells {expected} (num_layers={num_layers}, "
                         f"bidirectional={bidirectional}, as given to init), got {got}")
    D, dtype = x.shape[2], None     # every cell before any runs, all of the first's dtype
    for k in range(num_layers):
        outputs = 0
        for d in dirs:
            outputs += cell.check_params(params, D, dtype, f"l{k}.{d}/", **cell_options)
            dtype = params[f"l{k}.{d}/W_h"].dtype
        D = outputs                 # layer k + 1 reads the outputs of all directions
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout: expected a rate in [0, 1), got {dropout}")
    layers = []
    for k in range(num_layers):
        x, mask = dropout_forward(x, dropout, rng) if k > 0 else (x, None)   # eq. (5)
        hs, caches = [], []
        for d in dirs:
            reverse = d == "bwd"
            # BEGIN SOLUTION eq. (2) of docs/birnn.rst: run the cell in direction d
            h, cache = cell.forward(_cell_params(params, f"l{k}.{d}/"),
                                    reverse_within_lengths(x, lengths) if reverse else x,
                                    lengths=lengths, device=device, backprop=backprop,
                                    **cell_options)
            hs.append(reverse_within_lengths(h, lengths) if reverse else h)   # eq. (2)
            caches.append(cache)
            # END SOLUTION
        x = np.concatenate(hs, axis=2)                                   # eq. (3)
        layers.append((caches, mask))
    return x, (cell, dirs, lengths, layers, x.shape) if backprop else None


def backward(dout, cache):
    """Backpropagate dL/dout (T, B, H * num_directions) through every layer and direction.

    Returns dx (T, B, D) and grads, a dict with the keys of params. The cells' initial
    states are fixed zeros, so their gradients are dropped.
    """
    cell, dirs, lengths, layers, out_shape = cache
    checks.shape("dout", dout, out_shape)
    grads = {}
    for k in reversed(range(len(layers))):
        caches, mask = layers[k]
        dx = 0
        for d, dh, layer_cache in zip(dirs, np.split(dout, len(dirs), axis=2), caches):
            reverse = d == "bwd"
            # BEGIN SOLUTION eq. (6) of docs/birnn.rst: backward through direction d
            dx_d, *_, g = cell.backward(reverse_within_lengths(dh, lengths) if reverse else dh,
                                        layer_cache)
            dx = dx + (reverse_within_lengths(dx_d, lengths) if reverse else dx_d)   # eq. (6)
            # END SOLUTION
            grads.update({f"l{k}.{d}/{name}": value for name, value in g.items()})
        dout = dropout_backward(dx, mask)                                # eq. (7)
    return dout, grads


def final_states(out, bidirectional=True):
    """Each sequence's summary (B, H * num_directions), eq. (4): the forward state after
    its last valid step and the backward state after its first step (zeros for an empty
    sequence). The usual input of a classifier on top of the RNN."""
    H = out.shape[2] // len(directions(bidirectional))
    if out.shape[0] == 0:                   # T = 0: every sequence is empty
        return np.zeros(out.shape[1:], out.dtype)
    return np.concatenate([out[-1, :, :H], out[0, :, H:]], axis=1)


def final_states_backward(dfinal, T, bidirectional=True):
    """dL/dout (T, B, H * num_directions) from dL/dfinal (B, H * num_directions)."""
    H = dfinal.shape[1] // len(directions(bidirectional))
    dout = np.zeros((T, *dfinal.shape), dfinal.dtype)
    if T:                                   # T = 0: the states are zeros, out has no entry
        dout[-1, :, :H] = dfinal[:, :H]
        dout[0, :, H:] = dfinal[:, H:]
    return dout
