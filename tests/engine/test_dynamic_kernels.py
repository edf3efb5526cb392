"""Parallel kernels share work dynamically (engine/kernels/parallel.py): whatever the number of
workers — and so whichever thread takes which chunk — the result is the same, bit for bit."""
import numpy as np
import pytest
from numba import njit, prange

from engine.kernels import augment, pooling
from engine.kernels.parallel import chunk_range, fetch_add

WORKERS = (1, 2, 3)


@njit(parallel=True, cache=True, nogil=True)
def _claim_all(n, nworkers, seen):
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            c = fetch_add(counter, 0)
            if c >= n:
                break
            seen[c] += 1


@pytest.mark.parametrize("nworkers", WORKERS)
def test_every_chunk_is_taken_exactly_once(nworkers):
    seen = np.zeros(1000, np.int64)
    _claim_all(1000, nworkers, seen)
    assert (seen == 1).all()


def test_chunk_ranges_cover_the_items_without_overlap():
    for n, k in ((10, 3), (7, 7), (100, 8), (3, 5)):
        got = [chunk_range(c, k, n) for c in range(k)]
        assert got[0][0] == 0 and got[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(got, got[1:]))


def _same_for_all_workers(run):
    first = run(WORKERS[0])
    for nw in WORKERS[1:]:
        for a, b in zip(first, run(nw)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(5, 9, 11, 3), (1, 4, 4, 2)])
def test_pooling_kernels(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    n, h, w, c = shape

    def run(nw):
        oh, ow = h // 2, w // 2
        out, arg = np.empty((n, oh, ow, c), np.float32), np.empty((n, oh, ow, c), np.int32)
        pooling.maxpool2x2_forward(x, out, arg, nw)
        dx = np.empty_like(x)
        pooling.maxpool2x2_backward(out, arg, dx, nw)
        out3, arg3 = (np.empty((n, h - 2, w - 2, c), np.float32),
                      np.empty((n, h - 2, w - 2, c), np.int32))
        pooling.maxpool_forward(x, 3, 3, 1, 1, 0, 0, out3, arg3, nw)
        dx3 = np.empty((n, h * w * c), np.float32)
        pooling.maxpool_backward(out3, arg3, dx3, nw)
        avg, count = np.empty((n, h, w, c), np.float32), np.empty((h, w), np.int32)
        pooling.avgpool_forward(x, 3, 3, 1, 1, 1, 1, avg, count, nw)
        dxa = np.empty_like(x)
        pooling.avgpool_backward(avg, 3, 3, 1, 1, 1, 1, count, dxa, nw)
        return out, arg, dx, out3, dx3, avg, dxa
    _same_for_all_workers(run)


def test_augment_kernels():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 255, (5, 8, 7, 3)).astype(np.float32)
    mats = np.tile(np.array([[0.9, 0.1, 0.5], [-0.1, 1.1, -0.3]]), (5, 1, 1))

    def run(nw):
        warped = augment.affine_warp(x, mats, 1, 0, 0.0, np.empty_like(x), nw)
        shifted = augment.shift_and_brighten(warped.copy(), np.full(5, 3.0), np.full(5, 1.2),
                                             True, True, nw)
        return warped, shifted
    _same_for_all_workers(run)
