"""Kernels for ``minirnn.layers`` where NumPy has no fast equivalent."""
from numba import njit


@njit(cache=True)
def scatter_add_rows(dE, idx, dout):
    """dE[idx[n]] += dout[n] for every n (training eq. 1, backward): repeated ids add up.
    A plain loop in order, so the sums are the same on every run (np.add.at is ~20x
    slower here)."""
    for n in range(idx.shape[0]):
        row = idx[n]
        for d in range(dout.shape[1]):
            dE[row, d] += dout[n, d]


@njit(cache=True)
def max_over_time(h, lengths, out, arg):
    """out[b, j] = max of h[t, b, j] over t < lengths[b], arg its (first) t; an empty
    sequence gives 0 (training eq. 15). Rows run over contiguous units j."""
    for b in range(h.shape[1]):
        out[b] = 0.0
        arg[b] = 0
        if lengths[b] == 0:
            continue
        out[b] = h[0, b]
        for t in range(1, lengths[b]):
            for j in range(h.shape[2]):
                if h[t, b, j] > out[b, j]:
                    out[b, j] = h[t, b, j]
                    arg[b, j] = t
