"""The inner passes of the stride-1 convolution over channels-first planes (the layout:
engine/kernels/planes.py): the convolution of four filters, and the weight-gradient sums.

The passes work on four filters at a time (each input row is loaded once for the four): 3×3
kernels nine taps of one channel per pass; kernels at least three wide three taps of a row of
two channels; narrower ones (1×1, 2×2, 3×1 ...) six (channel, tap) pairs counted channel-major
over the whole kernel, so that they waste nothing. The weight-gradient pass: two filters × nine
taps (3×3), or four filters × three taps of a row, or × three pairs (18 or 12 running sums). A
missing filter, channel, tap or pair has weight 0 and reads a row that exists, so no branch
reaches the inner loops. Rows are sliced before the loops (an indexed load checks for negative
indices and stops LLVM from vectorizing).
"""
from __future__ import annotations

from numba import njit

from engine.kernels.planes import OPT


@njit(**OPT)
def weight(w, ki, kj, ch, k):
    """w[ki, kj, ch, k], or 0 for a filter k past the last one."""
    return w[ki, kj, ch, k] if k < w.shape[3] else w.dtype.type(0)


@njit(**OPT)
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
    a0, a1, a2 = weight(w, 0, 0, ch, k), weight(w, 0, 1, ch, k), weight(w, 0, 2, ch, k)
    a3, a4, a5 = weight(w, 1, 0, ch, k), weight(w, 1, 1, ch, k), weight(w, 1, 2, ch, k)
    a6, a7, a8 = weight(w, 2, 0, ch, k), weight(w, 2, 1, ch, k), weight(w, 2, 2, ch, k)
    k1 = k + 1
    b0, b1, b2 = weight(w, 0, 0, ch, k1), weight(w, 0, 1, ch, k1), weight(w, 0, 2, ch, k1)
    b3, b4, b5 = weight(w, 1, 0, ch, k1), weight(w, 1, 1, ch, k1), weight(w, 1, 2, ch, k1)
    b6, b7, b8 = weight(w, 2, 0, ch, k1), weight(w, 2, 1, ch, k1), weight(w, 2, 2, ch, k1)
    k2 = k + 2
    c0, c1, c2 = weight(w, 0, 0, ch, k2), weight(w, 0, 1, ch, k2), weight(w, 0, 2, ch, k2)
    c3, c4, c5 = weight(w, 1, 0, ch, k2), weight(w, 1, 1, ch, k2), weight(w, 1, 2, ch, k2)
    c6, c7, c8 = weight(w, 2, 0, ch, k2), weight(w, 2, 1, ch, k2), weight(w, 2, 2, ch, k2)
    k3 = k + 3
    d0, d1, d2 = weight(w, 0, 0, ch, k3), weight(w, 0, 1, ch, k3), weight(w, 0, 2, ch, k3)
    d3, d4, d5 = weight(w, 1, 0, ch, k3), weight(w, 1, 1, ch, k3), weight(w, 1, 2, ch, k3)
    d6, d7, d8 = weight(w, 2, 0, ch, k3), weight(w, 2, 1, ch, k3), weight(w, 2, 2, ch, k3)
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


@njit(**OPT)
def _conv3x3_1(w, ch, k, dh, dw, wp, xp, P, z0):
    """z0 += the 3×3 conv of filter k on channel ch (the filters left over after groups of 4)."""
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
    a0, a1, a2 = w[0, 0, ch, k], w[0, 1, ch, k], w[0, 2, ch, k]
    a3, a4, a5 = w[1, 0, ch, k], w[1, 1, ch, k], w[1, 2, ch, k]
    a6, a7, a8 = w[2, 0, ch, k], w[2, 1, ch, k], w[2, 2, ch, k]
    for p in range(P):
        z0[p] += (a0 * x0[p] + a1 * x1[p] + a2 * x2[p] + a3 * x3[p] + a4 * x4[p]
                  + a5 * x5[p] + a6 * x6[p] + a7 * x7[p] + a8 * x8[p])


@njit(**OPT)
def _pair(w, q, dh, dw, wp, L, k):
    """The q-th (channel, tap) pair of w (KH, KW, C, F), channel-major: (offset in the
    flattened planes (C·L), the weights of filters k..k+3). Past the last pair or filter:
    weight 0, and the last pair's offset (a row that exists)."""
    kh, kw, c, f = w.shape
    taps = kh * kw
    last = c * taps - 1
    qq = min(q, last)
    ch, t = qq // taps, qq % taps
    ki, kj = t // kw, t % kw
    zero = w.dtype.type(0)
    ok = q <= last
    return (ch * L + ki * dh * wp + kj * dw,
            w[ki, kj, ch, k] if ok and k < f else zero,
            w[ki, kj, ch, k + 1] if ok and k + 1 < f else zero,
            w[ki, kj, ch, k + 2] if ok and k + 2 < f else zero,
            w[ki, kj, ch, k + 3] if ok and k + 3 < f else zero)


