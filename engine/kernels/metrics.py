"""Kernels for the metrics updated on every training step (numpy's argmax, comparison, cast and
sum take several calls and temporaries per batch; at batch 32 their overhead is the cost)."""
from __future__ import annotations

import math

from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _argmax_row(p, r):
    """np.argmax of row r: the first largest value, or the first NaN."""
    best = p[r, 0]
    at = 0
    if math.isnan(best):
        return 0
    for j in range(1, p.shape[1]):
        v = p[r, j]
        if math.isnan(v):
            return j
        if v > best:
            best = v
            at = j
    return at


@njit(cache=True, nogil=True)
def argmax_hits(labels, p):
    """How many rows r of p (R, K) have argmax p[r] == labels[r] (labels: (R,) int64)."""
    hits = 0
    for r in range(p.shape[0]):
        if _argmax_row(p, r) == labels[r]:
            hits += 1
    return hits


@njit(cache=True, nogil=True)
def argmax_agreements(y, p):
    """How many rows r have argmax y[r] == argmax p[r] (y, p: (R, K))."""
    hits = 0
    for r in range(p.shape[0]):
        if _argmax_row(y, r) == _argmax_row(p, r):
            hits += 1
    return hits
