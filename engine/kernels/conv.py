"""Convolution and pooling kernels, channels-last.

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
def maxpool_forward(x, kh, kw, sh, sw, ph, pw, out, arg):
    """out[b,i,j,c] = max over the window; arg keeps the flat (y·W + x)·C + c index of the max
    (so the backward scatter needs no division). Channels are the inner, vectorized loop."""
    n, h, w, c = x.shape
    _, oh, ow, _ = out.shape
    for b in prange(n):
        for i in range(oh):
            for j in range(ow):
                first = True
                for ki in range(kh):
                    y = i * sh + ki - ph
                    if y < 0 or y >= h:
                        continue
                    for kj in range(kw):
                        xx = j * sw + kj - pw
                        if xx < 0 or xx >= w:
                            continue
                        base = (y * w + xx) * c
                        if first:
                            for ch in range(c):
                                out[b, i, j, ch] = x[b, y, xx, ch]
                                arg[b, i, j, ch] = base + ch
                            first = False
                        else:
                            for ch in range(c):
                                v = x[b, y, xx, ch]
                                if v > out[b, i, j, ch]:
                                    out[b, i, j, ch] = v
                                    arg[b, i, j, ch] = base + ch


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def maxpool2x2_forward(x, out, arg):
    """The common 2×2, stride 2, 'valid' max pool, unrolled (3.6× the generic kernel)."""
    n, h, w, c = x.shape
    _, oh, ow, _ = out.shape
    for b in prange(n):
        for i in range(oh):
            for j in range(ow):
                y0 = 2 * i
                x0 = 2 * j
                b00 = (y0 * w + x0) * c
                b01 = b00 + c
                b10 = b00 + w * c
                b11 = b10 + c
                for ch in range(c):
                    v = x[b, y0, x0, ch]
                    a = b00 + ch
                    v1 = x[b, y0, x0 + 1, ch]
                    if v1 > v:
                        v = v1
                        a = b01 + ch
                    v2 = x[b, y0 + 1, x0, ch]
                    if v2 > v:
                        v = v2
                        a = b10 + ch
                    v3 = x[b, y0 + 1, x0 + 1, ch]
                    if v3 > v:
                        v = v3
                        a = b11 + ch
                    out[b, i, j, ch] = v
                    arg[b, i, j, ch] = a


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def maxpool2x2_backward(dy, arg, dx):
    """Backward of :func:`maxpool2x2_forward`: each window's four cells are written once (the
    gradient at the argmax, 0 elsewhere), so no separate zeroing pass; dx: (N, H, W, C)."""
    n, h, w, c = dx.shape
    _, oh, ow, _ = dy.shape
    for b in prange(n):
        if h > 2 * oh:
            dx[b, 2 * oh:] = 0
        if w > 2 * ow:
            dx[b, :, 2 * ow:] = 0
        for i in range(oh):
            for j in range(ow):
                y0 = 2 * i
                x0 = 2 * j
                b00 = (y0 * w + x0) * c
                for ch in range(c):
                    g = dy[b, i, j, ch]
                    a = arg[b, i, j, ch] - ch
                    dx[b, y0, x0, ch] = g if a == b00 else 0
                    dx[b, y0, x0 + 1, ch] = g if a == b00 + c else 0
                    dx[b, y0 + 1, x0, ch] = g if a == b00 + w * c else 0
                    dx[b, y0 + 1, x0 + 1, ch] = g if a == b00 + w * c + c else 0


@njit(cache=True, nogil=True, parallel=True)
def maxpool_backward(dy, arg, dx):
    """dx (N, H·W·C) flat per sample: dy is added at each window's argmax."""
    n = dx.shape[0]
    _, oh, ow, c = dy.shape
    for b in prange(n):
        dx[b, :] = 0
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    dx[b, arg[b, i, j, ch]] += dy[b, i, j, ch]


@njit(cache=True, nogil=True, parallel=True)
def avgpool_forward(x, kh, kw, sh, sw, ph, pw, out, count):
    """Mean over the window's valid (unpadded) cells, as TensorFlow's 'same' average pooling."""
    n, h, w, c = x.shape
    _, oh, ow, _ = out.shape
    for b in prange(n):
        for i in range(oh):
            for j in range(ow):
                cnt = 0
                for ch in range(c):
                    out[b, i, j, ch] = 0
                for ki in range(kh):
                    y = i * sh + ki - ph
                    if y < 0 or y >= h:
                        continue
                    for kj in range(kw):
                        xx = j * sw + kj - pw
                        if xx < 0 or xx >= w:
                            continue
                        cnt += 1
                        for ch in range(c):
                            out[b, i, j, ch] += x[b, y, xx, ch]
                for ch in range(c):
                    out[b, i, j, ch] /= cnt
                count[i, j] = cnt


