"""Products with a mostly-zero operand: a Dense layer's input that is an image with a blank
background (MNIST: 81% of the pixels are 0) or a multi-hot / one-hot vector, and a Dense
layer's output gradient after relu and Dropout (the seed CNN's Dense(128): 21 – 28 % nonzero).

``x @ W`` as sgemm costs 2·m·k·n FLOPs whatever x holds. Listing x's nonzeros row by row
(:func:`nonzeros`) and adding ``x[i, j] · W[j, :]`` for those only costs a pass over x plus
2·nnz·n; the weight gradient ``xᵀ @ dz`` the same, one row of it per column of x
(:func:`weight_grad`: each row of dW is summed once and written once, zero where the column is
all 0). Which is faster depends on the density and the output width: ``MAX_DENSITY`` below,
measured; ``SparseRows`` decides per batch for a Dense layer (engine/layers/core.py). Outside
training nothing is kept for a backward pass: ``SparseRows.product`` lists and multiplies chunks
of rows one at a time (:func:`product_chunks`, each chunk to sgemm when it is too dense),
shared with the polling partner inside predict / evaluate (engine/kernels/partner.py).
``SparseRows.backward`` lists the output gradient dz instead, row by row and column by column,
for both of the layer's backward products (:func:`dense_backward`: ``xᵀ·dz`` and ``dz·Wᵀ`` in
blocks of x's columns on the policy's threads; GRAD_MAX_DENSITY below, measured).

The sums run in another order than sgemm's (and with fused multiply-adds), so results differ
from the dense product in the last bits (float32 rounding), as two BLAS libraries' do. Entries
that are not 0 — NaN and inf included — are listed, so a non-finite input still gives a
non-finite output; a non-finite weight in a row that no input of the batch touches (or, in
the backward from dz, a column no gradient touches) is not read (the dense product would give
NaN there: 0 · inf), and the training loop checks the weights themselves.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from engine import threading_policy as policy
from engine.kernels.gemm import product_threads, sgemm
from engine.kernels.lanes import (compress16, row_sum16, row_sum64, row_sum128,
                                  transpose_block)
from engine.kernels.parallel import fetch_add, take_samples


@njit(cache=True, nogil=True)
def nonzeros(x, limit, indptr, indices, values):
    """x (m, k) float, C-contiguous: its nonzeros row by row into CSR arrays (``indices`` and
    ``values`` hold limit + k entries, ``indptr`` m + 1). Returns how many, or -1 as soon as a
    row ends with more than ``limit``, or with more than twice the share of it that the rows so
    far may hold (a dense input is given up after its first row; the caller then multiplies
    densely). Blocks of 16 entries are listed by lanes.compress16 (packed, whatever their
    count: an image's blank background costs one vector test a block), the last k % 16 one by
    one. A row starts with at most ``limit`` listed, so its blocks' writes of 16 slots end
    within limit + k."""
    m, k = x.shape
    if (indptr.size < m + 1 or indices.size < limit + k or values.size < limit + k
            or (m > 1 and x.strides[0] != k * x.itemsize)
            or (k > 1 and x.strides[1] != x.itemsize)):
        raise ValueError("nonzeros: x must be C-contiguous, indptr hold m + 1 entries and "
                         "indices and values limit + k")
    nnz = 0
    indptr[0] = 0
    full = k - k % 16
    for i in range(m):
        xi = x[i]
        for j0 in range(0, full, 16):
            nnz += compress16(x, i * k + j0, j0, indices, values, nnz)
        for j in range(full, k):
            v = xi[j]
            indices[nnz] = j
            values[nnz] = v
            nnz += v != 0
        indptr[i + 1] = nnz
        if nnz > limit or nnz * m > 2 * limit * (i + 1):
            return -1
    return nnz


@njit(inline="always")
def _sum_block(out, orow, ocol, src, scol, values, which, lo, hi, width):
    """out[orow, ocol:ocol + width] = Σ values[p] · src[which[p], scol:scol + width] over p in
    lo..hi-1 (out C-contiguous, src's rows each contiguous): the columns in blocks of 128, 64
    and 16 whose sums stay in vector registers over the whole list (kernels/lanes.py), the
    last width % 16 one by one."""
    at = orow * out.shape[1] + ocol
    ld = src.strides[0] // src.itemsize
    c = 0
    while c + 128 <= width:
        row_sum128(out, at + c, src, scol + c, ld, values, which, lo, hi)
        c += 128
    while c + 64 <= width:
        row_sum64(out, at + c, src, scol + c, ld, values, which, lo, hi)
        c += 64
    while c + 16 <= width:
        row_sum16(out, at + c, src, scol + c, ld, values, which, lo, hi)
        c += 16
    row = out[orow]
    for cc in range(c, width):
        row[ocol + cc] = 0.0
    for p in range(lo, hi):
        v = values[p]
        r = src[which[p]]
        for cc in range(c, width):
            row[ocol + cc] += v * r[scol + cc]


@njit(inline="always")
def _sum_rows(out, i, values, which, src, lo, hi):
    """out[i] = Σ values[p] · src[which[p]] over p in lo..hi-1 (:func:`_sum_block` over the
    whole row)."""
    _sum_block(out, i, 0, src, 0, values, which, lo, hi, out.shape[1])


@njit(inline="always")
def _check_rows(out, src):
    """_sum_rows' layout: out C-contiguous, src's rows each contiguous, both as wide."""
    m, n = out.shape
    if (src.shape[1] != n or (m > 1 and out.strides[0] != n * out.itemsize)
            or (n > 1 and (out.strides[1] != out.itemsize or src.strides[1] != src.itemsize))):
        raise ValueError("listed product: out must be C-contiguous and src's rows contiguous, "
                         "of the same width")


@njit(cache=True, nogil=True)
def rows_times(indptr, indices, values, w, out):
    """out (m, n) = x @ w for x given by its nonzeros (CSR), w (k, n)."""
    _check_rows(out, w)
    for i in range(indptr.size - 1):
        _sum_rows(out, i, values, indices, w, indptr[i], indptr[i + 1])


@njit(inline="always")
def _by_column(indptr, indices, values, k, colptr, rows, colvals):
    """The same nonzeros column by column (a counting sort into CSR arrays of xᵀ): colptr
    (k + 1), rows and colvals (nnz). Within a column, rows in order."""
    m = indptr.size - 1
    nnz = indptr[m]
    # column j's count at colptr[j + 1]; an exclusive running sum makes colptr[j + 1] column
    # j's start, and placing the column's entries moves it to the column's end, column j + 1's
    # start: colptr[j], colptr[j + 1] end as column j's range, no shift back. Unsigned
    # positions: no negative-index code. 11.4 µs against 17.5 for the sort with both (a seed
    # MLP batch of 32, one thread, mean over 750 batches, 2026-12-05).
    colptr[:] = 0
    for p in range(nnz):
        colptr[uint64(indices[p]) + uint64(1)] += 1
    start = 0
    for j in range(k + 1):
        count = colptr[j]
        colptr[j] = start
        start += count
    for i in range(m):                   # rows in order: each column's list is sorted by row
        for p in range(indptr[i], indptr[i + 1]):
            j = uint64(indices[p]) + uint64(1)
            q = colptr[j]
            rows[q] = i
            colvals[q] = values[p]
            colptr[j] = q + 1


@njit(cache=True, nogil=True)
def weight_grad(indptr, indices, values, dz, dw, colptr, rows, colvals):
    """dw (k, n) = xᵀ @ dz for x (m, k) given by its nonzeros (CSR); colptr (k + 1), rows and
    colvals (nnz) are scratch for the same nonzeros column by column (a counting sort)."""
    k = dw.shape[0]
    _by_column(indptr, indices, values, k, colptr, rows, colvals)
    _check_rows(dw, dz)
    for j in range(k):
        _sum_rows(dw, j, colvals, rows, dz, colptr[j], colptr[j + 1])


@njit(inline="always")
def _backward_blocks(x, w, zptr, zidx, zval, tptr, tidx, tval, dw, dx, need_dx, counter):
    """One thread's part of :func:`dense_backward`: blocks taken from counter[0] until none
    are left."""
    m, k = x.shape
    n = w.shape[1]
    nblocks = (k + 127) // 128
    scratch = np.empty((n, 128), np.float32)
    while True:
        _, j0, width = take_samples(counter, nblocks, 128, k)
        if width == 0:
            break
        for c in range(n):                  # dwᵀ[c, block] = Σ_i dz[i, c] · x[i, block]
            _sum_block(scratch, c, 0, x, j0, tval, tidx, tptr[c], tptr[c + 1], width)
        transpose_block(scratch, 0, 0, dw, j0, 0, n, width)
        if need_dx:                         # dx[i, block] = Σ_c dz[i, c] · wᵀ[c, block]
            transpose_block(w, j0, 0, scratch, 0, 0, width, n)
            for i in range(m):
                _sum_block(dx, i, j0, scratch, 0, zval, zidx, zptr[i], zptr[i + 1], width)


@njit(parallel=True, cache=True, nogil=True)
def dense_backward(x, w, zptr, zidx, zval, tptr, tidx, tval, dw, dx, need_dx, nworkers):
    """A Dense layer's gradients from its output gradient dz (m, n) given by its nonzeros, row
    by row (zptr, zidx, zval) and column by column (tptr, tidx, tval: dzᵀ): dw (k, n) = xᵀ·dz
    and, with need_dx, dx (m, k) = dz·wᵀ; x (m, k) and w (k, n) dense, all float32 with
    contiguous rows. Work: blocks of 128 of the k columns, taken from a counter by ``nworkers``
    threads; for each, the block of dwᵀ (n rows summed from dz's columns over x's block) and
    of wᵀ are made in the thread's scratch, dwᵀ's turned into dw's rows, and dx's block summed
    from dz's rows over wᵀ's."""
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        _backward_blocks(x, w, zptr, zidx, zval, tptr, tidx, tval, dw, dx, need_dx, counter)


@njit(cache=True, nogil=True)
def dense_backward_serial(x, w, zptr, zidx, zval, tptr, tidx, tval, dw, dx, need_dx):
    """:func:`dense_backward` on the calling thread alone (no parallel region to start)."""
    counter = np.zeros(1, np.int64)
    _backward_blocks(x, w, zptr, zidx, zval, tptr, tidx, tval, dw, dx, need_dx, counter)


@njit(cache=True, nogil=True)
def nonzeros_both_ways(z, limit, zptr, zidx, zval, tptr, tidx, tval):
    """z's nonzeros row by row (:func:`nonzeros`) and column by column (tptr: n + 1 entries;
    tidx, tval: limit + n), or -1 when there are more than ``limit``."""
    nnz = nonzeros(z, limit, zptr, zidx, zval)
    if nnz >= 0:
        _by_column(zptr, zidx, zval, z.shape[1], tptr, tidx, tval)
    return nnz


@njit(cache=True, nogil=True, fastmath={"contract"})
def _chunk_product(x, w, out, lo, hi, limit, indptr, indices, values):
    """out[lo:hi] = x[lo:hi] @ w (float32, C-contiguous): by listing the rows' nonzeros when
    they hold at most ``limit`` (as :func:`nonzeros` judges), else as one sgemm. True when it
    was the sgemm."""
    if nonzeros(x[lo:hi], limit, indptr, indices, values) >= 0:
        rows_times(indptr[:hi - lo + 1], indices, values, w, out[lo:hi])
        return False
    k = x.shape[1]
    n = w.shape[1]
    sgemm(False, False, hi - lo, n, k, 1.0, x.ctypes.data + lo * k * 4, k, w.ctypes.data, n,
          0.0, out.ctypes.data + lo * n * 4, n)
    return True


@njit(cache=True, nogil=True)
def product_chunks(x, w, out, rows, limit, counter, slot, dense, dense_slot, indptr,
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
        if _chunk_product(x, w, out, lo, min(m, lo + rows), limit, indptr, indices,
                          values):
            fetch_add(dense, dense_slot)


# The densest input (nonzeros / entries) for which the listed product is taken over sgemm, by the
# product's output width n: each nonzero costs a pass over a row of n weights in both products,
# sgemm ~2·n / 85 GFLOP/s per entry of x. Measured by bench/listed_density.py (one thread, random
# positions, forward + weight gradient; 2026-12-05, the kernels of kernels/lanes.py), listed /
# sgemm: n = 128, batch 32 × 784: density 0.1 → 0.34, 0.2 → 0.57, 0.3 → 0.81, 0.4 → 1.02;
# n = 64, batch 128 × 1000: 0.1 → 0.38, 0.2 → 0.67, 0.25 → 0.81, 0.3 → 0.96; n = 16, batch
# 32 × 10,000: 0.02 → 0.51, 0.05 → 0.76, 0.1 → 1.07. Each limit is where the listed way took
# about 0.8 of sgemm's time (a scan that gives up on a denser batch is wasted). MNIST digits
# (density 0.19, 0.23 in the densest of 2,000 batches of 32; a blank 16-pixel block costs one
# vector test) at n = 128, batch 32: 75 µs against sgemm's 148 (median of 50 batches).
MAX_DENSITY = ((128, 0.3), (64, 0.25), (16, 0.05))
# A Dense layer's output gradient dz (m, n) is listed for its two backward products
# (dense_backward) when it has at most GRAD_MAX_DENSITY nonzeros and the products are big
# enough to be worth a scan (GRAD_MIN_FMAS multiply-adds each): relu zeros and Dropout's drops
# leave the seed CNN's Dense(5408 → 128) a dz with 21 – 28 % nonzeros. bench/listed_density.py
# (idle, two threads for both ways, median of 50; 2026-12-06), listed / matmul_pair at density
# 0.2 / 0.3 / 0.4: x (128, 5408) and dz (128, 128) 0.45 – 0.48 / 0.59 – 0.86 / 1.09 – 1.16;
# x (128, 4096), dz (128, 256) 0.50 – 0.56 / 0.72 – 0.73 / 0.91 – 1.05; x (32, 1000), dz (32,
# 100), 3.2 M multiply-adds, on one thread each: 0.59 / 0.63 / 1.00; x (7, 300), dz (7, 33):
# 0.92 / 1.02 / 1.10.
GRAD_MAX_DENSITY = 0.3
GRAD_MIN_FMAS = 1_000_000
# After a batch that was too dense, the next RETRY_AFTER batches go straight to sgemm (a hidden
# layer's relu output is ~50% nonzero every time: its scan is wasted work).
RETRY_AFTER = 32
# Inference lists and multiplies chunks of this many rows (SparseRows.product): each chunk's
# listing stays in the cache for its product, and chunks are what the polling partner shares.
CHUNK_ROWS = 32
# float32 (the engine's), and float64 (the gradient checks run in it)
_LISTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def listing_buffers(rows: int, limit: int, k: int, dtype=np.float32):
    """Empty CSR arrays for :func:`nonzeros` to list at most ``limit`` nonzeros of ``rows`` rows
    of k entries: indptr (rows + 1), indices and values (limit + k, the room its 16-slot
    writes need)."""
    return (np.empty(rows + 1, np.int64), np.empty(limit + k, np.int32),
            np.empty(limit + k, dtype))


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
        self.skip_grad = 0          # the same for backward()

    def scan(self, x2: np.ndarray, n: int, threads: int | None = None):
        """The nonzeros of x2 (m, k) when it is sparse enough to multiply by listing them, for
        an output width n, against sgemm on ``threads`` threads (None: as many as matmul would
        give it now); else None."""
        density = max_density(n)
        if (density <= 0.0 or x2.dtype not in _LISTED_DTYPES or x2.ndim != 2 or
                not x2.flags.c_contiguous or x2.size == 0):
            return None
        if self.skip > 0:
            self.skip -= 1
            return None
        m, k = x2.shape
        density /= product_threads(m, n, k) if threads is None else threads
        limit = int(density * m * k)
        indptr, indices, values = listing_buffers(m, limit, k, x2.dtype)
        if nonzeros(x2, limit, indptr, indices, values) < 0:
            self.skip = RETRY_AFTER
            return None
        return indptr, indices, values

    def backward(self, x2: np.ndarray, w: np.ndarray, dz: np.ndarray, dw: np.ndarray,
                 need_dx: bool) -> tuple[bool, np.ndarray | None]:
        """dw = x2ᵀ·dz and, with need_dx, dx = dz·wᵀ from dz's nonzeros (dense_backward) when
        dz holds at most GRAD_MAX_DENSITY of them and the products are big enough
        (GRAD_MIN_FMAS): (True, dx or None). Else (False, None): the caller multiplies."""
        m, k = x2.shape
        n = w.shape[1]
        if m * k * n < GRAD_MIN_FMAS:            # first: the cheapest test, every step
            return False, None
        if self.skip_grad > 0:
            self.skip_grad -= 1
            return False, None
        if not all(a.dtype == np.float32 and a.ndim == 2 and a.flags.c_contiguous
                   for a in (x2, w, dz, dw)) or dz.shape != (m, n) or dw.shape != (k, n):
            return False, None
        limit = int(GRAD_MAX_DENSITY * m * n)
        zptr, zidx, zval = listing_buffers(m, limit, n)     # dz row by row
        tptr, tidx, tval = listing_buffers(n, limit, n)     # and column by column
        nnz = nonzeros_both_ways(dz, limit, zptr, zidx, zval, tptr, tidx, tval)
        if nnz < 0:
            self.skip_grad = RETRY_AFTER
            return False, None
        dx = np.empty((m, k) if need_dx else (0, 0), np.float32)
        nworkers = policy.workers((2 if need_dx else 1) * 2.0 * nnz * k, -(-k // 128))
        if nworkers > 1:
            dense_backward(x2, w, zptr, zidx, zval, tptr, tidx, tval, dw, dx, need_dx, nworkers)
        else:
            dense_backward_serial(x2, w, zptr, zidx, zval, tptr, tidx, tval, dw, dx, need_dx)
        return True, (dx if need_dx else None)

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
        dense = partner.listed_product(x2, w, out, rows, int(density * rows * k))
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
