"""The sparse x dense product of ``minirnn.gcn``: out = A M for A in CSR form, CPU and CUDA.

Equation numbers refer to ``docs/gcn.rst``. Row i of A holds its nonzeros
``data[indptr[i]:indptr[i+1]]`` in the columns ``indices[indptr[i]:indptr[i+1]]``, so
row i of the product is a weighted sum of the rows of M that node i is linked to:
O(nnz(A) * C) work instead of the O(N^2 * C) of a dense product. The backward pass
needs A^T G; it calls the same kernel on the transposed CSR (``CSR.T`` in
``minirnn.gcn``), so every output row is still written by one thread only and the
sums come out the same on every run, with no atomic adds.
"""
from numba import cuda, njit

from .common import launch, launch_config, require_gpu, to_device


@njit(cache=True)
def spmm_cpu(indptr, indices, data, M, out):
    """out (N, C) = A M for A = (indptr, indices, data) and M (N', C).

    Serial on purpose: on Cora a product takes 0.1-0.2 ms, and a parallel loop
    (prange over rows) was no faster at its best (3.4 against 2.9 ms per training
    epoch) and ten times slower in the median on a shared 2-core machine, where each
    parallel region waits for a descheduled thread."""
    for i in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[i, c] = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            a, j = data[k], indices[k]
            for c in range(out.shape[1]):
                out[i, c] += a * M[j, c]                           # eq. (5)


@cuda.jit
def _spmm_cuda(indptr, indices, data, M, out):
    i, c = cuda.grid(2)
    if i >= out.shape[0] or c >= out.shape[1]:
        return
    s = 0.0
    for k in range(indptr[i], indptr[i + 1]):
        s += data[k] * M[indices[k], c]                           # eq. (5)
    out[i, c] = s


def spmm_cuda(indptr, indices, data, M, out):
    """The CUDA twin of ``spmm_cpu``: one thread per (row, column) of out."""
    require_gpu()
    blocks, threads = launch_config(*out.shape)
    d_out = cuda.device_array(out.shape, out.dtype)
    launch(_spmm_cuda, (blocks, threads), *to_device(indptr, indices, data, M), d_out)
    d_out.copy_to_host(out)


KERNELS = {"cpu": spmm_cpu, "cuda": spmm_cuda}
