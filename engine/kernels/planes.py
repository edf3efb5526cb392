"""Stride-1 convolution on channels-first planes: the layout (the inner passes over it:
engine/kernels/plane_passes.py; the parallel training kernels: engine/kernels/conv_s1.py).

A block of samples of x (N, H, W, C) is copied, zero padded, into planes xp (C, L): sample s of
the block starts at s·LS, LS = HP·WP (the padded height × width), and row y of its padded image
at s·LS + y·WP. The conv output at flat position p = s·LS + i·WP + j (i < OH, j < OW) is then
Σ over taps of w[ki, kj, ch, k] · xp[ch, p + ki·dh·WP + kj·dw]: for the whole block every tap is
one long contiguous, vectorizable range [0, P). The positions between (j ≥ OW, and the rows
OH..HP-1 after each sample) are computed and ignored; in gradient planes they hold zeros, so
they add nothing (and the zeros keep one sample's taps from reaching into the next).

The inner loops run over P positions rounded up to a multiple of ROUND (a remainder loop after
the vectorized one cost up to 20% at P ≈ 900); the buffers carry ROUND values of slack.
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64

from engine.kernels.dropout import kept

OPT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": True}
ROUND = 32
# Added to a pool code where the pooled output is ≤ 0: relu passes no gradient there.
DEAD = np.uint8(4)


@njit(inline="always", **OPT)
def pooled_relu(a, b, c, d, bias, zero):
    """relu(max of a 2×2 window a b / c d (row-major) + bias) and the window's code: the max's
    position 0..3, the first on ties, + DEAD where the value is ≤ 0 (relu passes no gradient).
    Branch-free (selects): the maxima of random-looking data would mispredict every other
    branch. ``zero``: 0 in the values' type. The pool of every fused conv + relu + pool kernel
    (pool_rows, conv_c1.py, conv_gemm.py)."""
    w = np.uint8(1) if b > a else np.uint8(0)
    m = max(a, b)
    w = np.uint8(2) if c > m else w
    m = max(m, c)
    w = np.uint8(3) if d > m else w
    m = max(m, d) + bias
    return max(m, zero), w | (DEAD if m <= zero else np.uint8(0))


@njit(inline="always", **OPT)
def dropped(v, w, s0, i, t, scale, zero):
    """A pooled value v and its code w after the Dropout fused behind the pool: kept (× scale)
    or dropped (v · 0, and DEAD in the code) by dropout.kept's mask at flat output index i for
    the seed s0 and threshold t (uint64s), element for element Dropout's own mask."""
    keep = kept(s0, i, t)
    return (v * scale if keep else v * zero), (w if keep else w | DEAD)


@njit(inline="always", **OPT)
def pool_windows(a, b, c, d, bias, o, cd, i0, s0, t, threshold, scale, zero):
    """o[k], cd[k] = the pooled value and code of the window a[k] b[k] / c[k] d[k] (+ bias[k];
    pooled_relu) for every k of o, then the Dropout after the pool when threshold > 0 (dropped,
    at flat output index i0 + k): the pooled rows of conv_gemm.py and conv_winograd.py."""
    for k in range(o.shape[0]):
        m, w = pooled_relu(a[k], b[k], c[k], d[k], bias[k], zero)
        if threshold > 0:
            m, w = dropped(m, w, s0, i0 + k, t, scale, zero)
        o[k] = m
        cd[k] = w


@njit(**OPT)
def rounded(p):
    """p rounded up to a multiple of ROUND."""
    return (p + ROUND - 1) // ROUND * ROUND


@njit(**OPT)
def fill_planes(x, b0, nb, ph, pw, wp, ls, xp):
    """xp (C, L ≥ nb·LS): samples b0..b0+nb-1 of x (N, H, W, C), zero padded, ph rows above and
    pw columns left of each image (the rest of each LS-long plane stays 0)."""
    _, h, wd, c = x.shape
    xp[:] = 0
    for s in range(nb):
        for y in range(h):
            for xx in range(wd):
                base = s * ls + (y + ph) * wp + xx + pw
                xr = x[b0 + s, y, xx]
                for ch in range(c):
                    xp[ch, base] = xr[ch]


@njit(**OPT)
def store_rows(z, k, nb, ls, oh, ow, wp, relu, b0, out):
    """out[b0 + s, i, j, k..k+3] = z[0..3, s·LS + i·WP + j] (relu'd when asked), filters < F."""
    f = out.shape[3]
    nk = min(4, f - k)
    zero = z.dtype.type(0)
    for s in range(nb):
        for i in range(oh):
            base = s * ls + i * wp
            for j in range(ow):
                o = out[b0 + s, i, j]
                for u in range(nk):
                    v = z[u, base + j]
                    o[k + u] = max(v, zero) if relu else v


@njit(**OPT)
def pool_rows(z, k, nb, ls, poh, pow_, wp, ot, b0, code):
    """2×2 max pool (stride 2) + relu of the conv planes z[0..3] into the channels-first rows
    ot[k..k+3, s·PH·PW + pi·PW + pj] (contiguous, so the loop vectorizes), and the window
    code of each window (pooled_relu) into code[b0 + s, k..k+3, pi·PW + pj] (channels-first:
    written here directly, read so by fill_pooled_grad_planes)."""
    zero = z.dtype.type(0)
    for u in range(min(4, ot.shape[0] - k)):
        zu = z[u]
        for s in range(nb):
            cs = code[b0 + s, k + u]
            for pi in range(poh):
                a0 = zu[s * ls + 2 * pi * wp:]
                a1 = zu[s * ls + (2 * pi + 1) * wp:]
                o = s * poh * pow_ + pi * pow_
                ob = ot[k + u, o:o + pow_]
                cb = cs[pi * pow_:(pi + 1) * pow_]
                for pj in range(pow_):
                    ob[pj], cb[pj] = pooled_relu(a0[2 * pj], a0[2 * pj + 1], a1[2 * pj],
                                                 a1[2 * pj + 1], zero, zero)


