"""Embedding lookups and their row-sparse gradient.

The gradient of a lookup touches only the rows of the ids in the batch, so backward does not
clear the whole (input_dim, output_dim) gradient: it zeroes the rows the previous batch wrote
and scatter-adds the new ones.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from engine.kernels.parallel import fetch_add

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


@njit(**OPT)
def compact_ids(ids, slot):
    """(rows, inv): the distinct values of ids in order of first appearance (int64), and for
    each id its index in rows (int32), so that ids == rows[inv]. slot: (V,) int32 filled with
    -1, left so on return."""
    rows = np.empty(ids.size, np.int64)
    inv = np.empty(ids.size, np.int32)
    count = 0
    for i in range(ids.size):
        r = ids[i]
        k = slot[r]
        if k < 0:
            k = count
            slot[r] = k
            rows[count] = r
            count += 1
        inv[i] = k
    for k in range(count):
        slot[rows[k]] = -1
    return rows[:count], inv


@njit(**OPT)
def group_rows(inv, count):
    """(starts, order): the indices i of inv grouped by the value inv[i] in 0..count-1, in
    increasing i within a group (a counting sort); group k is order[starts[k]:starts[k + 1]]."""
    starts = np.zeros(count + 1, np.int64)
    for i in range(inv.size):
        starts[inv[i] + 1] += 1
    for k in range(count):
        starts[k + 1] += starts[k]
    fill = starts[:count].copy()
    order = np.empty(inv.size, np.int64)
    for i in range(inv.size):
        k = inv[i]
        order[fill[k]] = i
        fill[k] += 1
    return starts, order


@njit(parallel=True, **OPT)
def sum_rows_grouped(out, src, starts, order, counter, nworkers):
    """out[k] = the sum of src[order[starts[k]:starts[k + 1]]] (see group_rows): the rows of
    src summed per group. The threads take blocks of 16 groups from ``counter`` ((1,) int64
    zero); each output row is written by one thread and each src row read whole, in order."""
    count, d = out.shape
    nblocks = (count + 15) // 16
    zero = out.dtype.type(0)
    for _ in prange(nworkers):
        while True:
            b = fetch_add(counter, 0)
            if b >= nblocks:
                break
            for k in range(b * 16, min(count, b * 16 + 16)):
                o = out[k]
                for j in range(d):
                    o[j] = zero
                for q in range(starts[k], starts[k + 1]):
                    r = src[order[q]]
                    for j in range(d):
                        o[j] += r[j]


@njit(**OPT)
def set_rows(grad, rows, values):
    """grad[rows[k]] = values[k]. grad: (V, D), rows: (R,) distinct, values: (R, D)."""
    for k in range(rows.size):
        g = grad[rows[k]]
        src = values[k]
        for j in range(g.shape[0]):
            g[j] = src[j]
