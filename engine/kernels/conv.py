"""Convolution kernels, channels-last (pooling: engine/kernels/pooling.py; the fused conv +
pool training kernels: engine/kernels/conv_pool.py; im2col + sgemm by chunks of samples and
Conv2DTranspose: engine/kernels/conv_gemm.py).

Convolution is im2col + one BLAS sgemm: ``cols`` (N·OH·OW, KH·KW·C) gathers every receptive
field (zeros where the window hangs over the padding), so the layer's forward is
``cols @ kernel.reshape(KH·KW·C, F)`` and its backward ``colsᵀ @ dz`` (dW) and
``col2im(dz @ Wᵀ)`` (dx). The gathers are numba loops over the batch, the samples shared
out dynamically among the threads.
"""
from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from engine.kernels.parallel import batch_chunks, chunk_range, fetch_add, workers_for


def conv_output_size(size: int, k: int, stride: int, dilation: int, padding: str) -> tuple[int, int]:
    """(output size, padding before) with TensorFlow's rules for 'valid' and 'same'."""
    eff = (k - 1) * dilation + 1
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + eff - size, 0)
        return out, total // 2
    return (size - eff) // stride + 1, 0


# Each parallel kernel below runs its per-sample loop (inlined) on the samples of chunks taken
# from a counter (engine/kernels/parallel.py: a thread slowed by another program takes fewer
# chunks) instead of prange's static halves. Idle, median of 200 on 128 samples, they match
# the static version: col2im (7, 7, 32) → (14, 14, 32) 216-220 µs static vs 243-306, im2col
# 197-210 vs 201-214, (14, 14, 32) → (28, 28, 32) col2im 1966-2046 vs 1869-1990 µs.

@njit(cache=True, nogil=True, inline="always")
def _im2col_sample(x, b, bc, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols):
    """Sample b of x into the rows of cols' sample bc."""
    _, h, w, c = x.shape
    for i in range(oh):
        for j in range(ow):
            row = (bc * oh + i) * ow + j
            for ki in range(kh):
                y = i * sh + ki * dh - ph
                for kj in range(kw):
                    xx = j * sw + kj * dw - pw
                    base = (ki * kw + kj) * c
                    if 0 <= y < h and 0 <= xx < w:
                        for ch in range(c):
                            cols[row, base + ch] = x[b, y, xx, ch]
                    else:
                        for ch in range(c):
                            cols[row, base + ch] = 0


@njit(cache=True, nogil=True, parallel=True)
def _im2col_par(x, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols, nchunks, nworkers):
    n = x.shape[0]
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= nchunks:
                break
            lo, hi = chunk_range(t, nchunks, n)
            for b in range(lo, hi):
                _im2col_sample(x, b, b, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols)


def im2col(x, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols):
    """x: (N, H, W, C) → cols: (N·OH·OW, KH·KW·C); rows are output pixels, zero padded."""
    nchunks, nworkers = batch_chunks(x.shape[0])
    _im2col_par(x, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols, nchunks, nworkers)


@njit(cache=True, nogil=True, inline="always")
def _col2im_sample(dcols, bc, b, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, dx):
    """The rows of dcols' sample bc into sample b of dx."""
    _, h, w, c = dx.shape
    dx[b] = 0
    for i in range(oh):
        for j in range(ow):
            row = (bc * oh + i) * ow + j
            for ki in range(kh):
                y = i * sh + ki * dh - ph
                if y < 0 or y >= h:
                    continue
                for kj in range(kw):
                    xx = j * sw + kj * dw - pw
                    if xx < 0 or xx >= w:
                        continue
                    base = (ki * kw + kj) * c
                    for ch in range(c):
                        dx[b, y, xx, ch] += dcols[row, base + ch]


@njit(cache=True, nogil=True, parallel=True)
def _col2im_par(dcols, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, dx, nchunks, nworkers):
    n = dx.shape[0]
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= nchunks:
                break
            lo, hi = chunk_range(t, nchunks, n)
            for b in range(lo, hi):
                _col2im_sample(dcols, b, b, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, dx)


def col2im(dcols, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, dx):
    """The adjoint of im2col: scatter-add dcols (N·OH·OW, KH·KW·C) into dx (N, H, W, C)."""
    nchunks, nworkers = batch_chunks(dx.shape[0])
    _col2im_par(dcols, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, dx, nchunks, nworkers)


@njit(cache=True, nogil=True, inline="always")
def _direct_forward_sample(x, b, w, bias, sh, sw, dh, dw, ph, pw, relu, out):
    _, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    _, oh, ow, _ = out.shape
    for i in range(oh):
        for j in range(ow):
            for k in range(f):
                out[b, i, j, k] = bias[k]
            for ki in range(kh):
                y = i * sh + ki * dh - ph
                if y < 0 or y >= h:
                    continue
                for kj in range(kw):
                    xx = j * sw + kj * dw - pw
                    if xx < 0 or xx >= wd:
                        continue
                    for ch in range(c):
                        v = x[b, y, xx, ch]
                        for k in range(f):
                            out[b, i, j, k] += v * w[ki, kj, ch, k]
            if relu:
                for k in range(f):
                    if out[b, i, j, k] < 0:
                        out[b, i, j, k] = 0


@njit(cache=True, nogil=True, parallel=True)
def _conv_direct_forward_par(x, w, bias, sh, sw, dh, dw, ph, pw, relu, out, nchunks, nworkers):
    n = x.shape[0]
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= nchunks:
                break
            lo, hi = chunk_range(t, nchunks, n)
            for b in range(lo, hi):
                _direct_forward_sample(x, b, w, bias, sh, sw, dh, dw, ph, pw, relu, out)


