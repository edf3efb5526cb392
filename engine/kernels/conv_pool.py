"""Conv2D(relu) → MaxPooling2D(2×2) as one training kernel (see :meth:`Conv2D.fuse_pool`).

Channels-last kernels for any stride, and stride-1 kernels on zero-padded channels-first planes.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


# ---- Conv2D(relu) → MaxPooling2D(2×2, stride 2, 'valid'), fused for the direct convolution.
# The conv output is never stored: each 2×2 window's four conv outputs are computed, the max
# kept (relu commutes with max) with a code 0..3 of its position (row-major in the window, the
# first on ties, as the unfused pool). Backward: relu passes the gradient only where the pooled
# value is > 0, and only the window's argmax gets it — so dW, db (and dx when needed) are sums
# over the pooled positions, four times fewer than the conv outputs.

@njit(cache=True, nogil=True)
def _sum_partials(part, partb, dwt, db):
    """dwt = Σ_t part[t], db = Σ_t partb[t]: the batch slices' partial gradients, added in slice
    order (so the result does not depend on which thread ran which slice)."""
    nchunks, kh, kw, c, f = part.shape
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
    _sum_partials(part, partb, dwt, db)


# Stride-1 versions of the two kernels above (the common case, 2–6× faster): each sample is
# copied zero-padded and channels-first into planes of width WP (the padded width), so the conv
# output at flat position p = i·WP + j reads plane[p + tap offset] for every tap: the inner loops
# run over long contiguous slices (up to three taps per pass) and vectorize, where the
# channels-last loops above run 32-long inner loops. The WP − OW columns past the output's width
# are computed and ignored.

@njit(cache=True, nogil=True, inline="always")
def _planes(x, b, ph, pw, wp, xp):
    """xp (C, L): sample b of x (N, H, W, C) channels-first, zero padded, rows WP wide."""
    _, h, wd, c = x.shape
    xp[:] = 0
    for y in range(h):
        for xx in range(wd):
            base = (y + ph) * wp + xx + pw
            for ch in range(c):
                xp[ch, base] = x[b, y, xx, ch]


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _taps(w, ki, kj, ch, k, dh, dw, wp, kw, xp, P, z):
    """z += the conv of up to three taps (ki, kj..kj+2) of filter k; returns the taps done."""
    o = ki * dh * wp + kj * dw
    if kw - kj >= 3:
        w0, w1, w2 = w[ki, kj, ch, k], w[ki, kj + 1, ch, k], w[ki, kj + 2, ch, k]
        x0 = xp[ch, o:o + P]
        x1 = xp[ch, o + dw:o + dw + P]
        x2 = xp[ch, o + 2 * dw:o + 2 * dw + P]
        for p in range(P):
            z[p] += w0 * x0[p] + w1 * x1[p] + w2 * x2[p]
        return 3
    w0 = w[ki, kj, ch, k]
    x0 = xp[ch, o:o + P]
    for p in range(P):
        z[p] += w0 * x0[p]
    return 1


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _conv3x3_4(w, ch, k, dh, dw, wp, xp, P, z):
    """z[0..3] += the 3×3 conv of filters k..k+3 on channel ch: nine shifted input rows, each
    loaded once for four filters."""
    o1, o2 = dh * wp, 2 * dh * wp
    x0 = xp[ch, 0:P]
    x1 = xp[ch, dw:dw + P]
    x2 = xp[ch, 2 * dw:2 * dw + P]
    x3 = xp[ch, o1:o1 + P]
    x4 = xp[ch, o1 + dw:o1 + dw + P]
    x5 = xp[ch, o1 + 2 * dw:o1 + 2 * dw + P]
    x6 = xp[ch, o2:o2 + P]
    x7 = xp[ch, o2 + dw:o2 + dw + P]
    x8 = xp[ch, o2 + 2 * dw:o2 + 2 * dw + P]
    z0, z1, z2, z3 = z[0], z[1], z[2], z[3]
    a0, a1, a2, a3, a4, a5, a6, a7, a8 = (w[0, 0, ch, k], w[0, 1, ch, k], w[0, 2, ch, k],
                                          w[1, 0, ch, k], w[1, 1, ch, k], w[1, 2, ch, k],
                                          w[2, 0, ch, k], w[2, 1, ch, k], w[2, 2, ch, k])
    b0, b1, b2, b3, b4, b5, b6, b7, b8 = (w[0, 0, ch, k + 1], w[0, 1, ch, k + 1],
                                          w[0, 2, ch, k + 1], w[1, 0, ch, k + 1],
                                          w[1, 1, ch, k + 1], w[1, 2, ch, k + 1],
                                          w[2, 0, ch, k + 1], w[2, 1, ch, k + 1],
                                          w[2, 2, ch, k + 1])
    c0, c1, c2, c3, c4, c5, c6, c7, c8 = (w[0, 0, ch, k + 2], w[0, 1, ch, k + 2],
                                          w[0, 2, ch, k + 2], w[1, 0, ch, k + 2],
                                          w[1, 1, ch, k + 2], w[1, 2, ch, k + 2],
                                          w[2, 0, ch, k + 2], w[2, 1, ch, k + 2],
                                          w[2, 2, ch, k + 2])
    d0, d1, d2, d3, d4, d5, d6, d7, d8 = (w[0, 0, ch, k + 3], w[0, 1, ch, k + 3],
                                          w[0, 2, ch, k + 3], w[1, 0, ch, k + 3],
                                          w[1, 1, ch, k + 3], w[1, 2, ch, k + 3],
                                          w[2, 0, ch, k + 3], w[2, 1, ch, k + 3],
                                          w[2, 2, ch, k + 3])
    for p in range(P):
        v0, v1, v2, v3, v4, v5, v6, v7, v8 = (x0[p], x1[p], x2[p], x3[p], x4[p], x5[p], x6[p],
                                              x7[p], x8[p])
        z0[p] += (a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3 + a4 * v4 + a5 * v5 + a6 * v6
                  + a7 * v7 + a8 * v8)
        z1[p] += (b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3 + b4 * v4 + b5 * v5 + b6 * v6
                  + b7 * v7 + b8 * v8)
        z2[p] += (c0 * v0 + c1 * v1 + c2 * v2 + c3 * v3 + c4 * v4 + c5 * v5 + c6 * v6
                  + c7 * v7 + c8 * v8)
        z3[p] += (d0 * v0 + d1 * v1 + d2 * v2 + d3 * v3 + d4 * v4 + d5 * v5 + d6 * v6
                  + d7 * v7 + d8 * v8)


@njit(cache=True, nogil=True, error_model="numpy")
def _pool_row(z, k, poh, pow_, wp, ot, ct):
    """2×2 max pool + relu of the conv plane z of filter k into ot[k], ct[k] (channels-first)."""
    for pi in range(poh):
        r0 = z[2 * pi * wp:2 * pi * wp + 2 * pow_]
        r1 = z[(2 * pi + 1) * wp:(2 * pi + 1) * wp + 2 * pow_]
        ob = ot[k, pi * pow_:(pi + 1) * pow_]
        cb = ct[k, pi * pow_:(pi + 1) * pow_]
        for pj in range(pow_):
            m = r0[2 * pj]
            cd = 0
            v = r0[2 * pj + 1]
            if v > m:
                m = v
                cd = 1
            v = r1[2 * pj]
            if v > m:
                m = v
                cd = 2
            v = r1[2 * pj + 1]
            if v > m:
                m = v
                cd = 3
            ob[pj] = m if m > 0 else 0
            cb[pj] = cd


@njit(cache=True, nogil=True, parallel=True, error_model="numpy", fastmath={"contract"})
def conv_relu_pool_forward_s1(x, w, bias, dh, dw, ph, pw, hp, wp, out, code):
    """:func:`conv_relu_pool_forward` for stride 1; (hp, wp): the padded input's size."""
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    _, poh, pow_, _ = out.shape
    P = (hp - (kh - 1) * dh) * wp
    L = hp * wp + (kw - 1) * dw
    quad = 4 if kh == 3 and kw == 3 else 0
    for b in prange(n):
        xp = np.empty((c, L), dtype=x.dtype)
        z = np.empty((4, P), dtype=x.dtype)
        ot = np.empty((f, poh * pow_), dtype=x.dtype)
        ct = np.empty((f, poh * pow_), dtype=np.uint8)
        _planes(x, b, ph, pw, wp, xp)
        k = 0
        while k < f:
            nk = quad if f - k >= quad > 0 else 1
            for u in range(nk):
                bk = bias[k + u]
                zu = z[u]
                for p in range(P):
                    zu[p] = bk
            for ch in range(c):
                if nk == 4:
                    _conv3x3_4(w, ch, k, dh, dw, wp, xp, P, z)
                else:
                    for ki in range(kh):
                        kj = 0
                        while kj < kw:
                            kj += _taps(w, ki, kj, ch, k, dh, dw, wp, kw, xp, P, z[0])
            for u in range(nk):
                _pool_row(z[u], k + u, poh, pow_, wp, ot, ct)
            k += nk
        for pi in range(poh):
            for pj in range(pow_):
                s = pi * pow_ + pj
                for k in range(f):
                    out[b, pi, pj, k] = ot[k, s]
                    code[b, pi, pj, k] = ct[k, s]


