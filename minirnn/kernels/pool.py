"""Memory for the recurrent CPU kernels' large arrays, kept from one call to the next.

A train step of the Elman RNN, LSTM or GRU allocates arrays the size of the whole
sequence: all steps' gates, states and cells, and dx. glibc serves each from memory the
operating system maps in page by page: arrays over its 32 MB limit (float64 LSTM or GRU
gates at T = 200, B = 64, H = 128) are mapped afresh on every call, and freed heap
memory is handed back to the OS once enough of it is free at once. Every page is then
a page fault again on the next step: 400-2,300 per float64 LSTM or GRU train step
here (docs/lstm.rst, "How it is computed"). ``empty`` lends the memory of arrays that
are no longer used instead.

When is an array no longer used? Each lent array is a view of a flat byte array that
the pool keeps, and every view of an array holds a reference to that base. So once
the base's reference count is the pool's own, no array, view or cache holds it any
more: the test ``ndarray.resize`` makes before it moves an array's memory.
"""
import math
import sys
import threading

import numpy as np

#: Arrays smaller than this come from np.empty: glibc's heap serves them without faults.
POOL_BYTES = 1 << 20

_bases = []                     # flat uint8 arrays; a base is lent while anything holds it
_lock = threading.Lock()        # two threads must not both see a base free and take it


def _references(bases, k):
    return sys.getrefcount(bases[k])


#: _references of a base that nothing but its list holds, measured rather than
#: assumed: 2 in CPython 3.11 (the list and the argument), but an interpreter may
#: borrow the argument's reference instead of counting it.
_ONLY_THE_POOL = _references([np.empty(1, np.uint8)], 0)


def _free(k):
    """Whether nothing but the pool holds _bases[k]."""
    return _references(_bases, k) == _ONLY_THE_POOL


def empty(shape, dtype):
    """np.empty(shape, dtype), on the memory of a large array no longer used when the
    pool has one big enough (the smallest such). Otherwise a new base is made, and the
    unused bases smaller than it are let go, so what the pool keeps follows the largest
    arrays in use at once instead of every size ever asked for."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < POOL_BYTES:
        return np.empty(shape, dtype)
    with _lock:
        free = [k for k in range(len(_bases)) if _free(k)]
        fits = [k for k in free if _bases[k].size >= nbytes]
        if fits:
            base = _bases[min(fits, key=lambda k: _bases[k].size)]
        else:
            for k in reversed(free):
                del _bases[k]
            base = np.empty(nbytes, np.uint8)
            _bases.append(base)
        return base[:nbytes].view(dtype).reshape(shape)


def matmul(a, b):
    """a @ b for a (N, K) and b (K, M), written into an array from ``empty``."""
    return np.matmul(a, b, out=empty((a.shape[0], b.shape[1]), np.result_type(a, b)))