@njit(**OPT)
def drop_rows(ot, code, k, nb, b0, seed, threshold, scale):
    """The Dropout after a fused conv + pool on the rows pool_rows wrote for filters k..k+3:
    the value at flat index i of the (N, PH, PW, F) output is kept (× ``scale``) when the top
    32 bits of splitmix64(seed + i·γ) are ≥ threshold — element for element the mask of
    engine/kernels/dropout.py's kernels for the same seed — and a dropped one is marked DEAD in
    the code (no gradient). One long loop per filter and sample: at the seed CNN's shape it adds
    120-140 µs to the forward (median of 400 calls, 2 threads), a pass inside pool_rows over
    each row of PW values added 180-240 µs."""
    f = code.shape[1]
    npos = code.shape[2]
    zero = ot.dtype.type(0)
    s0 = uint64(seed)
    t = uint64(threshold)
    for u in range(min(4, f - k)):
        for s in range(nb):
            ob = ot[k + u, s * npos:(s + 1) * npos]
            cb = code[b0 + s, k + u]
            i0 = (b0 + s) * npos * f + k + u
            for q in range(npos):
                ob[q], cb[q] = dropped(ob[q], cb[q], s0, i0 + q * f, t, scale, zero)


@njit(**OPT)
def store_pooled(ot, nb, b0, out):
    """out[b0 + s, pi, pj, :] = ot[:, s·PH·PW + pi·PW + pj]."""
    _, poh, pow_, f = out.shape
    for s in range(nb):
        for pi in range(poh):
            for pj in range(pow_):
                q = (s * poh + pi) * pow_ + pj
                ob = out[b0 + s, pi, pj]
                for k in range(f):
                    ob[k] = ot[k, q]


@njit(**OPT)
def fill_grad_planes(dy, y, relu, b0, nb, gofs, ls, wp, g):
    """g (≥ F rows, L): the gradient of the conv output, dz = dy (· [y > 0] with relu), at
    gofs + s·LS + i·WP + j for sample b0 + s; zeros elsewhere. dy, y: (N, OH, OW, F)."""
    _, oh, ow, f = dy.shape
    g[:] = 0
    zero = g.dtype.type(0)
    for s in range(nb):
        for i in range(oh):
            base = gofs + s * ls + i * wp
            for j in range(ow):
                d = dy[b0 + s, i, j]
                yr = y[b0 + s, i, j]
                for k in range(f):
                    g[k, base + j] = d[k] if (not relu or yr[k] > zero) else zero


@njit(**OPT)
def fill_pooled_grad_planes(dy, code, b0, nb, gofs, ls, wp, scale, g, gb):
    """Like fill_grad_planes for a fused relu + 2×2 max pool (and dropout: ``scale``, 1 without
    one): each pooled gradient × scale goes to its window's max (none where the code says DEAD,
    relu cut or dropped); zeros elsewhere. dy (N, PH, PW, F); code (N, F, PH·PW), as pool_rows
    writes it (or a view with those indices: conv_c1.py's codes are channels-last); gb (F,)
    out: each plane's sum (the bias gradient). Each plane is written in order from its channel
    of the sample's dy, read across the channels (the sample's dy is in the L1 cache). Measured
    at the seed CNN's shape (13×13×32 pooled, one thread, random codes, median of 30, two runs,
    2026-12-05): 6.8 – 6.9 µs a sample with channels-first codes and 7.4 – 8.0 µs with
    conv_c1.py's channels-last ones, the bias sums included; without the sums, 7.7 – 7.9 µs
    turning each sample's dy channels-first first (the earlier way), 5.8 µs as here, and 10.3 µs
    writing all four values of every window instead of zeroing first."""
    _, poh, pow_, f = dy.shape
    zero = g.dtype.type(0)
    npos = poh * pow_
    g[:] = 0
    gb[:] = 0
    for s in range(nb):
        d2 = dy[b0 + s].reshape(npos, f)
        cs_s = code[b0 + s]
        for k in range(f):   # (branch-free: the dead windows write a zero)
            gs = g[k, gofs + s * ls:]
            cs = cs_s[k]
            total = zero
            for pi in range(poh):
                o = pi * pow_
                base = 2 * pi * wp
                for pj in range(pow_):
                    c = cs[o + pj]
                    v = d2[o + pj, k] * scale
                    v = v if c < DEAD else zero
                    gs[base + 2 * pj + ((c >> 1) & 1) * wp + (c & 1)] = v
                    total += v
            gb[k] += total


@njit(**OPT)
def store_input_grad(zdx, ch, nb, ls, pw, wp, b0, dx):
    """dx[b0 + s, y, x, ch..ch+3] = zdx[0..3, s·LS + y·WP + x + pw] (channels < C): the
    planes from the first input row on."""
    _, h, wd, c = dx.shape
    nc = min(4, c - ch)
    for s in range(nb):
        for y in range(h):
            base = s * ls + y * wp + pw
            for xx in range(wd):
                d = dx[b0 + s, y, xx]
                for u in range(nc):
                    d[ch + u] = zdx[u, base + xx]
