"""BatchNormalization kernels over the last axis of x (M rows = every position of every sample,
C channels): batch statistics, the normalization, and the backward pass — each one pass over
the data (numpy needed five to eight for the same).

Rows are cut into chunks that the threads take from a counter (dynamic sharing); the per-channel
sums are kept per chunk, in float64, and added in chunk order, so results do not depend on which
thread ran which chunk. The variance is computed from sums of x − K, K the first row (shifted
data: no cancellation when the mean is large against the spread).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from engine.kernels.parallel import fetch_add

OPT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": True}


@njit(**OPT)
def _rows(chunk, nchunks, m):
    return chunk * m // nchunks, (chunk + 1) * m // nchunks


# Rows per block of the batch statistics: each block is summed in x's dtype into local arrays,
# which the compiler vectorizes, and the blocks are added in float64 (1M float32 values, 32
# channels, one thread: 0.31 ms against 0.17 ms accumulating every row in float64). The
# gradient sums stay in float64: they read three arrays and were no faster in blocks.
BLOCK = 64


@njit(**OPT)
def _shifted_sums(x, r0, r1, shift, s1, s2):
    """s1[c] = Σ (x − shift), s2[c] = Σ (x − shift)² over rows r0..r1-1 (float64 totals of
    blocks of BLOCK rows summed in x's dtype)."""
    c = x.shape[1]
    sh = shift.astype(x.dtype)
    b1 = np.empty(c, x.dtype)
    b2 = np.empty(c, x.dtype)
    t1 = np.zeros(c)
    t2 = np.zeros(c)
    for r in range(r0, r1, BLOCK):
        b1[:] = 0
        b2[:] = 0
        for q in range(r, min(r + BLOCK, r1)):
            xr = x[q]
            for k in range(c):
                d = xr[k] - sh[k]
                b1[k] += d
                b2[k] += d * d
        for k in range(c):
            t1[k] += b1[k]
            t2[k] += b2[k]
    s1[:] = t1
    s2[:] = t2


@njit(**OPT)
def _affine(x, r0, r1, center, scale, offset, relu, y):
    """y = (x − center)·scale + offset per channel (then max(·, 0) with relu), rows r0..r1-1."""
    zero = y.dtype.type(0)
    for r in range(r0, r1):
        xr = x[r]
        yr = y[r]
        if relu:
            for k in range(x.shape[1]):
                yr[k] = max((xr[k] - center[k]) * scale[k] + offset[k], zero)
        else:
            for k in range(x.shape[1]):
                yr[k] = (xr[k] - center[k]) * scale[k] + offset[k]


@njit(**OPT)
def _grad_sums(dy, x, y, r0, r1, s1, s2):
    """s1[c] = Σ dz, s2[c] = Σ dz·x over rows r0..r1-1 (float64); dz = dy, or with a fused
    relu (y has rows: the relu's output) dy where y > 0."""
    s1[:] = 0
    s2[:] = 0
    relu = y.shape[0] > 0
    for r in range(r0, r1):
        dr = dy[r]
        xr = x[r]
        yr = y[r] if relu else dr
        for k in range(x.shape[1]):
            g = np.float64(dr[k]) if not relu or yr[k] > 0 else 0.0
            s1[k] += g
            s2[k] += g * xr[k]


@njit(**OPT)
def _input_grad(dy, x, y, r0, r1, center, a, b, c0, dx):
    """dx = a·dz + b·(x − center) + c0 per channel, rows r0..r1-1 (dz as in _grad_sums)."""
    zero = dx.dtype.type(0)
    relu = y.shape[0] > 0
    for r in range(r0, r1):
        dr = dy[r]
        xr = x[r]
        yr = y[r] if relu else dr
        o = dx[r]
        for k in range(x.shape[1]):
            g = dr[k] if not relu or yr[k] > 0 else zero
            o[k] = a[k] * g + b[k] * (xr[k] - center[k]) + c0[k]


@njit(parallel=True, **OPT)
def _stats_parallel(x, shift, part1, part2, nworkers):
    nchunks = part1.shape[0]
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= nchunks:
                break
            r0, r1 = _rows(t, nchunks, x.shape[0])
            _shifted_sums(x, r0, r1, shift, part1[t], part2[t])


@njit(parallel=True, **OPT)
def _grad_sums_parallel(dy, x, y, part1, part2, nworkers):
    nchunks = part1.shape[0]
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= nchunks:
                break
            r0, r1 = _rows(t, nchunks, x.shape[0])
            _grad_sums(dy, x, y, r0, r1, part1[t], part2[t])


@njit(parallel=True, **OPT)
def _affine_parallel(x, center, scale, offset, relu, y, nchunks, nworkers):
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= nchunks:
                break
            r0, r1 = _rows(t, nchunks, x.shape[0])
            _affine(x, r0, r1, center, scale, offset, relu, y)


@njit(parallel=True, **OPT)
def _input_grad_parallel(dy, x, y, center, a, b, c0, dx, nchunks, nworkers):
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= nchunks:
                break
            r0, r1 = _rows(t, nchunks, x.shape[0])
            _input_grad(dy, x, y, r0, r1, center, a, b, c0, dx)


@njit(**OPT)
def _stats_serial(x, shift, part1, part2):
    _shifted_sums(x, 0, x.shape[0], shift, part1[0], part2[0])


@njit(**OPT)
def _grad_sums_serial(dy, x, y, part1, part2):
    _grad_sums(dy, x, y, 0, x.shape[0], part1[0], part2[0])


# Below this many values a pass runs on the calling thread: waking the pool costs more.
PARALLEL_MIN_VALUES = 1 << 16
ROWS_PER_CHUNK_MIN = 256


def _split(x2: np.ndarray, workers: int) -> tuple[int, int]:
    """(chunks, workers) for a pass over x2 (M, C)."""
    m = x2.shape[0]
    if x2.size < PARALLEL_MIN_VALUES or workers < 2:
        return 1, 1
    chunks = max(1, min(4 * workers, m // ROWS_PER_CHUNK_MIN))
    return chunks, min(workers, chunks)


def batch_moments(x2: np.ndarray, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (biased) variance per channel of x2 (M, C), float64."""
    m, c = x2.shape
    shift = x2[0].astype(np.float64)
    chunks, workers = _split(x2, workers)
    part1 = np.empty((chunks, c))
    part2 = np.empty((chunks, c))
    if workers > 1:
        _stats_parallel(x2, shift, part1, part2, workers)
    else:
        _stats_serial(x2, shift, part1, part2)
    s1 = part1.sum(axis=0) / m
    var = np.maximum(part2.sum(axis=0) / m - s1 * s1, 0.0)
    return shift + s1, var


def affine(x2: np.ndarray, center, scale, offset, relu: bool, workers: int) -> np.ndarray:
    """y (M, C) = (x2 − center)·scale + offset, per channel ((C,) arrays of x2's dtype), then
    max(y, 0) with ``relu``."""
    y = np.empty_like(x2)
    chunks, workers = _split(x2, workers)
    if workers > 1:
        _affine_parallel(x2, center, scale, offset, relu, y, chunks, workers)
    else:
        _affine(x2, 0, x2.shape[0], center, scale, offset, relu, y)
    return y


def grad_sums(dy2: np.ndarray, x2: np.ndarray, y2: np.ndarray,
              workers: int) -> tuple[np.ndarray, np.ndarray]:
    """(Σ dz, Σ dz·x) per channel over the rows of dy2, x2 (M, C), float64; dz = dy2, or where
    y2 > 0 when y2 (a fused relu's output) has rows ((0, C) otherwise)."""
    c = x2.shape[1]
    chunks, workers = _split(x2, workers)
    part1 = np.empty((chunks, c))
    part2 = np.empty((chunks, c))
    if workers > 1:
        _grad_sums_parallel(dy2, x2, y2, part1, part2, workers)
    else:
        _grad_sums_serial(dy2, x2, y2, part1, part2)
    return part1.sum(axis=0), part2.sum(axis=0)


def input_grad(dy2, x2, y2, center, a, b, c0, workers: int) -> np.ndarray:
    """dx (M, C) = a·dz + b·(x2 − center) + c0, per channel ((C,) arrays of x2's dtype), dz as
    in grad_sums."""
    dx = np.empty_like(x2)
    chunks, workers = _split(x2, workers)
    if workers > 1:
        _input_grad_parallel(dy2, x2, y2, center, a, b, c0, dx, chunks, workers)
    else:
        _input_grad(dy2, x2, y2, 0, x2.shape[0], center, a, b, c0, dx)
    return dx
