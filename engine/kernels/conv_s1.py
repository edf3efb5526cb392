"""Training kernels of stride-1 convolutions (any kernel size, dilation, padding and number of
channels), on the channels-first planes of engine/kernels/planes.py (inner passes:
plane_passes.py), with the bias, a relu and a following 2×2 max pool fused in when asked.

Work is shared dynamically: the batch is cut into chunks of ``bs`` samples that the threads take
from a counter as they come free, so a thread slowed by another program takes fewer chunks
instead of holding up the step. Weight gradients are summed per chunk and the chunks added in
chunk order afterwards, so the result does not depend on which thread ran which chunk.

Shapes (N batch, H×W input, C channels, KH×KW kernel, F filters; OH = HP − (KH−1)·dh and
OW = WP − (KW−1)·dw the output size; HP×WP the padded input, ph/pw its top/left padding):
  x (N, H, W, C)  w (KH, KW, C, F)  bias (F,)  out (N, OH, OW, F), pooled (N, OH//2, OW//2, F)
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from engine.kernels import conv_c1
from engine.kernels.plane_passes import conv_pass, dw_pass
from engine.kernels.planes import (OPT, ROUND, drop_rows, fill_grad_planes, fill_planes,
                                   fill_pooled_grad_planes, pool_rows, rounded,
                                   store_input_grad, store_pooled, store_rows)
from engine.kernels.parallel import take_samples


@njit(parallel=True, **OPT)
def conv_s1_forward(x, w, bias, dh, dw, ph, pw, hp, wp, relu, pool, out, code, seed, threshold,
                    scale, bs, nworkers):
    """out = act(conv(x) + bias), act = relu or linear; with ``pool``, out (N, OH//2, OW//2, F)
    = maxpool2×2(relu(conv(x) + bias)) and code (N, F, OH//2 · OW//2), uint8, channels-first
    the argmax in each window (0..3, row-major; + DEAD where the pooled value is ≤ 0); with
    ``pool`` and a ``threshold`` > 0 a dropout of the pooled output too (planes.drop_rows).
    ``bs`` samples per chunk, ``nworkers`` threads."""
    n, _, _, c = x.shape
    kh, kw, _, f = w.shape
    oh = hp - (kh - 1) * dh
    ow = wp - (kw - 1) * dw
    ls = hp * wp
    nchunks = (n + bs - 1) // bs
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        xp = np.empty((c, bs * ls + (kw - 1) * dw + ROUND), x.dtype)
        z = np.empty((4, bs * ls + ROUND), x.dtype)
        npool = bs * (oh // 2) * (ow // 2) if pool else 0
        ot = np.empty((f, npool), x.dtype)
        while True:
            blk, b0, nb = take_samples(counter, nchunks, bs, n)
            if nb == 0:
                break
            P = rounded((nb - 1) * ls + oh * wp)
            fill_planes(x, b0, nb, ph, pw, wp, ls, xp)
            for k in range(0, f, 4):
                for u in range(4):
                    z[u, :P] = bias[k + u] if k + u < f else 0
                conv_pass(w, xp, k, dh, dw, wp, P, z)
                if pool:
                    pool_rows(z, k, nb, ls, oh // 2, ow // 2, wp, ot, b0, code)
                    if threshold:
                        drop_rows(ot, code, k, nb, b0, seed, threshold, scale)
                else:
                    store_rows(z, k, nb, ls, oh, ow, wp, relu, b0, out)
            if pool:
                store_pooled(ot, nb, b0, out)


@njit(parallel=True, **OPT)
def conv_s1_backward(x, w_flip, dy, y, relu, pool, code, scale, dh, dw, ph, pw, hp, wp, bs,
                     part, partb, need_dx, dx, nworkers):
    """Gradients of :func:`conv_s1_forward` from dy, the gradient of its output ``y``.

    w_flip (KH, KW, F, C): the kernel turned by 180° with its channel axes swapped (dx is the
    convolution of the output gradient with it). part (nchunks, KH, KW, C, F) and partb
    (nchunks, F) out: each chunk's weight and bias gradient (sum them in chunk order);
    dx (N, H, W, C) out when need_dx. With ``relu`` the gradient passes where y > 0; with
    ``pool`` dy and y are the pooled output's and code the forward's (the gradient goes to each
    window's max, × the forward's dropout ``scale``).
    """
    n, h, _, c = x.shape
    kh, kw, f, _ = w_flip.shape
    oh = hp - (kh - 1) * dh
    ls = hp * wp
    margin = (kh - 1) * dh * wp + (kw - 1) * dw
    # The gradient planes start at gofs: dx's planes are then the convolution of g from 0 on,
    # from row ph of the first sample (the padding rows above are not computed); margin ≥
    # ph·WP, since the padding is smaller than the kernel's reach.
    gofs = margin - ph * wp
    nchunks = (n + bs - 1) // bs
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        xp = np.empty((c, bs * ls + (kw - 1) * dw + ROUND), x.dtype)
        g = np.empty((f + (-f) % 4, margin + bs * ls + ROUND), x.dtype)
        zdx = np.empty((4, bs * ls + ROUND), x.dtype)
        while True:
            blk, b0, nb = take_samples(counter, nchunks, bs, n)
            if nb == 0:
                break
            P = rounded((nb - 1) * ls + oh * wp)
            fill_planes(x, b0, nb, ph, pw, wp, ls, xp)
            if pool:    # (the bias gradient summed as the values are placed)
                fill_pooled_grad_planes(dy, code, b0, nb, gofs, ls, wp, scale, g, partb[blk])
            else:
                fill_grad_planes(dy, y, relu, b0, nb, gofs, ls, wp, g)
                for k in range(f):
                    partb[blk, k] = g[k].sum()
            acc = part[blk]
            acc[:] = 0
            dw_pass(g, gofs, xp, dh, dw, wp, P, acc)
            if not need_dx:
                continue
            Q = rounded((nb - 1) * ls + h * wp)
            for ch in range(0, c, 4):
                zdx[:, :Q] = 0
                conv_pass(w_flip, g, ch, dh, dw, wp, Q, zdx)
                store_input_grad(zdx, ch, nb, ls, pw, wp, b0, dx)


@njit(**OPT)
def sum_chunks(part, partb, dwt, db):
    """dwt = Σ_t part[t], db = Σ_t partb[t], added in chunk order."""
    dwt[:] = 0
    db[:] = 0
    for t in range(part.shape[0]):
        dwt += part[t]
        db += partb[t]


# ------------------------------------------------------------------------------ calling them
# Samples per chunk: enough for long inner loops (≈ CHUNK_VALUES plane values), few enough for
# MIN_CHUNKS chunks (dynamic sharing needs spare chunks to even out a slowed thread). The chunks
# do not depend on the number of threads, so neither do the (per-chunk) gradient sums.
CHUNK_VALUES = 1024
MIN_CHUNKS = 8
# Pooled positions per chunk of conv_c1.pool_backward_c1 (its channels-first gradients and
# codes then stay in the L2 cache).
C1_POSITIONS = 1024


def chunk_size(n: int, plane: int) -> int:
    """Samples per chunk for a batch of ``n`` whose padded planes hold ``plane`` values."""
    return max(1, min(CHUNK_VALUES // plane, -(-n // MIN_CHUNKS)))


def _single_channel_backward(x, dy, code, pad, padded, dwt, db, workers: int, scale: float):
    """backward of a conv_c1.py forward without dx: conv_c1.pool_backward_c1 by chunks of
    C1_POSITIONS pooled positions (at least MIN_CHUNKS chunks)."""
    n, poh, pow_, f = dy.shape
    bs = max(1, min(C1_POSITIONS // (poh * pow_), -(-n // MIN_CHUNKS)))
    nchunks = -(-n // bs)
    part = np.empty((nchunks, 9, f), x.dtype)
    partb = np.empty((nchunks, f), x.dtype)
    conv_c1.pool_backward_c1(x, dy, code, pad[0], pad[1], padded[0], padded[1], bs, part,
                             partb, min(workers, nchunks))
    # into dwt itself (part is fresh, so its reshape is a view; one of dwt need not be)
    sum_chunks(part.reshape((nchunks,) + dwt.shape), partb, dwt, db)
    if scale != 1:
        dwt *= scale
        db *= scale


def _single_channel_pool(kernel, dil, relu: bool) -> bool:
    """Whether a pooled forward runs conv_c1.py's kernel (one input channel, 3×3, relu, no
    dilation) instead of the planes."""
    return relu and kernel.shape[:3] == (3, 3, 1) and tuple(dil) == (1, 1)


def forward(x, kernel, bias, dil, pad, out_size, relu: bool, pool: bool, workers: int,
            dropout=None):
    """Run :func:`conv_s1_forward`. x (N, H, W, C) contiguous; kernel (KH, KW, C, F); bias (F,);
    dil = (dh, dw); pad = (ph, pw) top/left; out_size = (OH, OW). Returns (out, code), code
    None without pool: the window position of each max (0..3 row-major; + DEAD where out is 0),
    shaped as out: a channels-last view of the channels-first array the planes kernels write,
    or for one input channel and a 3×3 kernel conv_c1.py's channels-last array.
    dropout (with pool only): (seed, threshold, scale) of a Dropout applied to the pooled
    output (``Dropout.draw``), marked DEAD in the code where it drops."""
    n = x.shape[0]
    kh, kw, _, f = kernel.shape
    (dh, dw), (ph, pw), (oh, ow) = dil, pad, out_size
    hp, wp = oh + (kh - 1) * dh, ow + (kw - 1) * dw
    seed, threshold, scale = dropout if dropout is not None else (0, 0, 1.0)
    if pool:
        out = np.empty((n, oh // 2, ow // 2, f), x.dtype)
        if _single_channel_pool(kernel, dil, relu):
            code = np.empty(out.shape, np.uint8)
            conv_c1.pool_forward_c1(x, np.ascontiguousarray(kernel.reshape(9, f)), bias, ph, pw,
                                    hp, wp, out, code, np.uint64(seed), np.uint64(threshold),
                                    x.dtype.type(scale), max(1, min(workers, n)))
            return out, code
        code = np.empty((n, f, (oh // 2) * (ow // 2)), np.uint8)
    else:
        out = np.empty((n, oh, ow, f), x.dtype)
        code = np.empty((1, 1, 1), np.uint8)
    bs = chunk_size(n, hp * wp)
    conv_s1_forward(x, kernel, bias, dh, dw, ph, pw, hp, wp, relu, pool, out, code,
                    np.uint64(seed), np.uint64(threshold), x.dtype.type(scale), bs,
                    min(workers, -(-n // bs)))
    if not pool:
        return out, None
    return out, code.reshape(n, f, oh // 2, ow // 2).transpose(0, 2, 3, 1)


def backward(x, kernel, dy, y, code, dil, pad, out_size, relu: bool, need_dx: bool, dwt, db,
             workers: int, scale: float = 1.0):
    """Gradients of :func:`forward`'s output from dy: writes dwt (KH, KW, C, F) and db (F,);
    returns dx (N, H, W, C) when need_dx. y: the forward's output; code: its pool code or None;
    scale: the forward's dropout scale (1 without)."""
    n = x.shape[0]
    kh, kw, _, f = kernel.shape
    (dh, dw), (ph, pw), (oh, ow) = dil, pad, out_size
    hp, wp = oh + (kh - 1) * dh, ow + (kw - 1) * dw
    if (code is not None and not need_dx and _single_channel_pool(kernel, dil, relu)
            and code.flags.c_contiguous):
        _single_channel_backward(np.ascontiguousarray(x), np.ascontiguousarray(dy), code,
                                 (ph, pw), (hp, wp), dwt, db, workers, scale)
        return None
    bs = chunk_size(n, hp * wp)
    nchunks = -(-n // bs)
    part = np.empty((nchunks,) + kernel.shape, x.dtype)
    partb = np.empty((nchunks, f), x.dtype)
    dx = np.empty(x.shape if need_dx else (1, 1, 1, 1), x.dtype)
    w_flip = np.ascontiguousarray(kernel[::-1, ::-1].transpose(0, 1, 3, 2))
    pool = code is not None
    if pool:     # indexed channels-first, as the kernels read it: forward's planes codes are a
        # view of a channels-first array, conv_c1.py's are channels-last (then read strided)
        code = (code.reshape(n, -1, f).transpose(0, 2, 1) if code.flags.c_contiguous
                else np.ascontiguousarray(code.transpose(0, 3, 1, 2)).reshape(n, f, -1))
    else:
        code = np.empty((1, 1, 1), np.uint8)
    conv_s1_backward(x, w_flip, np.ascontiguousarray(dy), y, relu, pool, code,
                     x.dtype.type(scale), dh, dw, ph, pw, hp, wp, bs, part, partb, need_dx, dx,
                     min(workers, nchunks))
    sum_chunks(part, partb, dwt, db)
    return dx if need_dx else None