def conv_direct_forward(x, w, bias, sh, sw, dh, dw, ph, pw, relu, out):
    """Direct convolution for few input taps (small KH·KW·C): out (N, OH, OW, F) = bias +
    Σ x·w, then relu when asked. The filter axis F is the inner, vectorized loop."""
    nchunks, nworkers = batch_chunks(x.shape[0])
    _conv_direct_forward_par(x, w, bias, sh, sw, dh, dw, ph, pw, relu, out, nchunks, nworkers)


@njit(cache=True, nogil=True, inline="always")
def _direct_dw_tap(x, dz, t, sh, sw, dh, dw, ph, pw, dwt):
    n, h, wd, c = x.shape
    _, kw, _, f = dwt.shape
    _, oh, ow, _ = dz.shape
    ki = t // (kw * c)
    kj = (t // c) % kw
    ch = t % c
    acc = np.zeros(f, dtype=np.float64)
    for b in range(n):
        for i in range(oh):
            y = i * sh + ki * dh - ph
            if y < 0 or y >= h:
                continue
            for j in range(ow):
                xx = j * sw + kj * dw - pw
                if xx < 0 or xx >= wd:
                    continue
                v = x[b, y, xx, ch]
                for k in range(f):
                    acc[k] += v * dz[b, i, j, k]
    for k in range(f):
        dwt[ki, kj, ch, k] = acc[k]


@njit(cache=True, nogil=True, parallel=True)
def _conv_direct_dw_par(x, dz, sh, sw, dh, dw, ph, pw, dwt, nworkers):
    ntaps = dwt.shape[0] * dwt.shape[1] * dwt.shape[2]
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= ntaps:
                break
            _direct_dw_tap(x, dz, t, sh, sw, dh, dw, ph, pw, dwt)


def conv_direct_dw(x, dz, sh, sw, dh, dw, ph, pw, dwt):
    """dW[ki, kj, c, :] = Σ_{b,i,j} x[b, i·sh+ki·dh−ph, j·sw+kj·dw−pw, c] · dz[b, i, j, :];
    the kernel taps shared among the threads, each summing over the whole batch."""
    ntaps = dwt.shape[0] * dwt.shape[1] * dwt.shape[2]
    _conv_direct_dw_par(x, dz, sh, sw, dh, dw, ph, pw, dwt, workers_for(ntaps))


@njit(cache=True, nogil=True, inline="always")
def _direct_dx_sample(dz, b, w, sh, sw, dh, dw, ph, pw, dx):
    _, h, wd, c = dx.shape
    kh, kw, _, f = w.shape
    _, oh, ow, _ = dz.shape
    dx[b] = 0
    for i in range(oh):
        for j in range(ow):
            for ki in range(kh):
                y = i * sh + ki * dh - ph
                if y < 0 or y >= h:
                    continue
                for kj in range(kw):
                    xx = j * sw + kj * dw - pw
                    if xx < 0 or xx >= wd:
                        continue
                    for ch in range(c):
                        s = 0.0
                        for k in range(f):
                            s += dz[b, i, j, k] * w[ki, kj, ch, k]
                        dx[b, y, xx, ch] += s


@njit(cache=True, nogil=True, parallel=True)
def _conv_direct_dx_par(dz, w, sh, sw, dh, dw, ph, pw, dx, nchunks, nworkers):
    n = dx.shape[0]
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= nchunks:
                break
            lo, hi = chunk_range(t, nchunks, n)
            for b in range(lo, hi):
                _direct_dx_sample(dz, b, w, sh, sw, dh, dw, ph, pw, dx)


def conv_direct_dx(dz, w, sh, sw, dh, dw, ph, pw, dx):
    """dx[b, y, x, c] = Σ over taps and filters of dz · w (the adjoint of the direct conv)."""
    nchunks, nworkers = batch_chunks(dx.shape[0])
    _conv_direct_dx_par(dz, w, sh, sw, dh, dw, ph, pw, dx, nchunks, nworkers)


@njit(cache=True, nogil=True, inline="always")
def _bias_relu_rows(y, dy, dz, r0, r1, acc):
    f = y.shape[1]
    for r in range(r0, r1):
        for k in range(f):
            g = dy[r, k] if y[r, k] > 0 else 0
            dz[r, k] = g
            acc[k] += g


@njit(cache=True, nogil=True, parallel=True)
def _bias_relu_grad_par(y, dy, dz, db, nworkers):
    """dz = dy where y > 0 (relu), and db = Σ dz over rows; y, dy, dz: (M, F), db: (F,)."""
    m, f = y.shape
    nt = 8
    part = np.zeros((nt, f), dtype=np.float64)
    chunk = (m + nt - 1) // nt
    counter = np.zeros(1, np.int64)
    for _ in prange(min(nworkers, nt)):
        while True:
            t = fetch_add(counter, 0)
            if t >= nt:
                break
            _bias_relu_rows(y, dy, dz, t * chunk, min(m, (t + 1) * chunk), part[t])
    for k in range(f):
        s = 0.0
        for t in range(nt):
            s += part[t, k]
        db[k] = s


def bias_relu_grad(y, dy, dz, db):
    """dz = dy where y > 0 (relu), and db = Σ dz over rows; y, dy, dz: (M, F), db: (F,)."""
    _bias_relu_grad_par(y, dy, dz, db, get_num_threads())
