"""Convolutions as sgemm by chunks of samples, float32 (numpy's OpenBLAS, ``gemm_fused``):
Conv2D's im2col route (engine/layers/conv.py, ``_Conv._im2col_wins``; with a relu, a 2×2 max
pool and a Dropout fused in) and Conv2DTranspose (engine/layers/conv_transpose.py). The
receptive-field gathers (im2col / col2im) are engine/kernels/conv.py's.
"""
from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange, uint64

from engine.kernels.conv import _bias_relu_rows, _col2im_sample, _im2col_sample
from engine.kernels.gemm import TILED, sgemm
from engine.kernels.parallel import take_samples, workers_for
from engine.kernels.planes import DEAD, pool_windows


# ---- Convolution as im2col + sgemm by chunks of samples, float32: each worker gathers a chunk's
# receptive fields into a buffer of its own (at most CHUNK_BYTES, so it stays in the worker's
# L2) and multiplies it right away with one single-threaded sgemm (engine/kernels/gemm.py),
# instead of one (N·OH·OW, KH·KW·C) array for the batch that is written, then read back by the
# product from memory (9.4 MB for 32 16×16×32 inputs and a 3×3 kernel; its im2col alone took
# 1.2 ms there). The backward gathers each chunk again (nothing is kept between the passes),
# and each chunk's weight gradient is its own, summed in chunk order. Conv2DTranspose's kernels
# below work by the same chunks.
CHUNK_BYTES = 1 << 19         # a chunk's buffer: half of this machine's 1 MB L2
# Rows (output positions) a chunk's product has at least, while every thread still gets a
# chunk: sgemm on fewer rows runs below its speed. bench/conv_modes.py (2026-12-05), 4×4×128 →
# 256 'same' at batch 32: 7.66 ms with chunks of 4 samples (64 rows), 5.04 ms with 16 (256
# rows); 8×8×64 → 128: 5.51 → 5.11 ms; 16×16×32 → 64 (256 rows a sample) unchanged.
MIN_CHUNK_ROWS = 256


def gemm_fused(x: np.ndarray) -> bool:
    """Whether the chunked im2col + sgemm kernels (convolution and Conv2DTranspose) apply:
    float32 and numpy's OpenBLAS."""
    return TILED and x.dtype == np.float32


