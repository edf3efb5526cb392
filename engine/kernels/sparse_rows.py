"""Products with a mostly-zero left operand: a Dense layer's input that is an image with a blank
background (MNIST: 81% of the pixels are 0) or a multi-hot / one-hot vector.

``x @ W`` as sgemm costs 2·m·k·n FLOPs whatever x holds. Listing x's nonzeros row by row
(:func:`nonzeros`) and adding ``x[i, j] · W[j, :]`` for those only costs a pass over x plus
2·nnz·n; the weight gradient ``xᵀ @ dz`` the same, one row of it per column of x
(:func:`weight_grad`: each row of dW is summed once and written once, zero where the column is
all 0). Which is faster depends on the density and the output width: ``MAX_DENSITY`` below,
measured; ``SparseRows`` decides per batch for a Dense layer (engine/layers/core.py). Outside
training nothing is kept for a backward pass: ``SparseRows.product`` lists and multiplies chunks
of rows one at a time (:func:`product_chunks`, each chunk to sgemm when it is too dense),
shared with the polling partner inside predict / evaluate (engine/kernels/partner.py).

The sums run in another order than sgemm's (and with fused multiply-adds), so results differ
from the dense product in the last bits (float32 rounding), as two BLAS libraries' do. Entries
that are not 0 — NaN and inf included — are listed, so a non-finite input still gives a
non-finite output; a non-finite weight in a row that no input of the batch touches is not read
(the dense product would give NaN there: 0 · inf), and the training loop checks the weights
themselves.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from engine.kernels.gemm import product_threads, sgemm
from engine.kernels.parallel import fetch_add


@njit(cache=True, nogil=True)
def nonzeros(x, bits, limit, indptr, indices, values):
    """x (m, k) float, C-contiguous, and ``bits``, the same memory as unsigned integers of the
    same width (x.view): its nonzeros row by row into CSR arrays (``indices`` and ``values``
    hold limit + k entries, ``indptr`` m + 1). Returns how many, or -1 as soon as a row ends
    with more than ``limit``, or with more than twice the share of it that the rows so far may
    hold (a dense input is given up after its first row; the caller then multiplies densely).
    Blocks of 16 whose bits are all 0 (an image's background) are skipped after one vectorized
    test; in the others every entry is written at the next free slot, which moves on only for a
    nonzero (no branch to mispredict)."""
    m, k = x.shape
    nnz = 0
    indptr[0] = 0
    full = k - k % 16
    for i in range(m):
        xi = x[i]
        bi = bits[i]
        for j0 in range(0, full, 16):
            acc = bi[j0]
            for j in range(j0 + 1, j0 + 16):
                acc |= bi[j]
            if acc == 0:
                continue
            for j in range(j0, j0 + 16):
                v = xi[j]
                indices[nnz] = j
                values[nnz] = v
                nnz += v != 0
        for j in range(full, k):
            v = xi[j]
            indices[nnz] = j
            values[nnz] = v
            nnz += v != 0
        indptr[i + 1] = nnz
        if nnz > limit or nnz * m > 2 * limit * (i + 1):
            return -1
    return nnz


@njit(inline="always", fastmath={"contract"})
def _sum_rows(row, values, which, src, lo, hi):
    """row = Σ values[p] · src[which[p]] over p in lo..hi-1, four rows of src per pass over
    row (fewer loads and stores of it than one at a time)."""
    n = row.size
    row[:] = 0.0
    p = lo
    while p + 4 <= hi:
        v0, v1, v2, v3 = values[p], values[p + 1], values[p + 2], values[p + 3]
        r0, r1, r2, r3 = src[which[p]], src[which[p + 1]], src[which[p + 2]], src[which[p + 3]]
        for c in range(n):
            row[c] += (v0 * r0[c] + v1 * r1[c]) + (v2 * r2[c] + v3 * r3[c])
        p += 4
    while p < hi:
        v = values[p]
        r = src[which[p]]
        for c in range(n):
            row[c] += v * r[c]
        p += 1


@njit(cache=True, nogil=True, fastmath={"contract"})
def rows_times(indptr, indices, values, w, out):
    """out (m, n) = x @ w for x given by its nonzeros (CSR), w (k, n)."""
    for i in range(indptr.size - 1):
        _sum_rows(out[i], values, indices, w, indptr[i], indptr[i + 1])


@njit(cache=True, nogil=True, fastmath={"contract"})
def weight_grad(indptr, indices, values, dz, dw, colptr, rows, colvals):
    """dw (k, n) = xᵀ @ dz for x (m, k) given by its nonzeros (CSR); colptr (k + 1), rows and
    colvals (nnz) are scratch for the same nonzeros column by column (a counting sort)."""
    m = indptr.size - 1
    k = dw.shape[0]
    nnz = indptr[m]
    colptr[:] = 0
    for p in range(nnz):
        colptr[indices[p] + 1] += 1
    for j in range(k):
        colptr[j + 1] += colptr[j]
    for i in range(m):                   # rows in order: each column's list is sorted by row
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            q = colptr[j]
            rows[q] = i
            colvals[q] = values[p]
            colptr[j] = q + 1
    for j in range(k - 1, 0, -1):        # colptr[j] now ends column j: shift back to starts
        colptr[j] = colptr[j - 1]
    colptr[0] = 0
    for j in range(k):
        _sum_rows(dw[j], colvals, rows, dz, colptr[j], colptr[j + 1])


@njit(cache=True, nogil=True, fastmath={"contract"})
def _chunk_product(x, bits, w, out, lo, hi, limit, indptr, indices, values):
    """out[lo:hi] = x[lo:hi] @ w (float32, C-contiguous): by listing the rows' nonzeros when
    they hold at most ``limit`` (as :func:`nonzeros` judges), else as one sgemm. True when it
    was the sgemm."""
    if nonzeros(x[lo:hi], bits[lo:hi], limit, indptr, indices, values) >= 0:
        rows_times(indptr[:hi - lo + 1], indices, values, w, out[lo:hi])
        return False
    k = x.shape[1]
    n = w.shape[1]
    sgemm(False, False, hi - lo, n, k, 1.0, x.ctypes.data + lo * k * 4, k, w.ctypes.data, n,
          0.0, out.ctypes.data + lo * n * 4, n)
    return True


@njit(cache=True, nogil=True)
def product_chunks(x, bits, w, out, rows, limit, counter, slot, dense, dense_slot, indptr,
                   indices, values):
    """out = x @ w for inference, in chunks of ``rows`` rows taken from counter[slot] (one
    thread, or the calling thread and the polling partner: engine/kernels/partner.py); each
    chunk is listed or, when it has more than ``limit`` nonzeros, one sgemm, counted in
    dense[dense_slot]. indptr (rows + 1), indices and values (limit + k) are this thread's
    scratch."""
    m = x.shape[0]
    nchunks = (m + rows - 1) // rows
    while True:
        c = fetch_add(counter, slot)
        if c >= nchunks:
            break
        lo = c * rows
        if _chunk_product(x, bits, w, out, lo, min(m, lo + rows), limit, indptr, indices,
                          values):
            fetch_add(dense, dense_slot)


# The densest input (nonzeros / entries) for which the listed product beats sgemm, by the
# product's output width n: each nonzero costs a pass over a row of n weights in both products,
# sgemm ~2·n / 85 GFLOP/s per entry of x. Measured 2026-12-05 (one thread, random positions;
# engine/kernels/sparse_rows.py's functions against numpy's OpenBLAS sgemm, forward + weight
# gradient): n = 128, batch 32 × 784: density 0.1 → 0.52 of sgemm's time, 0.2 → 0.86, 0.3 →
# 1.07; n = 64, batch 128 × 1000: 0.1 → 0.76, 0.2 → 1.24; n = 16, batch 32 × 10,000: 0.01 →
# 0.51, 0.05 → 1.23. MNIST digits (density 0.19, 0.23 in the densest of 2,000 batches of 32;
# zeros in runs that the scan skips 16 at a time) at n = 128, batch 32, in the seed MLP's
# training steps: scan 22 µs + product 37 µs + weight gradient 54 µs against sgemm's 75 + 70 µs.
MAX_DENSITY = ((128, 0.25), (64, 0.12), (16, 0.02))
# After a batch that was too dense, the next RETRY_AFTER batches go straight to sgemm (a hidden
# layer's relu output is ~50% nonzero every time: its scan is wasted work).
RETRY_AFTER = 32
# Inference lists and multiplies chunks of this many rows (SparseRows.product): each chunk's
# listing stays in the cache for its product, and chunks are what the polling partner shares.
CHUNK_ROWS = 32
# float32 (the engine's), and float64 (the gradient checks run in it); the integer type of the
# same width is what the scan tests whole blocks of
_BITS = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def max_density(n: int) -> float:
    """The densest input worth listing for an output width n (0: never)."""
    for width, density in MAX_DENSITY:
        if n >= width:
            return density
    return 0.0


class SparseRows:
    """A Dense layer's choice between the listed product and sgemm, batch by batch: ``scan``
    returns the batch's listing (for ``times`` and ``weight_grad_of``) or None. The listing is
    the caller's to keep with the call (a shared layer is called several times before its
    backward passes); this object keeps only the retry counts."""

    def __init__(self):
        self.skip = 0
        self.skip_inference = 0     # the same for product(), which weighs chunks on one thread

    def scan(self, x2: np.ndarray, n: int, threads: int | None = None):
        """The nonzeros of x2 (m, k) when it is sparse enough to multiply by listing them, for
        an output width n, against sgemm on ``threads`` threads (None: as many as matmul would
        give it now); else None."""
        density = max_density(n)
        if (density <= 0.0 or x2.dtype not in _BITS or x2.ndim != 2 or
                not x2.flags.c_contiguous or x2.size == 0):
            return None
        if self.skip > 0:
            self.skip -= 1
            return None
        m, k = x2.shape
        density /= product_threads(m, n, k) if threads is None else threads
        limit = int(density * m * k)
        indptr = np.empty(m + 1, np.int64)
        indices = np.empty(limit + k, np.int32)
        values = np.empty(limit + k, x2.dtype)
        if nonzeros(x2, x2.view(_BITS[x2.dtype]), limit, indptr, indices, values) < 0:
            self.skip = RETRY_AFTER
            return None
        return indptr, indices, values

    def product(self, x2: np.ndarray, w: np.ndarray) -> np.ndarray | None:
        """x2 @ w for a forward pass that keeps no listing (inference: predict, evaluate), in
        chunks of CHUNK_ROWS rows, each listed when sparse enough for the output width and
        else one sgemm; the chunks are shared with the polling partner inside partnered()
        (engine/kernels/partner.py). None when the product is not for listing: not float32,
        an output too narrow, or recent batches mostly too dense."""
        m, n = x2.shape[0], w.shape[1]
        density = max_density(n)
        if (density <= 0.0 or x2.dtype != np.float32 or w.dtype != np.float32 or
                x2.ndim != 2 or not x2.flags.c_contiguous or not w.flags.c_contiguous or
                x2.size == 0):
            return None
        if self.skip_inference > 0:
            self.skip_inference -= 1
            return None
        from engine.kernels import partner     # not at the top: partner.py imports this module
        k = x2.shape[1]
        # four chunks at least when the batch allows it (two per thread with the partner)
        rows = CHUNK_ROWS if m >= 4 * CHUNK_ROWS else max(1, -(-m // 4))
        out = np.empty((m, n), np.float32)
        dense = partner.listed_product(x2, x2.view(np.uint32), w, out, rows,
                                       int(density * rows * k))
        if 2 * dense > -(-m // rows):             # mostly dense: sgemm for the next batches
            self.skip_inference = RETRY_AFTER
        return out


def times(listed, w: np.ndarray) -> np.ndarray:
    """x @ w for the batch x that ``listed`` (SparseRows.scan) lists."""
    indptr, indices, values = listed
    out = np.empty((indptr.size - 1, w.shape[1]), values.dtype)
    rows_times(indptr, indices, values, w.astype(values.dtype, copy=False), out)
    return out


def weight_grad_of(listed, dz: np.ndarray, dw: np.ndarray) -> None:
    """dw = xᵀ @ dz for the batch x that ``listed`` lists (every entry of dw written)."""
    indptr, indices, values = listed
    nnz = int(indptr[-1])
    weight_grad(indptr, indices, values, np.ascontiguousarray(dz, values.dtype), dw,
                np.empty(dw.shape[0] + 1, np.int64), np.empty(nnz, np.int32),
                np.empty(nnz, values.dtype))
