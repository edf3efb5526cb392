"""Convolution kernels, channels-last (pooling: engine/kernels/pooling.py; the fused conv +
pool training kernels: engine/kernels/conv_pool.py).

Convolution is im2col + one BLAS sgemm: ``cols`` (N·OH·OW, KH·KW·C) gathers every receptive
field (zeros where the window hangs over the padding), so the layer's forward is
``cols @ kernel.reshape(KH·KW·C, F)`` and its backward ``colsᵀ @ dz`` (dW) and
``col2im(dz @ Wᵀ)`` (dx). The gathers are numba loops parallel over the batch.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


def conv_output_size(size: int, k: int, stride: int, dilation: int, padding: str) -> tuple[int, int]:
    """(output size, padding before) with TensorFlow's rules for 'valid' and 'same'."""
    eff = (k - 1) * dilation + 1
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + eff - size, 0)
        return out, total // 2
    return (size - eff) // stride + 1, 0


@njit(cache=True, nogil=True, parallel=True)
def im2col(x, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols):
    """x: (N, H, W, C) → cols: (N·OH·OW, KH·KW·C); rows are output pixels, zero padded."""
    n, h, w, c = x.shape
    for b in prange(n):
        for i in range(oh):
            for j in range(ow):
                row = (b * oh + i) * ow + j
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
def col2im(dcols, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, dx):
    """The adjoint of im2col: scatter-add dcols (N·OH·OW, KH·KW·C) into dx (N, H, W, C)."""
    n, h, w, c = dx.shape
    for b in prange(n):
        dx[b] = 0
        for i in range(oh):
            for j in range(ow):
                row = (b * oh + i) * ow + j
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
def conv_direct_forward(x, w, bias, sh, sw, dh, dw, ph, pw, relu, out):
    """Direct convolution for few input taps (small KH·KW·C): out (N, OH, OW, F) = bias +
    Σ x·w, then relu when asked. The filter axis F is the inner, vectorized loop."""
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    _, oh, ow, _ = out.shape
    for b in prange(n):
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
def conv_direct_dw(x, dz, sh, sw, dh, dw, ph, pw, dwt):
    """dW[ki, kj, c, :] = Σ_{b,i,j} x[b, i·sh+ki·dh−ph, j·sw+kj·dw−pw, c] · dz[b, i, j, :];
    parallel over the kernel taps, each summing over the whole batch."""
    n, h, wd, c = x.shape
    kh, kw, _, f = dwt.shape
    _, oh, ow, _ = dz.shape
    for t in prange(kh * kw * c):
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
def conv_direct_dx(dz, w, sh, sw, dh, dw, ph, pw, dx):
    """dx[b, y, x, c] = Σ over taps and filters of dz · w (the adjoint of the direct conv)."""
    n, h, wd, c = dx.shape
    kh, kw, _, f = w.shape
    _, oh, ow, _ = dz.shape
    for b in prange(n):
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
def bias_relu_grad(y, dy, dz, db):
    """dz = dy where y > 0 (relu), and db = Σ dz over rows; y, dy, dz: (M, F), db: (F,)."""
    m, f = y.shape
    nt = 8
    part = np.zeros((nt, f), dtype=np.float64)
    chunk = (m + nt - 1) // nt
    for t in prange(nt):
        for r in range(t * chunk, min(m, (t + 1) * chunk)):
            for k in range(f):
                g = dy[r, k] if y[r, k] > 0 else 0
                dz[r, k] = g
                part[t, k] += g
    for k in range(f):
        s = 0.0
        for t in range(nt):
            s += part[t, k]
        db[k] = s
