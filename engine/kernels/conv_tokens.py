"""Conv1D on token ids (Embedding → Conv1D in training, engine/layers/conv.py forward_tokens).

The input x[n, t] = rows[inv[n, t]] repeats the batch's distinct vectors (P of them: the
padding id and common words repeat). The layer makes q = rows @ [W_0 | … | W_{k−1}] (P, k·F)
once, so that tap i of the convolution at input position t is q[inv[n, t], i·F:(i+1)·F]; these
kernels then sum those slices per output (forward) and gather the output gradients back onto
q's rows (backward), with no product of their own.

Geometry (one spatial axis): output o reads input t = o·stride + i·dilation − left for taps
i < k, and a t outside 0..T−1 is padding (contributes zero).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from engine.kernels.parallel import fetch_add

OPT = dict(cache=True, nogil=True)


@njit(parallel=True, **OPT)
def conv1d_tokens_forward(q, inv, bias, z, taps, dil, stride, left, relu, counter, nworkers):
    """z[n, o] = bias + Σ_i q[inv[n, t_i], i·F:(i+1)·F] (relu applied when ``relu``).
    q: (P, k·F), inv: (N, T) int32, bias: (F,), z: (N, O, F) out. The threads take samples
    from ``counter`` ((1,) int64 zero)."""
    n_all, t_len = inv.shape
    out_len, f = z.shape[1], z.shape[2]
    zero = z.dtype.type(0)
    for _ in prange(nworkers):
        while True:
            n = fetch_add(counter, 0)
            if n >= n_all:
                break
            for o in range(out_len):
                zr = z[n, o]
                for j in range(f):
                    zr[j] = bias[j]
                for i in range(taps):
                    t = o * stride + i * dil - left
                    if 0 <= t < t_len:
                        qr = q[inv[n, t]]
                        base = i * f
                        for j in range(f):
                            zr[j] += qr[base + j]
                if relu:
                    for j in range(f):
                        zr[j] = max(zr[j], zero)


@njit(parallel=True, **OPT)
def conv1d_tokens_backward(dq, dz, starts, order, t_len, taps, dil, stride, left, counter,
                           nworkers):
    """dq[p, i·F:(i+1)·F] = Σ dz[n, o] over the positions (n, t) of row p (group p of
    embedding.group_rows: order[starts[p]:starts[p + 1]] holds n·T + t) and the outputs o that
    read t through tap i. dq: (P, k·F) out, dz: (N, O, F). Each thread writes the rows of the
    blocks of 16 it takes from ``counter`` ((1,) int64 zero)."""
    count = dq.shape[0]
    out_len, f = dz.shape[1], dz.shape[2]
    nblocks = (count + 15) // 16
    zero = dq.dtype.type(0)
    for _ in prange(nworkers):
        while True:
            b = fetch_add(counter, 0)
            if b >= nblocks:
                break
            for p in range(b * 16, min(count, b * 16 + 16)):
                dr = dq[p]
                for j in range(dr.shape[0]):
                    dr[j] = zero
                for k in range(starts[p], starts[p + 1]):
                    m = order[k]
                    n = m // t_len
                    t = m - n * t_len
                    for i in range(taps):
                        o_s = t + left - i * dil
                        if o_s < 0 or o_s % stride != 0:
                            continue
                        o = o_s // stride
                        if o < out_len:
                            src = dz[n, o]
                            base = i * f
                            for j in range(f):
                                dr[base + j] += src[j]
