"""Dropout with a counter-based random generator (splitmix64 of seed + index), fused with the
masking: one parallel pass instead of numpy's float generation, compare, cast and multiply
(measured on the seed CNN's 128×13×13×32 activations: 2.0 ms → 0.3 ms). Arrays below
``PARALLEL_MIN`` elements take the serial twins: waking the second thread costs more than the
loop (seed CNN's 128×128 Dense dropout: 36 µs parallel, 6 µs serial; backward 33 → 2 µs)."""
import numpy as np
from numba import njit, prange, uint64

from engine.kernels.parallel import chunk_range, fetch_add


@njit(cache=True, nogil=True, inline="always")
def mix(z):
    """splitmix64's output mix of the 64-bit word z."""
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


GOLDEN = uint64(0x9E3779B97F4A7C15)      # the index step of splitmix64


@njit(cache=True, nogil=True, inline="always")
def kept(s, i, t):
    """Whether element i is kept for the seed s and the threshold t (uint64): the top 32 bits
    of splitmix64(s + i·γ) are ≥ t. Every dropout mask in the engine is this one (this module's
    kernels and the ones fused after a conv + pool: planes.drop_rows, conv_c1.py)."""
    return (mix(s + uint64(i) * GOLDEN) >> uint64(32)) >= t


@njit(cache=True, nogil=True, inline="always")
def _drop_one(x, i, s, t, scale, y, keep):
    """Element i of the mask and the output (the parallel and serial kernels share it, so the
    same seed gives the same mask either way)."""
    k = np.uint8(kept(s, i, t))   # no branch: the loops vectorize (serial 6.9 → 1.6 ms on
    keep[i] = k                   # the seed CNN's 692,224 activations)
    y[i] = x[i] * (scale * x.dtype.type(k))     # (a dropped NaN stays NaN, as in Keras)


PARALLEL_MIN = 1 << 17
CHUNK = 1 << 15          # elements a worker takes from the counter at a time


@njit(cache=True, nogil=True, parallel=True)
def dropout_forward(x, seed, threshold, scale, y, keep, nchunks, nworkers):
    """x, y: flat (n,) float; keep: (n,) uint8. Element i survives when the top 32 bits of its
    random word are >= threshold (= rate · 2³²). nworkers threads take nchunks ranges of
    elements from a counter."""
    s = uint64(seed)
    t = uint64(threshold)
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            c = fetch_add(counter, 0)
            if c >= nchunks:
                break
            lo, hi = chunk_range(c, nchunks, x.size)
            # the serial loop on the chunk's slices (it vectorizes there, not written inside
            # the parallel region: 692,224 elements 138 µs vs 645 µs); element lo + j of x is
            # element j of the slice, with the seed advanced by lo steps of the index mix
            _forward_span(x[lo:hi], s + uint64(lo) * GOLDEN, t, scale, y[lo:hi], keep[lo:hi])


@njit(cache=True, nogil=True, parallel=True)
def dropout_backward(dy, keep, scale, dx, nchunks, nworkers):
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            c = fetch_add(counter, 0)
            if c >= nchunks:
                break
            lo, hi = chunk_range(c, nchunks, dy.size)
            # the serial kernel on the chunk's slices: the same loop written here, inside the
            # parallel region, did not vectorize (692,224 elements: 794 µs vs 50 µs)
            dropout_backward_serial(dy[lo:hi], keep[lo:hi], scale, dx[lo:hi])


@njit(cache=True, nogil=True)
def dropout_forward_serial(x, seed, threshold, scale, y, keep):
    """:func:`dropout_forward` on one thread (the same mask for the same seed)."""
    _forward_span(x, uint64(seed), uint64(threshold), scale, y, keep)


@njit(cache=True, nogil=True)
def _forward_span(x, s, t, scale, y, keep):
    for i in range(x.size):
        _drop_one(x, i, s, t, scale, y, keep)


@njit(cache=True, nogil=True)
def dropout_backward_serial(dy, keep, scale, dx):
    for i in range(dy.size):
        dx[i] = dy[i] * scale if keep[i] else 0
