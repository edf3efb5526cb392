"""Stride-1 2-D convolutions with many channels, as register tiles (lanes.tile4).

A tile keeps the running sums of four output pixels × 32 filters in vector registers over every
tap (KH·KW·C) of a channels-last padded sample: per tap four broadcast inputs, one 32-wide row of
the weights, sixteen 8-wide multiply-adds; the sums are stored once. The planes kernels
(conv_s1.py) keep their running outputs in memory instead. The same tile makes the three
products of a training step:

- forward: out[i, j] = bias + Σ_taps xpad[i, j + tap] · w[tap] (four pixels j of a row);
- dx: the forward of the padded output gradient with the turned kernel (taps KH·KW·F, rows of
  32 input channels);
- dW: four taps (consecutive channels of one kernel position) × 32 filters, summed over the
  output positions: Σ_p xpad[p + tap] · dy[p], the output gradient's rows as the weights.

With a 2×2 max pool fused (relu, and a Dropout after the pool), the forward pools each pair of
conv rows as it makes them and writes the pooled output and window codes of conv_gemm.py's
pooled kernels; the backward puts the pooled gradient back at each window's max.

The residual block's 32 → 32-channel 3×3 'same' convolution on 32 × 32, batch 32, two
threads (median of 15, 2026-12-06): forward 3.47 ms against the planes' 4.30, backward (dx and
dW) 6.50 against 8.39 (87 and 93 GFMA/s); one thread 6.77 / 12.78 against 8.11 / 16.86. Where
the layer uses them: engine/layers/conv.py, TILES_MIN_CHANNELS (bench/conv_modes.py --no-pool).

Shapes (N batch, C channels, F filters, KH×KW kernel, dilation dh×dw; HP×WP the padded input,
ph/pw its top/left padding; OH×OW the output): x (N, H, W, C), out / dy (N, OH, OW, F). Filters
(and dx's channels) are padded to a multiple of 32 in the weight arrays (zeros); the pixels of
a row to a multiple of 4 in each worker's row buffer (the extra pixels' sums are dropped).

Work is shared dynamically (samples, or chunks of samples, from a counter); dW and the bias
gradient are summed per chunk and the chunks added in chunk order, so the result does not depend
on the threads.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from engine.kernels.conv_gemm import unpool_chunk
from engine.kernels.conv_s1 import sum_chunks
from engine.kernels.lanes import TILE, tile4
from engine.kernels.parallel import fetch_add, take_samples
from engine.kernels.planes import OPT, dropped, pooled_relu

PIXELS = 4           # pixels (dW: taps) per tile: lanes.tile4


@njit(**OPT)
def into_padded(src, s, buf, pt, pl, wp):
    """The interior of sample s in a zero-bordered channels-last buffer of rows of wp pixels:
    buf[((pt + i)·wp + pl + j)·C + ch] = src[s, i, j, ch] (the border stays as it was: zeros).
    A row of the sample at a time, from 0 (a loop from a runtime start keeps numba's
    negative-index check and stays scalar). Also conv_winograd.py's."""
    _, h, w, c = src.shape
    for i in range(h):
        dst = buf[((pt + i) * wp + pl) * c:((pt + i) * wp + pl + w) * c]
        row = src[s, i].reshape(-1)
        for k in range(w * c):
            dst[k] = row[k]


@njit(**OPT)
def _rows_out(orow, out, s, i, b, relu):
    """out[s, i, :, 32b : 32b + 32] (its existing part) = orow's pixels, relu'd if asked."""
    ow, f = out.shape[2], out.shape[3]
    width = min(TILE, f - b * TILE)
    zero = out.dtype.type(0)
    for j in range(ow):
        o = out[s, i, j]
        for k in range(width):
            v = orow[j * TILE + k]
            o[b * TILE + k] = max(v, zero) if relu else v