def gemm_chunk(n: int, rows_per_sample: int, width: int) -> int:
    """Samples per chunk: a buffer of at most CHUNK_BYTES, and at least 4 chunks per thread
    when the batch allows (dynamic sharing needs spare chunks), but MIN_CHUNK_ROWS rows when
    that still leaves a chunk for every thread."""
    threads = max(1, get_num_threads())
    per = max(1, CHUNK_BYTES // (4 * rows_per_sample * width))
    bs = max(1, min(per, n // (4 * threads)))
    return max(bs, min(-(-MIN_CHUNK_ROWS // rows_per_sample), -(-n // threads)))


# With a relu and a following 2×2 max pool (stride 2; Conv2D.fuse_next) the chunk's products
# are pooled while they are in the cache: only the pooled output and each max's window position
# (code, channels-last; + planes.DEAD where relu or a fused Dropout passes no gradient, as the
# planes kernels mark it) are kept, and the backward puts each pooled gradient back at its
# window's max in the chunk's buffer.


@njit(cache=True, nogil=True, error_model="numpy")
def _pool_chunk(zc, bias, oh, ow, b0, nb, out, code, seed, threshold, scale):
    """Bias, relu and 2×2 max pool of a chunk's products zc (nb·OH·OW, F) into out and code
    (N, PH, PW, F) for samples b0..b0+nb-1; a Dropout after it when threshold > 0 (the mask
    of engine/kernels/dropout.py for the same seed, element for element)."""
    _, poh, pow_, f = out.shape
    zero = zc.dtype.type(0)
    s0 = uint64(seed)
    t = uint64(threshold)
    for q in range(nb):
        for pi in range(poh):
            for pj in range(pow_):
                r = (q * oh + 2 * pi) * ow + 2 * pj
                a, b, c, d = zc[r], zc[r + 1], zc[r + ow], zc[r + ow + 1]
                o = out[b0 + q, pi, pj]
                cd = code[b0 + q, pi, pj]
                i0 = (((b0 + q) * poh + pi) * pow_ + pj) * f
                pool_windows(a, b, c, d, bias, o, cd, i0, s0, t, threshold, scale, zero)


@njit(cache=True, nogil=True, error_model="numpy")
def unpool_chunk(dy, code, oh, ow, b0, nb, scale, dz, accb):
    """A chunk's gradient of the conv output before the relu, dz (nb·OH·OW, F): each pooled
    gradient × scale at its window's max (none where DEAD), zeros elsewhere; its column sums
    added to accb."""
    _, poh, pow_, f = dy.shape
    dz[:nb * oh * ow] = 0
    for q in range(nb):
        for pi in range(poh):
            for pj in range(pow_):
                r = (q * oh + 2 * pi) * ow + 2 * pj
                g = dy[b0 + q, pi, pj]
                cd = code[b0 + q, pi, pj]
                for k in range(f):
                    w = cd[k]
                    if w < DEAD:
                        v = g[k] * scale
                        dz[r + (w >> 1) * ow + (w & 1), k] = v
                        accb[k] += v


@njit(cache=True, nogil=True, parallel=True)
def _conv_gemm_forward_par(x, wmat, bias, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, relu, z, pool,
                           out, code, seed, threshold, scale, bs, nworkers):
    """Each chunk's products into z (N, OH, OW, F), biased (and relu'd), or with ``pool`` into
    the worker's buffer, pooled from there into out and code (_pool_chunk)."""
    n = x.shape[0]
    taps, f = wmat.shape
    rows = oh * ow
    nchunks = (n + bs - 1) // bs
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        cols = np.empty((bs * rows, taps), np.float32)
        zc = np.empty((bs * rows if pool else 0, f), np.float32)
        while True:
            t, b0, nb = take_samples(counter, nchunks, bs, n)
            if nb == 0:
                break
            for q in range(nb):
                _im2col_sample(x, b0 + q, q, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols)
            pz = zc.ctypes.data if pool else z.ctypes.data + 4 * b0 * rows * f
            sgemm(False, False, nb * rows, f, taps, 1.0, cols.ctypes.data, taps,
                  wmat.ctypes.data, f, 0.0, pz, f)
            if pool:
                _pool_chunk(zc, bias, oh, ow, b0, nb, out, code, seed, threshold, scale)
                continue
            for q in range(nb):
                _bias_relu_sample(z, b0 + q, bias, relu)


def _gemm_forward(x, wmat, bias, geo, relu, pool, dropout):
    n = x.shape[0]
    oh, ow = geo[8], geo[9]
    f = wmat.shape[1]
    seed, threshold, scale = dropout if dropout is not None else (0, 0, 1.0)
    z = np.empty((0 if pool else n, oh, ow, f), np.float32)
    out = np.empty((n, oh // 2, ow // 2, f) if pool else (0, 0, 0, f), np.float32)
    code = np.empty(out.shape, np.uint8)
    bs = gemm_chunk(n, oh * ow, wmat.shape[0] + (f if pool else 0))
    _conv_gemm_forward_par(np.ascontiguousarray(x), np.ascontiguousarray(wmat),
                           bias.astype(np.float32, copy=False), *geo, relu, z, pool, out, code,
                           np.uint64(seed), np.uint64(threshold), np.float32(scale), bs,
                           workers_for(-(-n // bs)))
    return (out, code) if pool else z


def conv_gemm_forward(x, wmat, bias, geo, relu: bool) -> np.ndarray:
    """z (N, OH, OW, F) = im2col(x)·wmat + bias, relu'd when asked, by chunks of samples (see
    CHUNK_BYTES); x (N, H, W, C) and wmat (KH·KW·C, F) float32, bias (F,), geo (kh, kw, sh,
    sw, dh, dw, ph, pw, oh, ow)."""
    return _gemm_forward(x, wmat, bias, geo, relu, False, None)


def conv_gemm_pool_forward(x, wmat, bias, geo, dropout=None):
    """Conv (as :func:`conv_gemm_forward`) + bias + relu + 2×2 max pool (+ Dropout: (seed,
    threshold, scale) from Dropout.draw): returns the pooled output and the code
    (N, OH//2, OW//2, F), each max's window position 0..3 (row-major, the first on ties),
    + DEAD where no gradient passes."""
    return _gemm_forward(x, wmat, bias, geo, True, True, dropout)


@njit(cache=True, nogil=True, parallel=True)
def _conv_gemm_backward_par(dz, pool, dy, code, scale, x, wmat, kh, kw, sh, sw, dh, dw, ph, pw,
                            oh, ow, part, partb, need_dx, dx, keep, bs, nworkers):
    """Each chunk's weight gradient (part[t]) and dx: from dz (N, OH, OW, F), or with ``pool``
    from the pooled gradient dy put back into the worker's buffer (unpool_chunk, which also
    sums the chunk's bias gradient into partb[t]), or into ``keep`` (N·OH·OW, F) when it has
    rows (the input gradient is then made from it elsewhere: conv_winograd.py)."""
    n = x.shape[0]
    taps, f = wmat.shape
    rows = oh * ow
    nchunks = (n + bs - 1) // bs
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        cols = np.empty((bs * rows, taps), np.float32)
        dzc = np.empty((bs * rows if pool else 0, f), np.float32)
        while True:
            t, b0, nb = take_samples(counter, nchunks, bs, n)
            if nb == 0:
                break
            pz = dz.ctypes.data + 4 * b0 * rows * f
            if pool:
                accb = partb[t]
                accb[:] = 0
                if keep.shape[0] > 0:
                    unpool_chunk(dy, code, oh, ow, b0, nb, scale, keep[b0 * rows:], accb)
                    pz = keep.ctypes.data + 4 * b0 * rows * f
                else:
                    unpool_chunk(dy, code, oh, ow, b0, nb, scale, dzc, accb)
                    pz = dzc.ctypes.data
            for q in range(nb):
                _im2col_sample(x, b0 + q, q, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols)
            # this chunk's dW = colsᵀ·dz, then (the buffer reused) dcols = dz·Wᵀ → dx
            sgemm(True, False, taps, f, nb * rows, 1.0, cols.ctypes.data, taps, pz, f, 0.0,
                  part.ctypes.data + 4 * t * taps * f, f)
            if not need_dx:
                continue
            sgemm(False, True, nb * rows, taps, f, 1.0, pz, f, wmat.ctypes.data, f, 0.0,
                  cols.ctypes.data, taps)
            for q in range(nb):
                _col2im_sample(cols, q, b0 + q, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, dx)


def _gemm_backward(dz, dy, code, scale, x, wmat, geo, wgrad, bias_grad, need_dx, keep=None):
    pool = dy is not None
    n = x.shape[0]
    oh, ow = geo[8], geo[9]
    f = wmat.shape[1]
    bs = gemm_chunk(n, oh * ow, wmat.shape[0] + (f if pool else 0))
    nchunks = -(-n // bs)
    part = np.empty((nchunks,) + wmat.shape, np.float32)
    partb = np.empty((nchunks if pool else 0, f), np.float64)
    dx = np.empty(x.shape if need_dx else (1, 1, 1, 1), np.float32)
    empty = np.empty((0, 0, 0, f), np.float32)
    _conv_gemm_backward_par(empty if pool else np.ascontiguousarray(dz, np.float32), pool,
                            np.ascontiguousarray(dy, np.float32) if pool else empty,
                            code if pool else np.empty((0, 0, 0, f), np.uint8),
                            np.float32(scale), np.ascontiguousarray(x),
                            np.ascontiguousarray(wmat), *geo, part, partb, need_dx, dx,
                            np.empty((0, f), np.float32) if keep is None else keep, bs,
                            workers_for(nchunks))
    np.sum(part, axis=0, out=wgrad)
    if pool:
        np.sum(partb, axis=0, out=bias_grad)
    return dx if need_dx else None


def conv_gemm_backward(dz, x, wmat, geo, wgrad, need_dx: bool):
    """Gradients of :func:`conv_gemm_forward` from dz (N, OH, OW, F), the gradient of z before
    the bias: wgrad (KH·KW·C, F) = Σ over the chunks, in chunk order, of im2col(x)ᵀ·dz;
    returns dx (N, H, W, C) = col2im(dz·wmatᵀ) when need_dx (else None)."""
    return _gemm_backward(dz, None, None, 1.0, x, wmat, geo, wgrad, None, need_dx)


def conv_gemm_pool_backward(dy, code, scale, x, wmat, geo, wgrad, bias_grad, need_dx: bool,
                            keep=None):
    """Gradients of :func:`conv_gemm_pool_forward` from dy (N, OH//2, OW//2, F), the gradient
    of its output (scale: the fused Dropout's, 1 without): wgrad (KH·KW·C, F) and bias_grad
    (F,) summed over the chunks in chunk order; returns dx (N, H, W, C) when need_dx (else
    None). ``keep`` (N·OH·OW, F) float32, when given, receives the gradient of the conv
    output before the bias (the pooled gradient put back at each window's max)."""
    return _gemm_backward(None, dy, code, scale, x, wmat, geo, wgrad, bias_grad, need_dx, keep)


# ---- Conv2DTranspose, float32: the product with the kernel and the scatter (forward) or the
# gather and the products (backward) per chunk of samples (gemm_chunk), in a buffer of the
# worker's own that stays in its cache, instead of one (N·H·W, KH·KW·F) array for the batch
# (29 MB for 128 14×14×32 inputs and a 3×3×32 kernel, written by sgemm and read back by
# col2im).


@njit(cache=True, nogil=True, error_model="numpy")
def _bias_relu_sample(z, b, bias, relu):
    """z[b] += bias, then relu when asked (in place, right after the sample's scatter, while it
    is in the cache)."""
    f = z.shape[3]
    zs = z[b].reshape(-1, f)
    zero = z.dtype.type(0)
    for r in range(zs.shape[0]):
        row = zs[r]
        for k in range(f):
            v = row[k] + bias[k]
            row[k] = max(v, zero) if relu else v


@njit(cache=True, nogil=True, parallel=True)
def _transpose_forward_par(x, kt, kh, kw, sh, sw, dh, dw, ph, pw, z, bias, finish, relu, bs,
                           nworkers):
    n, h, w, c = x.shape
    kk = kt.shape[1]
    hw = h * w
    nchunks = (n + bs - 1) // bs
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        cols = np.empty((bs * hw, kk), np.float32)
        while True:
            t, b0, nb = take_samples(counter, nchunks, bs, n)
            if nb == 0:
                break
            sgemm(False, False, nb * hw, kk, c, 1.0, x.ctypes.data + 4 * b0 * hw * c, c,
                  kt.ctypes.data, kk, 0.0, cols.ctypes.data, kk)
            for q in range(nb):
                _col2im_sample(cols, q, b0 + q, kh, kw, sh, sw, dh, dw, ph, pw, h, w, z)
                if finish:
                    _bias_relu_sample(z, b0 + q, bias, relu)


def transpose_forward(x, kmat, geo, z, bias=None, relu: bool = False):
    """z (N, OH, OW, F) = col2im(x·Kᵀ) (+ bias when given; relu'd when asked: both per sample
    inside the kernel), Conv2DTranspose's forward; x (N, H, W, C) float32, kmat (KH·KW·F, C),
    geo (kh, kw, sh, sw, dh, dw, ph, pw, H, W)."""
    n, h, w, _ = x.shape
    kt = np.ascontiguousarray(kmat.T)
    bs = gemm_chunk(n, h * w, kt.shape[1])
    finish = bias is not None or relu
    b = np.zeros(z.shape[3], np.float32) if bias is None else bias.astype(np.float32, copy=False)
    _transpose_forward_par(np.ascontiguousarray(x), kt, *geo[:8], z, b, finish, relu, bs,
                           workers_for(-(-n // bs)))


@njit(cache=True, nogil=True, error_model="numpy")
def _grad_sample(dy, y, relu, b, dz, accb):
    """dz[b] = dy[b] where y[b] > 0 (relu; dz is dy itself otherwise, not written), and the
    sample's column sums of it added to accb (float64: the bias gradient)."""
    f = dy.shape[3]
    g = dy[b].reshape(-1, f)
    if relu:
        _bias_relu_rows(y[b].reshape(-1, f), g, dz[b].reshape(-1, f), 0, g.shape[0], accb)
        return
    for r in range(g.shape[0]):
        gr = g[r]
        for k in range(f):
            accb[k] += gr[k]


@njit(cache=True, nogil=True, parallel=True)
def _transpose_backward_par(dy, y, relu, sums, dz, x, kmat, kh, kw, sh, sw, dh, dw, ph, pw,
                            part, partb, need_dx, dx, bs, nworkers):
    n, h, w, c = x.shape
    kk = kmat.shape[0]
    hw = h * w
    nchunks = (n + bs - 1) // bs
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        dcols = np.empty((bs * hw, kk), np.float32)
        while True:
            t, b0, nb = take_samples(counter, nchunks, bs, n)
            if nb == 0:
                break
            accb = partb[t]
            accb[:] = 0
            for q in range(nb):
                if relu or sums:
                    _grad_sample(dy, y, relu, b0 + q, dz, accb)
                _im2col_sample(dz, b0 + q, q, kh, kw, sh, sw, dh, dw, ph, pw, h, w, dcols)
            # this chunk's dK = dcolsᵀ·x, and dx = dcols·K
            sgemm(True, False, kk, c, nb * hw, 1.0, dcols.ctypes.data, kk,
                  x.ctypes.data + 4 * b0 * hw * c, c, 0.0, part.ctypes.data + 4 * t * kk * c, c)
            if need_dx:
                sgemm(False, False, nb * hw, c, kk, 1.0, dcols.ctypes.data, kk, kmat.ctypes.data,
                      c, 0.0, dx.ctypes.data + 4 * b0 * hw * c, c)


def transpose_backward(dy, x, kmat, geo, kgrad, need_dx: bool, y=None, relu: bool = False,
                       bias_grad=None):
    """Conv2DTranspose's gradients from dy (N, OH, OW, F) float32, the gradient of its output y
    (relu: the gradient passes where y > 0; else dy is the gradient of z itself): kgrad
    (KH·KW·F, C) = Σ over the chunks, in chunk order, of im2col(dz)ᵀ·x; bias_grad (F,), when
    given, = Σ dz (per chunk inside the kernel, then in chunk order); returns dx (N, H, W, C) =
    im2col(dz)·K when need_dx (else None)."""
    n, h, w, c = x.shape
    f = dy.shape[3]
    kmat = np.ascontiguousarray(kmat)
    kk = kmat.shape[0]
    bs = gemm_chunk(n, h * w, kk)
    nchunks = -(-n // bs)
    part = np.empty((nchunks, kk, c), np.float32)
    partb = np.empty((nchunks, f), np.float64)
    dx = np.empty(x.shape if need_dx else (1, 1, 1, 1), np.float32)
    dy = np.ascontiguousarray(dy, np.float32)
    dz = np.empty_like(dy) if relu else dy
    _transpose_backward_par(dy, dy if y is None else np.ascontiguousarray(y), relu,
                            bias_grad is not None, dz, np.ascontiguousarray(x), kmat, *geo[:8],
                            part, partb, need_dx, dx, bs, workers_for(nchunks))
    np.sum(part, axis=0, out=kgrad)
    if bias_grad is not None:
        np.sum(partb, axis=0, out=bias_grad)
    return dx if need_dx else None