@njit(**OPT)
def _pairs6_4(w, q, k, dh, dw, wp, xp, P, z):
    """z[0..3] += six (channel, tap) pairs q..q+5 of filters k..k+3: six shifted input rows,
    each loaded once for the four filters."""
    L = xp.shape[1]
    xf = xp.reshape(-1)
    o0, a0, b0, c0, d0 = _pair(w, q, dh, dw, wp, L, k)
    o1, a1, b1, c1, d1 = _pair(w, q + 1, dh, dw, wp, L, k)
    o2, a2, b2, c2, d2 = _pair(w, q + 2, dh, dw, wp, L, k)
    o3, a3, b3, c3, d3 = _pair(w, q + 3, dh, dw, wp, L, k)
    o4, a4, b4, c4, d4 = _pair(w, q + 4, dh, dw, wp, L, k)
    o5, a5, b5, c5, d5 = _pair(w, q + 5, dh, dw, wp, L, k)
    x0, x1, x2 = xf[o0:o0 + P], xf[o1:o1 + P], xf[o2:o2 + P]
    x3, x4, x5 = xf[o3:o3 + P], xf[o4:o4 + P], xf[o5:o5 + P]
    z0, z1, z2, z3 = z[0], z[1], z[2], z[3]
    for p in range(P):
        v0, v1, v2, v3, v4, v5 = x0[p], x1[p], x2[p], x3[p], x4[p], x5[p]
        z0[p] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3 + a4 * v4 + a5 * v5
        z1[p] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3 + b4 * v4 + b5 * v5
        z2[p] += c0 * v0 + c1 * v1 + c2 * v2 + c3 * v3 + c4 * v4 + c5 * v5
        z3[p] += d0 * v0 + d1 * v1 + d2 * v2 + d3 * v3 + d4 * v4 + d5 * v5


@njit(**OPT)
def _pairs6_1(w, q, k, dh, dw, wp, xp, P, z0):
    """z0 += six (channel, tap) pairs q..q+5 of filter k alone."""
    L = xp.shape[1]
    xf = xp.reshape(-1)
    o0, a0, _, _, _ = _pair(w, q, dh, dw, wp, L, k)
    o1, a1, _, _, _ = _pair(w, q + 1, dh, dw, wp, L, k)
    o2, a2, _, _, _ = _pair(w, q + 2, dh, dw, wp, L, k)
    o3, a3, _, _, _ = _pair(w, q + 3, dh, dw, wp, L, k)
    o4, a4, _, _, _ = _pair(w, q + 4, dh, dw, wp, L, k)
    o5, a5, _, _, _ = _pair(w, q + 5, dh, dw, wp, L, k)
    x0, x1, x2 = xf[o0:o0 + P], xf[o1:o1 + P], xf[o2:o2 + P]
    x3, x4, x5 = xf[o3:o3 + P], xf[o4:o4 + P], xf[o5:o5 + P]
    for p in range(P):
        z0[p] += (a0 * x0[p] + a1 * x1[p] + a2 * x2[p] + a3 * x3[p] + a4 * x4[p]
                  + a5 * x5[p])


@njit(**OPT)
def _tap(w, ki, kj, ch, k):
    """w[ki, kj, ch, k], or 0 past the last tap of the row, channel or filter."""
    _, kw, c, f = w.shape
    return w[ki, kj, ch, k] if kj < kw and ch < c and k < f else w.dtype.type(0)


