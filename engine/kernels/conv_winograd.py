"""3×3 stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3), float32.

Each 2×2 block of outputs (a tile) comes from the 4×4 input window under it: with
``V = Bᵀ·d·B`` (the window, per channel) and ``U = G·g·Gᵀ`` (the 3×3 kernel, per channel and
filter), ``Y = Aᵀ·[Σ_c U ⊙ V]·A``. The sum over channels is 16 matrix products, one per element ξ
of the 4×4 transforms: M[ξ] (tiles × F) = V[ξ] (tiles × C) · U[ξ] (C × F), 16·C·F
multiply-adds per tile instead of the 36·C·F of the direct sum (2.25× fewer). The products run on
lanes.tile4 (four tiles × 32 filters in vector registers over the C channels), the transforms in
vector loops over the channels. The same kernel makes the input gradient of a stride-1
convolution: the forward of the output gradient with the turned kernel (U of
``g'[i, j, f, c] = g[2 - i, 2 - j, c, f]``). The weight gradient stays im2col + sgemm
(conv_gemm.py).

With a 2×2 max pool fused, each tile is one pool window: its four outputs are pooled as they
come out of the transform (relu, and a Dropout after the pool), writing the output and window
codes of conv_gemm.py's pooled kernels.

Work is shared dynamically by chunks of tile rows (a sample's row of tiles; a chunk may span
samples) from a counter. Each worker keeps its chunk's transformed inputs and products in buffers
of its own (CHUNK_BYTES together), the 16 planes of each spaced by PLANE_GAP floats: planes a
power-of-two apart put all 16 streams of the transforms in the same cache sets (in a prototype
of this kernel the input transform of 32 × 32 × 32, batch 32, took 4.8 ms with planes 32 KB
apart, 1.1 ms spaced).

Forward against im2col + sgemm (conv_gemm.py), batch 32, two threads, median of 25, 2026-12-06
09:08, with the 2×2 pool: 16×16×32 → 64 1.22 ms against 1.83, 8×8×64 → 128 1.10 against 1.67,
4×4×128 → 256 1.15 against 1.67; without: 16×16×64 → 64 3.45 against 4.27. The largest
difference from im2col's output ≤ 7.3 × 10⁻⁷ of its largest value, pool codes the same. Where
the layer uses it (and its input gradient): engine/layers/conv.py (WINOGRAD_*).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from engine.kernels.conv_tiles import into_padded
from engine.kernels.lanes import TILE, tile4
from engine.kernels.parallel import fetch_add
from engine.kernels.planes import OPT, pool_windows

CHUNK_BYTES = 1 << 19         # a chunk's transformed inputs and products: half of the 1 MB L2
PLANE_GAP = 16                # floats between the 16 planes of a worker's buffers (see above)


@njit(**OPT)
def filter_transform(w, u2):
    """u2 (16, F/32 blocks, C, 32) = G·g·Gᵀ of the kernel w (3, 3, C, F) per channel and filter,
    by blocks of 32 filters (zeros past F): the right operands of the 16 products."""
    _, _, c, f = w.shape
    u2[:] = 0
    gg = np.empty((4, 3, TILE), np.float32)
    half = np.float32(0.5)
    for ch in range(c):
        for b in range(u2.shape[1]):
            k0 = b * TILE
            nk = min(TILE, f - k0)
            for j in range(3):          # G·g: column j of the kernel
                p0 = w[0, j, ch, k0:k0 + nk]
                p1 = w[1, j, ch, k0:k0 + nk]
                p2 = w[2, j, ch, k0:k0 + nk]
                g0, g1, g2, g3 = gg[0, j], gg[1, j], gg[2, j], gg[3, j]
                for k in range(nk):
                    g0[k] = p0[k]
                    g1[k] = half * (p0[k] + p1[k] + p2[k])
                    g2[k] = half * (p0[k] - p1[k] + p2[k])
                    g3[k] = p2[k]
            for i in range(4):          # (G·g)·Gᵀ: row i
                r0, r1, r2 = gg[i, 0], gg[i, 1], gg[i, 2]
                u0, u1 = u2[4 * i, b, ch], u2[4 * i + 1, b, ch]
                u2_, u3 = u2[4 * i + 2, b, ch], u2[4 * i + 3, b, ch]
                for k in range(nk):
                    u0[k] = r0[k]
                    u1[k] = half * (r0[k] + r1[k] + r2[k])
                    u2_[k] = half * (r0[k] - r1[k] + r2[k])
                    u3[k] = r2[k]


@njit(**OPT)
def _input_row(xp, ty, wp, c, tw, v, r0, plane):
    """Bᵀ·d·B of the tiles of tile row ty of the padded sample xp into rows r0.. of the 16
    planes of v (plane ξ at ξ·plane, C floats a row). Unsigned indices: numba then adds no
    negative-index check, which would keep the loop scalar."""
    cu = uint64(c)
    rs = uint64(wp) * cu
    pl = uint64(plane)
    for tx in range(tw):
        i0 = uint64(2 * ty) * rs + uint64(2 * tx) * cu
        o = (uint64(r0) + uint64(tx)) * cu
        for k in range(cu):
            a = i0 + k
            b = a + rs
            c2 = b + rs
            d = c2 + rs
            d00, d01, d02, d03 = xp[a], xp[a + cu], xp[a + 2 * cu], xp[a + 3 * cu]
            d10, d11, d12, d13 = xp[b], xp[b + cu], xp[b + 2 * cu], xp[b + 3 * cu]
            d20, d21, d22, d23 = xp[c2], xp[c2 + cu], xp[c2 + 2 * cu], xp[c2 + 3 * cu]
            d30, d31, d32, d33 = xp[d], xp[d + cu], xp[d + 2 * cu], xp[d + 3 * cu]
            t00, t01, t02, t03 = d00 - d20, d01 - d21, d02 - d22, d03 - d23      # Bᵀ·d
            t10, t11, t12, t13 = d10 + d20, d11 + d21, d12 + d22, d13 + d23
            t20, t21, t22, t23 = d20 - d10, d21 - d11, d22 - d12, d23 - d13
            t30, t31, t32, t33 = d10 - d30, d11 - d31, d12 - d32, d13 - d33
            p = o + k                                                             # (Bᵀ·d)·B
            v[p] = t00 - t02
            v[p + pl] = t01 + t02
            v[p + 2 * pl] = t02 - t01
            v[p + 3 * pl] = t01 - t03
            v[p + 4 * pl] = t10 - t12
            v[p + 5 * pl] = t11 + t12
            v[p + 6 * pl] = t12 - t11
            v[p + 7 * pl] = t11 - t13
            v[p + 8 * pl] = t20 - t22
            v[p + 9 * pl] = t21 + t22
            v[p + 10 * pl] = t22 - t21
            v[p + 11 * pl] = t21 - t23
            v[p + 12 * pl] = t30 - t32
            v[p + 13 * pl] = t31 + t32
            v[p + 14 * pl] = t32 - t31
            v[p + 15 * pl] = t31 - t33


@njit(**OPT)
def _output_tile(m, o, plane, f, a):
    """a (4, F) = the tile's 2×2 outputs, row-major: Aᵀ·M·A of the products at offset o of
    the 16 planes of m."""
    m0, m1 = m[o:o + f], m[o + plane:o + plane + f]
    m2, m3 = m[o + 2 * plane:o + 2 * plane + f], m[o + 3 * plane:o + 3 * plane + f]
    m4, m5 = m[o + 4 * plane:o + 4 * plane + f], m[o + 5 * plane:o + 5 * plane + f]
    m6, m7 = m[o + 6 * plane:o + 6 * plane + f], m[o + 7 * plane:o + 7 * plane + f]
    m8, m9 = m[o + 8 * plane:o + 8 * plane + f], m[o + 9 * plane:o + 9 * plane + f]
    m10, m11 = m[o + 10 * plane:o + 10 * plane + f], m[o + 11 * plane:o + 11 * plane + f]
    m12, m13 = m[o + 12 * plane:o + 12 * plane + f], m[o + 13 * plane:o + 13 * plane + f]
    m14, m15 = m[o + 14 * plane:o + 14 * plane + f], m[o + 15 * plane:o + 15 * plane + f]
    a0, a1, a2, a3 = a[0], a[1], a[2], a[3]
    for k in range(f):
        s00 = m0[k] + m4[k] + m8[k]          # Aᵀ·M
        s01 = m1[k] + m5[k] + m9[k]
        s02 = m2[k] + m6[k] + m10[k]
        s03 = m3[k] + m7[k] + m11[k]
        s10 = m4[k] - m8[k] - m12[k]
        s11 = m5[k] - m9[k] - m13[k]
        s12 = m6[k] - m10[k] - m14[k]
        s13 = m7[k] - m11[k] - m15[k]
        a0[k] = s00 + s01 + s02              # (Aᵀ·M)·A
        a1[k] = s01 - s02 - s03
        a2[k] = s10 + s11 + s12
        a3[k] = s11 - s12 - s13


@njit(parallel=True, **OPT)
def _winograd_par(x, u2, offs, bias, pt, pl, oh, ow, relu, z, pool, out, code, seed, threshold,
                  scale, per_chunk, nworkers):
    """z (N, OH, OW, F) = act(conv(x) + bias) (relu or linear), or with ``pool`` out and code
    (N, OH//2, OW//2, F) as conv_gemm.py's pooled kernels (+ a Dropout when threshold > 0).
    x is read padded by pt rows on top and pl columns on the left (zeros past its end); chunks
    of ``per_chunk`` tile rows (forward)."""
    n, h, w, c = x.shape
    f = bias.shape[0]
    blocks = u2.shape[1]
    fp = blocks * TILE
    poh, pow_ = oh // 2, ow // 2
    # the tiles: 2×2 blocks over the output; with the pool only its windows (an odd last
    # row / column, which the pool drops, is not computed)
    th, tw = (poh, pow_) if pool else ((oh + 1) // 2, (ow + 1) // 2)
    hp, wp = max(2 * th + 2, pt + h), max(2 * tw + 2, pl + w)
    rmax = -(-(per_chunk * tw) // 4) * 4
    vplane, mplane = rmax * c + PLANE_GAP, rmax * fp + PLANE_GAP
    total = n * th
    nchunks = (total + per_chunk - 1) // per_chunk
    counter = np.zeros(1, np.int64)
    zero = np.float32(0)
    s0, t = uint64(seed), uint64(threshold)
    uf = u2.reshape(-1)
    for _ in prange(nworkers):
        xp = np.zeros(hp * wp * c, np.float32)
        v = np.zeros(16 * vplane, np.float32)
        m = np.empty(16 * mplane, np.float32)
        a = np.empty((4, f), np.float32)
        while True:
            chunk = fetch_add(counter, 0)
            if chunk >= nchunks:
                break
            g0 = chunk * per_chunk
            g1 = min(total, g0 + per_chunk)
            padded = -1
            for g in range(g0, g1):
                s = g // th
                if s != padded:
                    into_padded(x, s, xp, pt, pl, wp)
                    padded = s
                _input_row(xp, g % th, wp, c, tw, v, (g - g0) * tw, vplane)
            rows = -(-((g1 - g0) * tw) // 4) * 4
            m[:] = 0
            for e in range(16):
                for b in range(blocks):
                    for r in range(0, rows, 4):
                        tile4(m, e * mplane + r * fp + b * TILE, fp, v, e * vplane + r * c, c,
                              offs, uf, (e * blocks + b) * c * TILE, TILE, c)
            for g in range(g0, g1):
                s, ty = g // th, g % th
                for tx in range(tw):
                    _output_tile(m, ((g - g0) * tw + tx) * fp, mplane, f, a)
                    if pool:
                        pool_windows(a[0], a[1], a[2], a[3], bias, out[s, ty, tx], code[s, ty, tx],
                                     ((s * poh + ty) * pow_ + tx) * f, s0, t, threshold, scale,
                                     zero)
                        continue
                    for q in range(4):
                        i, j = 2 * ty + q // 2, 2 * tx + q % 2
                        if i >= oh or j >= ow:
                            continue
                        zr, ar = z[s, i, j], a[q]
                        for k in range(f):
                            val = ar[k] + bias[k]
                            zr[k] = max(val, zero) if relu else val


def forward(x, kernel, bias, pad, out_size, relu: bool, workers: int, pool: bool = False,
            dropout=None):
    """The convolution of x (N, H, W, C) float32 with kernel (3, 3, C, F), stride 1, no
    dilation: z (N, OH, OW, F) = act(conv + bias), relu or linear; pad (top, left) the padding
    before the input (zeros after it up to the output size out_size (OH, OW)). With ``pool``
    (relu): (out, code) as conv_gemm.conv_gemm_pool_forward, the Dropout after the pool when
    ``dropout`` = (seed, threshold, scale) is given."""
    n, _, _, c = x.shape
    f = kernel.shape[3]
    oh, ow = out_size
    blocks = -(-f // TILE)
    u2 = np.empty((16, blocks, c, TILE), np.float32)
    filter_transform(np.ascontiguousarray(kernel, np.float32), u2)
    th, tw = (oh // 2, ow // 2) if pool else ((oh + 1) // 2, (ow + 1) // 2)
    per_row = 16 * 4 * tw * (c + blocks * TILE)
    per_chunk = max(1, min(CHUNK_BYTES // per_row, -(-n * th // (4 * workers))))
    seed, threshold, scale = dropout if dropout is not None else (0, 0, 1.0)
    z = np.empty((0 if pool else n, oh, ow, f), np.float32)
    out = np.empty((n, oh // 2, ow // 2, f) if pool else (0, 0, 0, f), np.float32)
    code = np.empty(out.shape, np.uint8)
    _winograd_par(np.ascontiguousarray(x, np.float32), u2, np.arange(c, dtype=np.int32),
                  np.ascontiguousarray(bias, np.float32), pad[0], pad[1], oh, ow, relu, z, pool,
                  out, code, np.uint64(seed), np.uint64(threshold), np.float32(scale), per_chunk,
                  max(1, min(workers, -(-n * th // per_chunk))))
    return (out, code) if pool else z


def input_grad(dz, kernel, pad, in_size, workers: int) -> np.ndarray:
    """dx (N, H, W, C) of :func:`forward`'s convolution from dz (N, OH, OW, F), the gradient of
    its output before the bias: the forward of dz with the turned kernel, padded by 2 - pad."""
    turned = np.ascontiguousarray(kernel[::-1, ::-1].transpose(0, 1, 3, 2))
    return forward(dz, turned, np.zeros(kernel.shape[2], np.float32), (2 - pad[0], 2 - pad[1]),
                   in_size, False, workers)

