"""Depthwise 2-D convolution (channels-last): every input channel has its own
``depth_multiplier`` filters; no sum over channels. The building block of DepthwiseConv2D and
of SeparableConv2D (depthwise, then a 1×1 convolution).

x: (N, H, W, C) zero-padded beforehand (so every kernel tap reads inside x);
kernel: (KH, KW, C, M); out: (N, OH, OW, C·M), channel c·M + m is input channel c's m-th filter.

The threads take samples (forward, dx) or channels (dk) from a counter (dynamic sharing,
engine/kernels/parallel.py), in chunks of consecutive ones, up to 4 chunks per thread.
"""
import numpy as np
from numba import njit, prange

from engine.kernels.parallel import batch_chunks, chunk_range, fetch_add


@njit(cache=True, nogil=True, inline="always")
def _forward_sample(x, b, k, sh, sw, dh, dw, out):
    kh, kw, c, mult = k.shape
    oh, ow = out.shape[1], out.shape[2]
    for i in range(oh):
        for j in range(ow):
            for ch in range(c):
                for m in range(mult):
                    acc = 0.0
                    for ki in range(kh):
                        y = i * sh + ki * dh
                        for kj in range(kw):
                            acc += x[b, y, j * sw + kj * dw, ch] * k[ki, kj, ch, m]
                    out[b, i, j, ch * mult + m] = acc


@njit(cache=True, nogil=True, parallel=True)
def _forward_par(x, k, sh, sw, dh, dw, out, nchunks, nworkers):
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= nchunks:
                break
            lo, hi = chunk_range(t, nchunks, x.shape[0])
            for b in range(lo, hi):
                _forward_sample(x, b, k, sh, sw, dh, dw, out)


def depthwise_forward(x, k, sh, sw, dh, dw, out):
    """out[b, i, j, c·M+m] = Σ_{ki,kj} x[b, i·sh + ki·dh, j·sw + kj·dw, c] · k[ki, kj, c, m]."""
    _forward_par(x, k, sh, sw, dh, dw, out, *batch_chunks(x.shape[0]))


@njit(cache=True, nogil=True, inline="always")
def _dx_sample(dout, b, k, sh, sw, dh, dw, dx):
    kh, kw, c, mult = k.shape
    oh, ow = dout.shape[1], dout.shape[2]
    dx[b] = 0.0
    for i in range(oh):
        for j in range(ow):
            for ch in range(c):
                for m in range(mult):
                    g = dout[b, i, j, ch * mult + m]
                    for ki in range(kh):
                        y = i * sh + ki * dh
                        for kj in range(kw):
                            dx[b, y, j * sw + kj * dw, ch] += g * k[ki, kj, ch, m]


@njit(cache=True, nogil=True, parallel=True)
def _dx_par(dout, k, sh, sw, dh, dw, dx, nchunks, nworkers):
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= nchunks:
                break
            lo, hi = chunk_range(t, nchunks, dx.shape[0])
            for b in range(lo, hi):
                _dx_sample(dout, b, k, sh, sw, dh, dw, dx)


def depthwise_dx(dout, k, sh, sw, dh, dw, dx):
    """dx (N, H, W, C) of the padded input, zeroed here: every tap adds dout·k back."""
    _dx_par(dout, k, sh, sw, dh, dw, dx, *batch_chunks(dx.shape[0]))


@njit(cache=True, nogil=True, inline="always")
def _dk_channel(x, dout, ch, sh, sw, dh, dw, dk):
    n = x.shape[0]
    kh, kw, _, mult = dk.shape
    oh, ow = dout.shape[1], dout.shape[2]
    for m in range(mult):
        for ki in range(kh):
            for kj in range(kw):
                acc = 0.0
                for b in range(n):
                    for i in range(oh):
                        y = i * sh + ki * dh
                        for j in range(ow):
                            acc += x[b, y, j * sw + kj * dw, ch] * dout[b, i, j, ch * mult + m]
                dk[ki, kj, ch, m] = acc


@njit(cache=True, nogil=True, parallel=True)
def _dk_par(x, dout, sh, sw, dh, dw, dk, nchunks, nworkers):
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= nchunks:
                break
            lo, hi = chunk_range(t, nchunks, dk.shape[2])
            for ch in range(lo, hi):
                _dk_channel(x, dout, ch, sh, sw, dh, dw, dk)


def depthwise_dk(x, dout, sh, sw, dh, dw, dk):
    """dk (KH, KW, C, M) = Σ over batch and output pixels of x·dout; whole channels per chunk,
    so no two threads write the same element."""
    _dk_par(x, dout, sh, sw, dh, dw, dk, *batch_chunks(dk.shape[2]))