@njit(**OPT)
def _conv_row(xs, i, orow, b, bias, offs, w2, c, wp, ow):
    """orow = row i of the sample's conv output for filter block b (+ bias), four pixels a
    tile; orow (≥ ceil(OW / 4)·4·32,) holds pixel j at j·32."""
    taps = w2.shape[1]
    for j in range(orow.shape[0] // TILE):
        for k in range(TILE):
            orow[j * TILE + k] = bias[b * TILE + k]
    for j in range(0, ow, PIXELS):
        tile4(orow, j * TILE, TILE, xs, (i * wp + j) * c, c, offs, w2, b * taps * TILE, TILE,
              taps)


@njit(parallel=True, **OPT)
def tiles_forward(x, w2, bias, offs, ph, pw, hp, wp, oh, ow, relu, pool, out, code, seed,
                  threshold, scale, nworkers):
    """out = act(conv(x) + bias), act relu or linear. w2 (F/32 blocks, KH·KW·C, 32): the kernel
    by blocks of 32 filters (zeros past F); bias (blocks·32,); offs (KH·KW·C,) int32: each
    tap's offset in the padded sample, ((ki·dh)·WP + kj·dw)·C + ch.

    With ``pool``: out (N, OH//2, OW//2, F) = maxpool2×2(relu(conv(x) + bias)) and code (same
    shape, uint8) each max's window position 0..3 + DEAD where no gradient passes (planes'
    pooled_relu, as conv_gemm.py's pooled kernels), and with a ``threshold`` > 0 the Dropout
    after the pool (planes.dropped: seed, threshold, scale)."""
    n, _, _, c = x.shape
    f = out.shape[3]
    blocks = w2.shape[0]
    wq = -(-ow // PIXELS) * PIXELS
    zero = x.dtype.type(0)
    s0 = uint64(seed)
    t = uint64(threshold)
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        xs = np.zeros(hp * wp * c + PIXELS * c, x.dtype)
        orow = np.empty(wq * TILE, x.dtype)
        orow2 = np.empty(wq * TILE if pool else 0, x.dtype)
        nobias = np.zeros(bias.shape[0] if pool else 0, x.dtype)
        while True:
            s = fetch_add(counter, 0)
            if s >= n:
                break
            into_padded(x, s, xs, ph, pw, wp)
            if not pool:
                for i in range(oh):
                    for b in range(blocks):
                        _conv_row(xs, i, orow, b, bias, offs, w2, c, wp, ow)
                        _rows_out(orow, out, s, i, b, relu)
                continue
            poh, pow_ = out.shape[1], out.shape[2]
            for pi in range(poh):
                for b in range(blocks):        # pooled_relu adds the bias: rows without it
                    _conv_row(xs, 2 * pi, orow, b, nobias, offs, w2, c, wp, ow)
                    _conv_row(xs, 2 * pi + 1, orow2, b, nobias, offs, w2, c, wp, ow)
                    width = min(TILE, f - b * TILE)
                    for pj in range(pow_):
                        o = out[s, pi, pj]
                        cd = code[s, pi, pj]
                        r0 = 2 * pj * TILE
                        i0 = ((s * poh + pi) * pow_ + pj) * f + b * TILE
                        for k in range(width):
                            m, w = pooled_relu(orow[r0 + k], orow[r0 + TILE + k],
                                               orow2[r0 + k], orow2[r0 + TILE + k],
                                               bias[b * TILE + k], zero)
                            if threshold > 0:
                                m, w = dropped(m, w, s0, i0 + k, t, scale, zero)
                            o[b * TILE + k] = m
                            cd[b * TILE + k] = w


@njit(parallel=True, **OPT)
def tiles_backward(x, w2t, dy, y, relu, pool, code, scale, offs_dx, offs_dw, pos, ph, pw, hp,
                   wp, oh, ow, qt, ql, gh, gw, bs, part, partb, need_dx, dx, nworkers):
    """Gradients of tiles_forward from dy (N, OH, OW, F): part (chunks, KH·KW·C, FP) and
    partb (chunks, FP) get each chunk's sums of dW and db (FP = F padded to 32), dx (N, H, W,
    C) the input gradient when need_dx. With relu, dy counts where y > 0 only. With ``pool``,
    dy is the pooled gradient (N, OH//2, OW//2, F), passed × scale to each window's max by
    the forward's code (none where DEAD: conv_gemm.unpool_chunk).

    w2t (C/32 blocks, KH·KW·F, 32): the turned kernel, w2t[b, ((KH−1−ki)·KW + KW−1−kj)·F + f,
    k] = w[ki, kj, 32b + k, f]; offs_dx (KH·KW·F,) int32: its taps' offsets in the padded
    output gradient (GH × GW × FP, qt/ql its top/left padding, (KH−1)·dh − ph and
    (KW−1)·dw − pw); offs_dw (KH·KW·C,): the forward's tap offsets; pos (OH·OW,) int32: each
    output position's offset in the padded input, (i·WP + j)·C."""
    n, h, w, c = x.shape
    f = dy.shape[3]
    fp = part.shape[2]
    taps = offs_dw.shape[0]
    cblocks, taps_dx, _ = w2t.shape
    fblocks = fp // TILE
    wq = -(-w // PIXELS) * PIXELS
    nchunks = part.shape[0]
    zero = x.dtype.type(0)
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        xs = np.zeros(hp * wp * c + PIXELS * c, x.dtype)
        dys = np.zeros((oh * ow, fp), x.dtype)
        dyp = np.zeros(gh * gw * fp + PIXELS * fp if need_dx else 1, x.dtype)
        orow = np.empty(wq * TILE, x.dtype)
        while True:
            chunk, s0, count = take_samples(counter, nchunks, bs, n)
            if count == 0:
                break
            pdw = part[chunk]
            pb = partb[chunk]
            for t in range(taps):
                for k in range(fp):
                    pdw[t, k] = zero
            for k in range(fp):
                pb[k] = zero
            for s in range(s0, s0 + count):
                if pool:
                    unpool_chunk(dy, code, oh, ow, s, 1, scale, dys, pb)
                for i in range(oh if not pool else 0):   # dy (relu'd), its rows FP wide
                    for j in range(ow):
                        p = i * ow + j
                        src = dy[s, i, j]
                        d = dys[p]
                        if relu:
                            yr = y[s, i, j]
                            for k in range(f):
                                d[k] = src[k] if yr[k] > zero else zero
                        else:
                            for k in range(f):
                                d[k] = src[k]
                        for k in range(f):
                            pb[k] += d[k]
                if need_dx:
                    for i in range(oh):
                        for j in range(ow):
                            base = ((qt + i) * gw + ql + j) * fp
                            d = dys[i * ow + j]
                            for k in range(fp):
                                dyp[base + k] = d[k]
                    for i in range(h):
                        for b in range(cblocks):
                            for k in range(wq * TILE):
                                orow[k] = zero
                            for j in range(0, w, PIXELS):
                                tile4(orow, j * TILE, TILE, dyp, (i * gw + j) * fp, fp,
                                      offs_dx, w2t, b * taps_dx * TILE, TILE, taps_dx)
                            _rows_out(orow, dx, s, i, b, False)
                into_padded(x, s, xs, ph, pw, wp)
                for b in range(fblocks):
                    for t in range(0, taps, PIXELS):
                        tile4(pdw.reshape(-1), t * fp + b * TILE, fp, xs, offs_dw[t], 1, pos,
                              dys.reshape(-1), b * TILE, fp, oh * ow)


def _offsets(kh, kw, dh, dw, width, channels, ld) -> np.ndarray:
    """The taps' offsets ((ki·dh)·width + kj·dw)·ld + ch in a padded channels-last buffer."""
    ki, kj, ch = np.meshgrid(np.arange(kh), np.arange(kw), np.arange(channels), indexing="ij")
    return (((ki * dh) * width + kj * dw) * ld + ch).astype(np.int32).reshape(-1)


def _blocks(mat: np.ndarray) -> np.ndarray:
    """(rows, cols) → (ceil(cols / 32), rows, 32): column blocks of 32, zeros past cols."""
    rows, cols = mat.shape
    nb = -(-cols // TILE)
    out = np.zeros((nb, rows, TILE), mat.dtype)
    for b in range(nb):
        part = mat[:, b * TILE:(b + 1) * TILE]
        out[b, :, :part.shape[1]] = part
    return out


def forward(x, kernel, bias, dil, pad, out_size, relu: bool, workers: int, pool: bool = False,
            dropout=None):
    """out (N, OH, OW, F) = act(conv(x) + bias). x (N, H, W, C) contiguous, C a multiple of 4;
    kernel (KH, KW, C, F); dil = (dh, dw); pad = (ph, pw) top/left; out_size = (OH, OW).
    With ``pool`` (and relu): (out, code), out (N, OH//2, OW//2, F) the 2×2 max pool, code its
    window positions + DEAD (as conv_gemm.conv_gemm_pool_forward); dropout: (seed, threshold,
    scale) of a Dropout after the pool (Dropout.draw)."""
    n, _, _, c = x.shape
    kh, kw, _, f = kernel.shape
    (dh, dw), (ph, pw), (oh, ow) = dil, pad, out_size
    hp, wp = oh + (kh - 1) * dh, ow + (kw - 1) * dw
    w2 = _blocks(kernel.reshape(-1, f))
    bias_p = np.zeros(w2.shape[0] * TILE, x.dtype)
    bias_p[:f] = bias
    shape = (n, oh // 2, ow // 2, f) if pool else (n, oh, ow, f)
    out = np.empty(shape, x.dtype)
    code = np.empty(shape if pool else (0, 0, 0, 0), np.uint8)
    seed, threshold, scale = dropout if dropout is not None else (0, 0, 1.0)
    tiles_forward(x, w2, bias_p, _offsets(kh, kw, dh, dw, wp, c, c), ph, pw, hp, wp, oh, ow,
                  relu, pool, out, code, np.uint64(seed), np.uint64(threshold),
                  x.dtype.type(scale), max(1, min(workers, n)))
    return (out, code) if pool else out


def backward(x, kernel, dy, y, dil, pad, relu: bool, need_dx: bool, dwt, db, workers: int,
             code=None, out_size=None, scale: float = 1.0):
    """Gradients of :func:`forward`'s output from dy: writes dwt (KH, KW, C, F) and db (F,);
    returns dx (N, H, W, C) when need_dx. y: the forward's output (read with relu only).
    Pooled (code not None): dy the pooled gradient, code the forward's, out_size (OH, OW) the
    conv output's size, scale the Dropout's (1 without)."""
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    pool = code is not None
    oh, ow = out_size if pool else dy.shape[1:3]
    (dh, dw), (ph, pw) = dil, pad
    hp, wp = oh + (kh - 1) * dh, ow + (kw - 1) * dw
    fp = -(-f // TILE) * TILE
    qt, ql = (kh - 1) * dh - ph, (kw - 1) * dw - pw
    gh, gw = h + (kh - 1) * dh, w + (kw - 1) * dw
    w2t = _blocks(np.ascontiguousarray(kernel[::-1, ::-1].transpose(0, 1, 3, 2)).reshape(-1, c))
    i, j = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    pos = ((i * wp + j) * c).astype(np.int32).reshape(-1)
    bs = max(1, -(-n // 16))
    nchunks = -(-n // bs)
    part = np.empty((nchunks, kh * kw * c, fp), x.dtype)
    partb = np.empty((nchunks, fp), x.dtype)
    dx = np.empty(x.shape if need_dx else (1, 1, 1, 1), x.dtype)
    tiles_backward(x, w2t, np.ascontiguousarray(dy), y, relu and not pool, pool,
                   np.ascontiguousarray(code) if pool else np.empty((0, 0, 0, 0), np.uint8),
                   x.dtype.type(scale), _offsets(kh, kw, dh, dw, gw, f, fp),
                   _offsets(kh, kw, dh, dw, wp, c, c), pos, ph, pw, hp, wp, oh, ow, qt, ql, gh,
                   gw, bs, part, partb, need_dx, dx, max(1, min(workers, nchunks)))
    sum_chunks(part[:, :, :f], partb[:, :f], dwt.reshape(-1, f), db)
    return dx if need_dx else None
