"""Embedding lookups and their row-sparse gradient.

The gradient of a lookup touches only the rows of the ids in the batch, so backward does not
clear the whole (input_dim, output_dim) gradient: it zeroes the rows the previous batch wrote
and scatter-adds the new ones.
"""
from __future__ import annotations

import numpy as np
from numba import njit

OPT = dict(cache=True, nogil=True)


@njit(**OPT)
def id_range(ids):
    """(min, max, index of the max) of a 1-D integer array with at least one element."""
    lo = ids[0]
    hi = ids[0]
    at = 0
    for i in range(1, ids.size):
        v = ids[i]
        lo = min(lo, v)
        if v > hi:
            hi = v
            at = i
    return lo, hi, at


@njit(**OPT)
def gather_rows(table, ids, out):
    """out[i] = table[ids[i]]. table: (V, D), ids: (M,) ints, out: (M, D)."""
    d = table.shape[1]
    for i in range(ids.size):
        src = table[ids[i]]
        dst = out[i]
        for j in range(d):
            dst[j] = src[j]


@njit(**OPT)
def unique_rows(ids, marker):
    """The distinct values of ids, in order of first appearance. marker: (V,) uint8 zeros,
    left zeroed on return."""
    rows = np.empty(ids.size, np.int64)
    count = 0
    for i in range(ids.size):
        r = ids[i]
        if marker[r] == 0:
            marker[r] = 1
            rows[count] = r
            count += 1
    for k in range(count):
        marker[rows[k]] = 0
    return rows[:count]


@njit(**OPT)
def zero_rows(grad, rows):
    """grad[rows] = 0. grad: (V, D), rows: (R,) distinct row indices."""
    zero = grad.dtype.type(0)
    for k in range(rows.size):
        g = grad[rows[k]]
        for j in range(g.shape[0]):
            g[j] = zero


@njit(**OPT)
def scatter_add_rows(grad, ids, dy):
    """grad[ids[i]] += dy[i]. grad: (V, D), ids: (M,), dy: (M, D)."""
    d = grad.shape[1]
    for i in range(ids.size):
        g = grad[ids[i]]
        src = dy[i]
        for j in range(d):
            g[j] += src[j]
