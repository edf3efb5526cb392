"""Dropout with a counter-based random generator (splitmix64 of seed + index), fused with the
masking: one parallel pass instead of numpy's float generation, compare, cast and multiply
(measured on the seed CNN's 128×13×13×32 activations: 2.0 ms → 0.3 ms). Arrays below
``PARALLEL_MIN`` elements take the serial twins: waking the second thread costs more than the
loop (seed CNN's 128×128 Dense dropout: 36 µs parallel, 6 µs serial; backward 33 → 2 µs)."""
from numba import njit, prange, uint64


@njit(cache=True, nogil=True, inline="always")
def _mix(z):
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


@njit(cache=True, nogil=True, inline="always")
def _drop_one(x, i, s, t, scale, y, keep):
    """Element i of the mask and the output (the parallel and serial kernels share it, so the
    same seed gives the same mask either way)."""
    r = _mix(s + uint64(i) * uint64(0x9E3779B97F4A7C15)) >> uint64(32)
    if r >= t:
        keep[i] = 1
        y[i] = x[i] * scale
    else:
        keep[i] = 0
        y[i] = 0


PARALLEL_MIN = 1 << 17


@njit(cache=True, nogil=True, parallel=True)
def dropout_forward(x, seed, threshold, scale, y, keep):
    """x, y: flat (n,) float; keep: (n,) uint8. Element i survives when the top 32 bits of its
    random word are >= threshold (= rate · 2³²)."""
    s = uint64(seed)
    t = uint64(threshold)
    for i in prange(x.size):
        _drop_one(x, i, s, t, scale, y, keep)


@njit(cache=True, nogil=True, parallel=True)
def dropout_backward(dy, keep, scale, dx):
    for i in prange(dy.size):
        dx[i] = dy[i] * scale if keep[i] else 0


@njit(cache=True, nogil=True)
def dropout_forward_serial(x, seed, threshold, scale, y, keep):
    """:func:`dropout_forward` on one thread (the same mask for the same seed)."""
    s = uint64(seed)
    t = uint64(threshold)
    for i in range(x.size):
        _drop_one(x, i, s, t, scale, y, keep)


@njit(cache=True, nogil=True)
def dropout_backward_serial(dy, keep, scale, dx):
    for i in range(dy.size):
        dx[i] = dy[i] * scale if keep[i] else 0