@njit(**OPT)
def _row3_4x2(w, ki, kj, ch, k, dh, dw, wp, xp, P, z):
    """z[0..3] += taps (ki, kj..kj+2) of filters k..k+3 on channels ch, ch + 1: six shifted input
    rows, each loaded once for four filters (a tap, channel or filter past the last: weight 0,
    and the row of the last one present)."""
    _, kw, c, _ = w.shape
    o = ki * dh * wp + kj * dw
    o1 = o + min(1, kw - 1 - kj) * dw
    o2 = o + min(2, kw - 1 - kj) * dw
    c1 = min(ch + 1, c - 1)
    x0, x1, x2 = xp[ch, o:o + P], xp[ch, o1:o1 + P], xp[ch, o2:o2 + P]
    y0, y1, y2 = xp[c1, o:o + P], xp[c1, o1:o1 + P], xp[c1, o2:o2 + P]
    z0, z1, z2, z3 = z[0], z[1], z[2], z[3]
    a0, a1, a2 = _tap(w, ki, kj, ch, k), _tap(w, ki, kj + 1, ch, k), _tap(w, ki, kj + 2, ch, k)
    a3, a4, a5 = (_tap(w, ki, kj, ch + 1, k), _tap(w, ki, kj + 1, ch + 1, k),
                  _tap(w, ki, kj + 2, ch + 1, k))
    k1 = k + 1
    b0, b1, b2 = _tap(w, ki, kj, ch, k1), _tap(w, ki, kj + 1, ch, k1), _tap(w, ki, kj + 2, ch, k1)
    b3, b4, b5 = (_tap(w, ki, kj, ch + 1, k1), _tap(w, ki, kj + 1, ch + 1, k1),
                  _tap(w, ki, kj + 2, ch + 1, k1))
    k2 = k + 2
    c0_, c1_, c2_ = (_tap(w, ki, kj, ch, k2), _tap(w, ki, kj + 1, ch, k2),
                     _tap(w, ki, kj + 2, ch, k2))
    c3_, c4_, c5_ = (_tap(w, ki, kj, ch + 1, k2), _tap(w, ki, kj + 1, ch + 1, k2),
                     _tap(w, ki, kj + 2, ch + 1, k2))
    k3 = k + 3
    d0, d1, d2 = _tap(w, ki, kj, ch, k3), _tap(w, ki, kj + 1, ch, k3), _tap(w, ki, kj + 2, ch, k3)
    d3, d4, d5 = (_tap(w, ki, kj, ch + 1, k3), _tap(w, ki, kj + 1, ch + 1, k3),
                  _tap(w, ki, kj + 2, ch + 1, k3))
    for p in range(P):
        v0, v1, v2, v3, v4, v5 = x0[p], x1[p], x2[p], y0[p], y1[p], y2[p]
        z0[p] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3 + a4 * v4 + a5 * v5
        z1[p] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3 + b4 * v4 + b5 * v5
        z2[p] += c0_ * v0 + c1_ * v1 + c2_ * v2 + c3_ * v3 + c4_ * v4 + c5_ * v5
        z3[p] += d0 * v0 + d1 * v1 + d2 * v2 + d3 * v3 + d4 * v4 + d5 * v5


@njit(**OPT)
def conv_pass(w, xp, k, dh, dw, wp, P, z):
    """z[0..3, :P] += the convolution of filters k..k+3 of w (KH, KW, C, F) over the planes xp
    (C, L), all channels (fewer than four filters left: one at a time, into z[0..])."""
    kh, kw, c, f = w.shape
    three = kh == 3 and kw == 3
    pairs = c * kh * kw
    if f - k >= 4:
        if three:
            for ch in range(c):
                _conv3x3_4(w, ch, k, dh, dw, wp, xp, P, z)
        elif kw >= 3:    # rows of three taps (on long rows faster than pairs, measured)
            for ch in range(0, c, 2):
                for ki in range(kh):
                    for kj in range(0, kw, 3):
                        _row3_4x2(w, ki, kj, ch, k, dh, dw, wp, xp, P, z)
        else:
            for q in range(0, pairs, 6):
                _pairs6_4(w, q, k, dh, dw, wp, xp, P, z)
        return
    for u in range(f - k):
        if three:
            for ch in range(c):
                _conv3x3_1(w, ch, k + u, dh, dw, wp, xp, P, z[u])
        else:
            for q in range(0, pairs, 6):
                _pairs6_1(w, q, k + u, dh, dw, wp, xp, P, z[u])


