"""Conv2D(relu) → MaxPooling2D(2×2) as one training kernel (see :meth:`Conv2D.fuse_next`):
channels-last kernels for convolutions with few taps and any stride (stride 1, any number of
channels: engine/kernels/conv_s1.py)."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from engine.kernels.parallel import fetch_add

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


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _forward_sample(x, b, w, bias, sh, sw, dh, dw, ph, pw, out, code, acc):
    _, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    _, poh, pow_, _ = out.shape
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
                out[b, pi, pj, k] = max(0, m)
                code[b, pi, pj, k] = cd


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def conv_relu_pool_forward(x, w, bias, sh, sw, dh, dw, ph, pw, out, code, nworkers):
    """out (N, PH, PW, F) = maxpool2×2(relu(conv(x) + bias)); code (N, PH, PW, F) uint8. The
    samples are taken from a counter by ``nworkers`` threads."""
    n = x.shape[0]
    counter = np.zeros(1, np.int64)
    for _ in prange(max(1, min(nworkers, n))):
        acc = np.empty((4, w.shape[3]), dtype=out.dtype)
        while True:
            b = fetch_add(counter, 0)
            if b >= n:
                break
            _forward_sample(x, b, w, bias, sh, sw, dh, dw, ph, pw, out, code, acc)


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def conv_relu_pool_backward(x, w, dy, out, code, sh, sw, dh, dw, ph, pw, nchunks, dwt, db,
                            need_dx, dx, nworkers):
    """Gradients of :func:`conv_relu_pool_forward` from dy (N, PH, PW, F), the gradient of its
    pooled output: dwt (KH, KW, C, F) and db (F,) are written; dx (N, H, W, C) too when
    need_dx. ``nworkers`` threads take ``nchunks`` slices of the batch from a counter, each
    slice with its own partial sums."""
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    _, poh, pow_, _ = dy.shape
    part = np.zeros((nchunks, kh, kw, c, f), dtype=dwt.dtype)
    partb = np.zeros((nchunks, f), dtype=dwt.dtype)
    size = (n + nchunks - 1) // nchunks
    counter = np.zeros(1, np.int64)
    for _ in prange(max(1, min(nworkers, nchunks))):
        g = np.empty((4, f), dtype=dwt.dtype)
        while True:
            t = fetch_add(counter, 0)
            if t >= nchunks:
                break
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
