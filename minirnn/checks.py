"""Input checks shared by the concept modules: fail early, saying expected vs got."""
import numbers

import numpy as np

FLOATS = (np.float32, np.float64)


def float_array(name, x, ndim, dtype=None):
    """x must be an ndarray of ``ndim`` dims, float32/float64 (or exactly ``dtype``)."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {x.shape}")
    if dtype is not None and x.dtype != dtype:
        raise ValueError(f"{name}: expected dtype {np.dtype(dtype)}, got {x.dtype}")
    if x.dtype not in FLOATS:
        raise ValueError(f"{name}: expected float32 or float64, got {x.dtype}")


def shape(name, x, expected, source=None):
    """Shapes compare with None as a wildcard: shape('h0', h0, (B, H)). ``source`` names
    the array the sizes come from, when that one may be the wrong one."""
    if x.ndim != len(expected) or any(e is not None and e != s for e, s in zip(expected, x.shape)):
        want = str(tuple("?" if e is None else e for e in expected)).replace("'", "")
        match = f" (to match {source})" if source else ""
        raise ValueError(f"{name}: expected shape {want}{match}, got {x.shape}")


def lengths(lengths, B, T):
    """Sequence lengths (B,) of integers in [0, T]; None means every sequence is full."""
    if lengths is None:
        return np.full(B, T, np.int64)
    lengths = np.asarray(lengths)
    if lengths.shape != (B,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths: expected {B} integers, got {lengths.dtype} array "
                         f"of shape {lengths.shape}")
    if lengths.size and (lengths.min() < 0 or lengths.max() > T):
        raise ValueError(f"lengths: expected values in [0, {T}], got "
                         f"[{lengths.min()}, {lengths.max()}]")
    return lengths.astype(np.int64)


def count(name, n):
    """n must be an integer >= 0: a number of steps or sequences to draw. A negative
    one means nothing (NumPy refuses it only as "negative dimensions", and a loop
    over it draws nothing); 0 draws an empty array. Returns n as an int."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{name}: expected an integer >= 0, got {n!r}")
    return int(n)


def ids(name, idx, n):
    """idx must hold integers in [0, n): NumPy would take -1 as the last row or class."""
    idx = np.asarray(idx)
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"{name}: expected integer ids, got {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"{name}: expected ids in [0, {n}), got [{idx.min()}, {idx.max()}]")


def finite(name, x):
    """Stop on NaN/inf, naming the first offending index."""
    bad = ~np.isfinite(x)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}: non-finite value {x[where]} at index {where}")


def number(name, x):
    """x must be one real number (a Python or NumPy scalar, or a 0-d array): a kernel
    typed for a scalar meets an array with a Numba typing error that names nothing."""
    value = x[()] if isinstance(x, np.ndarray) and x.ndim == 0 else x
    if not isinstance(value, numbers.Real):
        got = f"an array of shape {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"{name}: expected one number, got {got}")


def in_place(name, x, who, flat=False):
    """x is a parameter that optimizer ``who`` updates in place: it must be writeable
    (a read-only array cannot take the update), and C-contiguous when the update runs
    over a flat view (a transposed view, a tied weight say, would flatten to a copy
    that takes the update in its place)."""
    if flat and not (x.flags.c_contiguous and x.flags.writeable):
        raise ValueError(f"{name}: {who} updates it in place through a flat view, which "
                         f"needs a writeable C-contiguous array (np.ascontiguousarray)")
    if not x.flags.writeable:
        raise ValueError(f"{name}: {who} updates it in place, which needs a writeable "
                         f"array, got a read-only one (np.array makes a writeable copy)")


def nonnegative(name, x):
    """Stop on a negative entry, naming the first one: a sum alone can hide it."""
    if x.size and x.min() < 0:
        where = tuple(int(i) for i in np.argwhere(x < 0)[0])
        raise ValueError(f"{name}: negative value {x[where]} at index {where} "
                         f"(expected values >= 0)")


def present(params, key, prefix=""):
    """params must hold ``key`` (a KeyError would not say what it has: the keys that
    start with ``prefix`` are listed). Returns key."""
    if key not in params:
        raise ValueError(f"params: missing {key!r}; has "
                         f"{sorted(k for k in params if k.startswith(prefix))}")
    return key


def parameters(params, prefix="", dtype=None, **shapes):
    """Each params[prefix + name] a float array of shapes[name] (None: any size), all of
    ``dtype`` (default: the first one's): a wrong-sized bias would otherwise be read past
    its end by a kernel, which checks no bounds. Errors name the key, prefix included
    (``prefix``: one cell's parameters inside a larger dict, as birnn keeps them)."""
    first = None
    for name, want in shapes.items():
        key = present(params, prefix + name, prefix)
        x = params[key]
        float_array(key, x, len(want))
        if dtype is not None and x.dtype != dtype:
            source = f" (that of {first})" if first else ""
            raise ValueError(f"{key}: expected dtype {np.dtype(dtype)}{source}, got {x.dtype}")
        shape(key, x, want)
        if dtype is None:
            dtype, first = x.dtype, key


def parameter_shape(params, name, ndim, prefix=""):
    """The shape of params[prefix + name], once checked to be there, a float array of
    ``ndim`` dimensions: the sizes the other parameters are then checked against (a
    cell's H from W_h) with ``parameters``, which should check it first: a wrong one is
    then named itself, not the next parameter measured against it."""
    parameters(params, prefix, **{name: (None,) * ndim})
    return params[prefix + name].shape


def recurrent_inputs(x, W_x, H, seq_lengths, **states):
    """The checks every recurrent cell's forward makes: x (T, B, D) of W_x's dtype and
    input size, finite; each initial state (B, H), zeros when None, finite; lengths.
    Returns the lengths (B,) int64 followed by the states, in the order given."""
    float_array("x", x, 3, W_x.dtype)
    shape("x", x, (None, None, W_x.shape[0]), f"W_x of shape {W_x.shape}")
    finite("x", x)
    T, B, _ = x.shape
    filled = []
    for name, state in states.items():
        state = np.zeros((B, H), x.dtype) if state is None else state
        float_array(name, state, 2, x.dtype)
        shape(name, state, (B, H))
        finite(name, state)
        filled.append(state)
    return (lengths(seq_lengths, B, T), *filled)