@njit(**OPT)
def _dw3x3_2(g, gofs, xp, k, ch, dh, dw, wp, P, acc):
    """acc[ki, kj, ch, k..k+1] += Σ_p g[k.., gofs + p] · xp[ch, p + tap offset], 3×3 taps
    (g has a row k + 1, zeros when k + 1 is past the last filter)."""
    o1, o2 = dh * wp, 2 * dh * wp
    g0 = g[k, gofs:gofs + P]
    g1 = g[k + 1, gofs:gofs + P]
    x0 = xp[ch, 0:P]
    x1 = xp[ch, dw:dw + P]
    x2 = xp[ch, 2 * dw:2 * dw + P]
    x3 = xp[ch, o1:o1 + P]
    x4 = xp[ch, o1 + dw:o1 + dw + P]
    x5 = xp[ch, o1 + 2 * dw:o1 + 2 * dw + P]
    x6 = xp[ch, o2:o2 + P]
    x7 = xp[ch, o2 + dw:o2 + dw + P]
    x8 = xp[ch, o2 + 2 * dw:o2 + 2 * dw + P]
    zero = xp.dtype.type(0)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = zero
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = b8 = zero
    for p in range(P):
        u = g0[p]
        v = g1[p]
        y0, y1, y2, y3, y4, y5, y6, y7, y8 = (x0[p], x1[p], x2[p], x3[p], x4[p], x5[p], x6[p],
                                              x7[p], x8[p])
        a0 += u * y0
        a1 += u * y1
        a2 += u * y2
        a3 += u * y3
        a4 += u * y4
        a5 += u * y5
        a6 += u * y6
        a7 += u * y7
        a8 += u * y8
        b0 += v * y0
        b1 += v * y1
        b2 += v * y2
        b3 += v * y3
        b4 += v * y4
        b5 += v * y5
        b6 += v * y6
        b7 += v * y7
        b8 += v * y8
    sums = ((a0, a1, a2, a3, a4, a5, a6, a7, a8), (b0, b1, b2, b3, b4, b5, b6, b7, b8))
    for u in range(2):
        if k + u < acc.shape[3]:
            s = sums[u]
            acc[0, 0, ch, k + u] += s[0]
            acc[0, 1, ch, k + u] += s[1]
            acc[0, 2, ch, k + u] += s[2]
            acc[1, 0, ch, k + u] += s[3]
            acc[1, 1, ch, k + u] += s[4]
            acc[1, 2, ch, k + u] += s[5]
            acc[2, 0, ch, k + u] += s[6]
            acc[2, 1, ch, k + u] += s[7]
            acc[2, 2, ch, k + u] += s[8]


@njit(**OPT)
def _dw3x3_1(g, gofs, xp, k, ch, dh, dw, wp, P, acc):
    """acc[:, :, ch, k] += the 3×3 weight-gradient sums of one filter (the last, F odd)."""
    o1, o2 = dh * wp, 2 * dh * wp
    g0 = g[k, gofs:gofs + P]
    x0 = xp[ch, 0:P]
    x1 = xp[ch, dw:dw + P]
    x2 = xp[ch, 2 * dw:2 * dw + P]
    x3 = xp[ch, o1:o1 + P]
    x4 = xp[ch, o1 + dw:o1 + dw + P]
    x5 = xp[ch, o1 + 2 * dw:o1 + 2 * dw + P]
    x6 = xp[ch, o2:o2 + P]
    x7 = xp[ch, o2 + dw:o2 + dw + P]
    x8 = xp[ch, o2 + 2 * dw:o2 + 2 * dw + P]
    zero = xp.dtype.type(0)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = zero
    for p in range(P):
        u = g0[p]
        a0 += u * x0[p]
        a1 += u * x1[p]
        a2 += u * x2[p]
        a3 += u * x3[p]
        a4 += u * x4[p]
        a5 += u * x5[p]
        a6 += u * x6[p]
        a7 += u * x7[p]
        a8 += u * x8[p]
    acc[0, 0, ch, k] += a0
    acc[0, 1, ch, k] += a1
    acc[0, 2, ch, k] += a2
    acc[1, 0, ch, k] += a3
    acc[1, 1, ch, k] += a4
    acc[1, 2, ch, k] += a5
    acc[2, 0, ch, k] += a6
    acc[2, 1, ch, k] += a7
    acc[2, 2, ch, k] += a8