@njit(cache=True, nogil=True, parallel=True, error_model="numpy",
      fastmath={"contract", "reassoc"})
def conv_relu_pool_backward_s1(x, w, dy, out, code, dh, dw, ph, pw, hp, wp, nchunks, dwt, db,
                               need_dx, dx):
    """:func:`conv_relu_pool_backward` for stride 1, in the planes of the forward above."""
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    _, poh, pow_, _ = dy.shape
    P = (hp - (kh - 1) * dh) * wp
    L = hp * wp + (kw - 1) * dw
    part = np.zeros((nchunks, kh, kw, c, f), dtype=dwt.dtype)
    partb = np.zeros((nchunks, f), dtype=dwt.dtype)
    size = (n + nchunks - 1) // nchunks
    for t in prange(nchunks):
        xp = np.empty((c, L), dtype=x.dtype)
        dxp = np.empty((c, L), dtype=x.dtype)
        z = np.zeros(P, dtype=x.dtype)
        gt = np.empty((f, poh * pow_), dtype=x.dtype)
        ct = np.empty((f, poh * pow_), dtype=np.int64)
        for b in range(t * size, min(n, (t + 1) * size)):
            _planes(x, b, ph, pw, wp, xp)
            if need_dx:
                dxp[:] = 0
            for pi in range(poh):
                for pj in range(pow_):
                    s = pi * pow_ + pj
                    for k in range(f):
                        gt[k, s] = dy[b, pi, pj, k] if out[b, pi, pj, k] > 0 else 0
                        cd = code[b, pi, pj, k]
                        ct[k, s] = (2 * pi + cd // 2) * wp + 2 * pj + cd % 2
            for k in range(f):
                gk = gt[k]
                ck = ct[k]
                sb = dwt.dtype.type(0)
                for s in range(poh * pow_):
                    z[ck[s]] = gk[s]
                    sb += gk[s]
                partb[t, k] += sb
                for ch in range(c):
                    for ki in range(kh):
                        kj = 0
                        while kj < kw:
                            o = ki * dh * wp + kj * dw
                            if kw - kj >= 3:
                                x0 = xp[ch, o:o + P]
                                x1 = xp[ch, o + dw:o + dw + P]
                                x2 = xp[ch, o + 2 * dw:o + 2 * dw + P]
                                s0 = dwt.dtype.type(0)
                                s1 = dwt.dtype.type(0)
                                s2 = dwt.dtype.type(0)
                                for p in range(P):
                                    zp = z[p]
                                    s0 += zp * x0[p]
                                    s1 += zp * x1[p]
                                    s2 += zp * x2[p]
                                part[t, ki, kj, ch, k] += s0
                                part[t, ki, kj + 1, ch, k] += s1
                                part[t, ki, kj + 2, ch, k] += s2
                                nt = 3
                            else:
                                x0 = xp[ch, o:o + P]
                                s0 = dwt.dtype.type(0)
                                for p in range(P):
                                    s0 += z[p] * x0[p]
                                part[t, ki, kj, ch, k] += s0
                                nt = 1
                            if need_dx:
                                for u in range(nt):
                                    wv = w[ki, kj + u, ch, k]
                                    d0 = dxp[ch, o + u * dw:o + u * dw + P]
                                    for p in range(P):
                                        d0[p] += wv * z[p]
                            kj += nt
                for s in range(poh * pow_):
                    z[ck[s]] = 0
            if need_dx:
                for y in range(h):
                    for xx in range(wd):
                        base = (y + ph) * wp + xx + pw
                        for ch in range(c):
                            dx[b, y, xx, ch] = dxp[ch, base]
    _sum_partials(part, partb, dwt, db)