@njit(cache=True, nogil=True, parallel=True)
def avgpool_backward(dy, kh, kw, sh, sw, ph, pw, count, dx):
    n, h, w, c = dx.shape
    _, oh, ow, _ = dy.shape
    for b in prange(n):
        dx[b] = 0
        for i in range(oh):
            for j in range(ow):
                inv = 1.0 / count[i, j]
                for ki in range(kh):
                    y = i * sh + ki - ph
                    if y < 0 or y >= h:
                        continue
                    for kj in range(kw):
                        xx = j * sw + kj - pw
                        if xx < 0 or xx >= w:
                            continue
                        for ch in range(c):
                            dx[b, y, xx, ch] += dy[b, i, j, ch] * inv


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



# ---- Conv2D(relu) → MaxPooling2D(2×2, stride 2, 'valid'), fused for the direct convolution.
# The conv output is never stored: each 2×2 window's four conv outputs are computed, the max
# kept (relu commutes with max) with a code 0..3 of its position (row-major in the window, the
# first on ties, as the unfused pool). Backward: relu passes the gradient only where the pooled
# value is > 0, and only the window's argmax gets it — so dW, db (and dx when needed) are sums
# over the pooled positions, four times fewer than the conv outputs.

@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def conv_relu_pool_forward(x, w, bias, sh, sw, dh, dw, ph, pw, out, code):
    """out (N, PH, PW, F) = maxpool2×2(relu(conv(x) + bias)); code (N, PH, PW, F) uint8."""
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    _, poh, pow_, _ = out.shape
    for b in prange(n):
        acc = np.empty((4, f), dtype=out.dtype)
        for pi in range(poh):
            for pj in range(pow_):
                for q in range(4):
                    i = 2 * pi + q // 2
                    j = 2 * pj + q % 2
                    for k in range(f):
                        acc[q, k] = bias[k]
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
                                    acc[q, k] += v * w[ki, kj, ch, k]
                for k in range(f):
                    m = acc[0, k]
                    cd = 0
                    if acc[1, k] > m:
                        m = acc[1, k]
                        cd = 1
                    if acc[2, k] > m:
                        m = acc[2, k]
                        cd = 2
                    if acc[3, k] > m:
                        m = acc[3, k]
                        cd = 3
                    out[b, pi, pj, k] = m if m > 0 else 0
                    code[b, pi, pj, k] = cd


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def conv_relu_pool_backward(x, w, dy, out, code, sh, sw, dh, dw, ph, pw, nchunks, dwt, db,
                            need_dx, dx):
    """Gradients of :func:`conv_relu_pool_forward` from dy (N, PH, PW, F), the gradient of its
    pooled output: dwt (KH, KW, C, F) and db (F,) are written; dx (N, H, W, C) too when
    need_dx. Parallel over ``nchunks`` slices of the batch, each with its own partial sums."""
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    _, poh, pow_, _ = dy.shape
    part = np.zeros((nchunks, kh, kw, c, f), dtype=dwt.dtype)
    partb = np.zeros((nchunks, f), dtype=dwt.dtype)
    size = (n + nchunks - 1) // nchunks
    for t in prange(nchunks):
        g = np.empty((4, f), dtype=dwt.dtype)
        for b in range(t * size, min(n, (t + 1) * size)):
            if need_dx:
                dx[b] = 0
            for pi in range(poh):
                for pj in range(pow_):
                    for k in range(f):
                        gk = dy[b, pi, pj, k] if out[b, pi, pj, k] > 0 else dy.dtype.type(0)
                        partb[t, k] += gk
                        cd = code[b, pi, pj, k]
                        for q in range(4):
                            g[q, k] = gk if cd == q else 0
                    for q in range(4):
                        i = 2 * pi + q // 2
                        j = 2 * pj + q % 2
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
                                        part[t, ki, kj, ch, k] += v * g[q, k]
                                    if need_dx:
                                        s = dx.dtype.type(0)
                                        for k in range(f):
                                            s += g[q, k] * w[ki, kj, ch, k]
                                        dx[b, y, xx, ch] += s
    for k in range(f):
        s = dwt.dtype.type(0)
        for t in range(nchunks):
            s += partb[t, k]
        db[k] = s
    for ki in range(kh):
        for kj in range(kw):
            for ch in range(c):
                for k in range(f):
                    s = dwt.dtype.type(0)
                    for t in range(nchunks):
                        s += part[t, ki, kj, ch, k]
                    dwt[ki, kj, ch, k] = s