@njit(**OPT)
def _dw_row3_4(g, gofs, xp, ki, kj, k, ch, dh, dw, wp, P, acc):
    """acc[ki, kj..kj+2, ch, k..k+3] += the weight-gradient sums of three taps of one row and
    four filters (g has rows up to k + 3, zeros past the last filter)."""
    kw = acc.shape[1]
    o = ki * dh * wp + kj * dw
    o1 = o + min(1, kw - 1 - kj) * dw
    o2 = o + min(2, kw - 1 - kj) * dw
    g0, g1 = g[k, gofs:gofs + P], g[k + 1, gofs:gofs + P]
    g2, g3 = g[k + 2, gofs:gofs + P], g[k + 3, gofs:gofs + P]
    x0, x1, x2 = xp[ch, o:o + P], xp[ch, o1:o1 + P], xp[ch, o2:o2 + P]
    zero = xp.dtype.type(0)
    a0 = a1 = a2 = b0 = b1 = b2 = c0 = c1 = c2 = d0 = d1 = d2 = zero
    for p in range(P):
        y0, y1, y2 = x0[p], x1[p], x2[p]
        e, f_, h, q = g0[p], g1[p], g2[p], g3[p]
        a0 += e * y0
        a1 += e * y1
        a2 += e * y2
        b0 += f_ * y0
        b1 += f_ * y1
        b2 += f_ * y2
        c0 += h * y0
        c1 += h * y1
        c2 += h * y2
        d0 += q * y0
        d1 += q * y1
        d2 += q * y2
    sums = ((a0, a1, a2), (b0, b1, b2), (c0, c1, c2), (d0, d1, d2))
    for u in range(min(4, acc.shape[3] - k)):
        s = sums[u]
        for v in range(min(3, kw - kj)):
            acc[ki, kj + v, ch, k + u] += s[v]


@njit(**OPT)
def _dw_pairs3_4(g, gofs, xp, q, k, dh, dw, wp, P, acc):
    """acc[tap, ch, k..k+3] += the weight-gradient sums of three (channel, tap) pairs q..q+2
    (as _pair's) and four filters (g has rows up to k + 3, zeros past the last filter)."""
    kh, kw, c, f = acc.shape
    taps = kh * kw
    last = c * taps - 1
    L = xp.shape[1]
    xf = xp.reshape(-1)
    o0, _, _, _, _ = _pair(acc, q, dh, dw, wp, L, 0)
    o1, _, _, _, _ = _pair(acc, q + 1, dh, dw, wp, L, 0)
    o2, _, _, _, _ = _pair(acc, q + 2, dh, dw, wp, L, 0)
    g0, g1 = g[k, gofs:gofs + P], g[k + 1, gofs:gofs + P]
    g2, g3 = g[k + 2, gofs:gofs + P], g[k + 3, gofs:gofs + P]
    zero = xp.dtype.type(0)
    a0 = a1 = a2 = b0 = b1 = b2 = c0 = c1 = c2 = d0 = d1 = d2 = zero
    x0, x1, x2 = xf[o0:o0 + P], xf[o1:o1 + P], xf[o2:o2 + P]
    for p in range(P):
        y0, y1, y2 = x0[p], x1[p], x2[p]
        e, f_, h, r = g0[p], g1[p], g2[p], g3[p]
        a0 += e * y0
        a1 += e * y1
        a2 += e * y2
        b0 += f_ * y0
        b1 += f_ * y1
        b2 += f_ * y2
        c0 += h * y0
        c1 += h * y1
        c2 += h * y2
        d0 += r * y0
        d1 += r * y1
        d2 += r * y2
    sums = ((a0, a1, a2), (b0, b1, b2), (c0, c1, c2), (d0, d1, d2))
    for u in range(min(4, f - k)):
        su = sums[u]
        for v in range(min(3, last + 1 - q)):
            qv = q + v
            t = qv % taps
            acc[t // kw, t % kw, qv // taps, k + u] += su[v]


@njit(**OPT)
def dw_pass(g, gofs, xp, dh, dw, wp, P, acc):
    """acc (KH, KW, C, F) += Σ_p g[k, gofs + p] · xp[ch, p + tap offset]: the weight gradient
    of one block, from its gradient planes g (F rounded up to a multiple of 4 rows, the rows
    past F zero) and input planes."""
    kh, kw, c, f = acc.shape
    if kh == 3 and kw == 3:
        for k in range(0, f, 2):
            for ch in range(c):
                if k + 1 == f:
                    _dw3x3_1(g, gofs, xp, k, ch, dh, dw, wp, P, acc)
                else:
                    _dw3x3_2(g, gofs, xp, k, ch, dh, dw, wp, P, acc)
    elif kw >= 3:
        for k in range(0, f, 4):
            for ch in range(c):
                for ki in range(kh):
                    for kj in range(0, kw, 3):
                        _dw_row3_4(g, gofs, xp, ki, kj, k, ch, dh, dw, wp, P, acc)
    else:
        for k in range(0, f, 4):
            for q in range(0, c * kh * kw, 3):
                _dw_pairs3_4(g, gofs, xp, q, k, dh, dw, wp, P, acc)


