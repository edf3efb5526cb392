"""Conv2D(relu) → MaxPooling2D(2×2) (→ Dropout) forward for one input channel and a 3×3 kernel
(stride 1, no dilation): the first layer of an image model on grey images, the seed MNIST CNN's.

The planes kernels (conv_s1.py) compute four filters at a time over channels-first planes,
then pool each plane row by row and transpose the pooled rows into the channels-last output.
With one input channel all filters share each input value, so here every pooled position is
computed for all filters at once, channels-last: the 4×4 input patch under a 2×2 window is read
once (16 scalars), the four conv outputs of each filter are summed over the nine taps, and max,
relu, the window code and the dropout are applied across the filters (the vectorized axis)
before one contiguous store. Outputs, codes and dropout masks are those of
conv_s1.conv_s1_forward (the same sums and tests; values agree to float rounding); the code is
written channels-last, next to the output (the backward, on the planes, reads it across the
channels). Seed CNN's shape, (128, 28, 28, 1) → (128, 13, 13, 32) with dropout 0.25 (median of
30 calls, two alternating runs each, 2026-12-05): one thread 2,246 / 2,362 µs on the planes,
1,235 / 1,240 µs here with the code written channels-first one byte at a time; two threads
1,388 / 1,423 µs and 720 / 1,038 µs. Written channels-last (median of 40 calls, four runs
alternating with the channels-first version, 2026-12-05): one thread 961 – 1,237 µs against
1,223 – 1,488, two threads 667 – 803 µs against 801 – 1,359.

The backward without dx (the layer is the model's first), :func:`pool_backward_c1`, sums over
the pooled positions only: per filter, one loop over the positions with one position per vector
lane, the window's code choosing among four inputs by selects. The planes' backward sums over
all of the convolution's outputs (four times as many), most of them zeros. Seed CNN's shape,
dropout 0.25 (median of 40 calls, three runs alternating with the planes, 2026-12-06): one
thread 1,143 – 1,152 µs against 2,060 – 2,092, two threads 626 – 632 µs against 1,120 – 1,332.
Two earlier backwards per pooled position were slower than the planes' (one thread): all
filters of a window at a time (4.4 ms against 2.2 ms), and each filter's gradient times its
window's nine inputs as one vector of taps (3.6 ms).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from engine.kernels.lanes import transpose_block
from engine.kernels.parallel import fetch_add, take_samples
from engine.kernels.planes import OPT, dropped, pooled_relu


@njit(**OPT)
def _pooled_row(xs, wt, bias, wp, pow_, f, out_row, code_row, seed, threshold, scale, i0):
    """One pooled row of one sample: out_row (PW, F) and code_row (PW, F) from the sample's
    padded image xs (flat, rows of wp, starting at the row's first input row)."""
    zero = out_row.dtype.type(0)
    s0 = uint64(seed)
    t = uint64(threshold)
    for pj in range(pow_):
        r0 = 2 * pj
        p00, p01, p02, p03 = xs[r0], xs[r0 + 1], xs[r0 + 2], xs[r0 + 3]
        r1 = r0 + wp
        p10, p11, p12, p13 = xs[r1], xs[r1 + 1], xs[r1 + 2], xs[r1 + 3]
        r2 = r1 + wp
        p20, p21, p22, p23 = xs[r2], xs[r2 + 1], xs[r2 + 2], xs[r2 + 3]
        r3 = r2 + wp
        p30, p31, p32, p33 = xs[r3], xs[r3 + 1], xs[r3 + 2], xs[r3 + 3]
        ob = out_row[pj]
        cb = code_row[pj]
        for k in range(f):
            w0, w1, w2 = wt[0, k], wt[1, k], wt[2, k]
            w3, w4, w5 = wt[3, k], wt[4, k], wt[5, k]
            w6, w7, w8 = wt[6, k], wt[7, k], wt[8, k]
            b = bias[k]
            z0 = b + (w0 * p00 + w1 * p01 + w2 * p02 + w3 * p10 + w4 * p11 + w5 * p12
                      + w6 * p20 + w7 * p21 + w8 * p22)
            z1 = b + (w0 * p01 + w1 * p02 + w2 * p03 + w3 * p11 + w4 * p12 + w5 * p13
                      + w6 * p21 + w7 * p22 + w8 * p23)
            z2 = b + (w0 * p10 + w1 * p11 + w2 * p12 + w3 * p20 + w4 * p21 + w5 * p22
                      + w6 * p30 + w7 * p31 + w8 * p32)
            z3 = b + (w0 * p11 + w1 * p12 + w2 * p13 + w3 * p21 + w4 * p22 + w5 * p23
                      + w6 * p31 + w7 * p32 + w8 * p33)
            v, cd = pooled_relu(z0, z1, z2, z3, zero, zero)
            if threshold:
                v, cd = dropped(v, cd, s0, i0 + pj * f + k, t, scale, zero)
            ob[k] = v
            cb[k] = cd


@njit(inline="always")
def _into_padded(x, s, ph, pw, wp, xs):
    """Sample s of x (N, H, W, 1) into the padded buffer xs (flat, rows of wp; ph rows above, pw
    columns left), whose padding stays 0 from np.zeros. Not planes.fill_planes, which zeroes the
    whole plane first (pool_forward_c1 on one thread, min of 30: 1,324 – 1,420 µs with it,
    1,232 – 1,235 with this loop)."""
    for y in range(x.shape[1]):
        base = (y + ph) * wp + pw
        for xx in range(x.shape[2]):
            xs[base + xx] = x[s, y, xx, 0]


@njit(parallel=True, **OPT)
def pool_forward_c1(x, wt, bias, ph, pw, hp, wp, out, code, seed, threshold, scale, nworkers):
    """out (N, PH, PW, F) = [dropout of] maxpool2×2(relu(conv3×3(x) + bias)) for x (N, H, W, 1)
    and wt (9, F), the kernel's taps row-major; code (N, PH, PW, F) uint8, the values of
    conv_s1's codes (written channels-last here, next to the outputs). Samples
    are taken from a counter by ``nworkers`` threads; each pads its sample (ph rows above, pw
    columns left; hp × wp in all) into its own buffer."""
    n = x.shape[0]
    _, poh, pow_, f = out.shape
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        xs = np.zeros(hp * wp + 4, x.dtype)
        while True:
            s = fetch_add(counter, 0)
            if s >= n:
                break
            _into_padded(x, s, ph, pw, wp, xs)
            for pi in range(poh):
                _pooled_row(xs[2 * pi * wp:], wt, bias, wp, pow_, f, out[s, pi], code[s, pi],
                            seed, threshold, scale, ((s * poh + pi) * pow_) * f)



@njit(**OPT)
def _window_sums(planes, g, gc, npos, acc, accb):
    """acc[t, k] += Σ_p g[k, p] · (input value under tap t of the window position gc[k, p]
    points to) and accb[k] += Σ_p g[k, p] over the positions p < npos whose code is 0..3
    (none where DEAD). planes (16, ·): the 4 × 4 inputs under each pooled window, row-major."""
    zero = planes.dtype.type(0)
    x00, x01, x02, x03 = planes[0], planes[1], planes[2], planes[3]
    x10, x11, x12, x13 = planes[4], planes[5], planes[6], planes[7]
    x20, x21, x22, x23 = planes[8], planes[9], planes[10], planes[11]
    x30, x31, x32, x33 = planes[12], planes[13], planes[14], planes[15]
    for k in range(g.shape[0]):
        gk = g[k]
        ck = gc[k]
        s00 = s01 = s02 = s10 = s11 = s12 = s20 = s21 = s22 = sb = zero
        for p in range(npos):     # one vector lane per position: the four codes by selects
            v = gk[p]
            c = ck[p]
            h0 = v if c == 0 else zero
            h1 = v if c == 1 else zero
            h2 = v if c == 2 else zero
            h3 = v if c == 3 else zero
            s00 += h0 * x00[p] + h1 * x01[p] + h2 * x10[p] + h3 * x11[p]
            s01 += h0 * x01[p] + h1 * x02[p] + h2 * x11[p] + h3 * x12[p]
            s02 += h0 * x02[p] + h1 * x03[p] + h2 * x12[p] + h3 * x13[p]
            s10 += h0 * x10[p] + h1 * x11[p] + h2 * x20[p] + h3 * x21[p]
            s11 += h0 * x11[p] + h1 * x12[p] + h2 * x21[p] + h3 * x22[p]
            s12 += h0 * x12[p] + h1 * x13[p] + h2 * x22[p] + h3 * x23[p]
            s20 += h0 * x20[p] + h1 * x21[p] + h2 * x30[p] + h3 * x31[p]
            s21 += h0 * x21[p] + h1 * x22[p] + h2 * x31[p] + h3 * x32[p]
            s22 += h0 * x22[p] + h1 * x23[p] + h2 * x32[p] + h3 * x33[p]
            sb += (h0 + h1) + (h2 + h3)
        acc[0, k] += s00
        acc[1, k] += s01
        acc[2, k] += s02
        acc[3, k] += s10
        acc[4, k] += s11
        acc[5, k] += s12
        acc[6, k] += s20
        acc[7, k] += s21
        acc[8, k] += s22
        accb[k] += sb


@njit(**OPT)
def _window_planes(xs, wp, poh, pow_, planes, o):
    """planes[4a + b, o + pi·PW + pj] = xs[(2pi + a)·wp + 2pj + b]: the 4 × 4 inputs under
    each pooled window of one padded image xs (flat, rows of wp)."""
    for a in range(4):
        for b in range(4):
            row = planes[4 * a + b]
            for pi in range(poh):
                r = (2 * pi + a) * wp + b
                at = o + pi * pow_
                for pj in range(pow_):
                    row[at + pj] = xs[r + 2 * pj]


@njit(parallel=True, **OPT)
def pool_backward_c1(x, dy, code, ph, pw, hp, wp, bs, part, partb, nworkers):
    """The weight and bias gradients of :func:`pool_forward_c1` (without the dropout's scale)
    from dy (N, PH, PW, F), the gradient of its output, and its codes (N, PH, PW, F): part
    (nchunks, 9, F) and partb (nchunks, F) out, each chunk's sums (add them in chunk order and
    × the scale). Chunks of ``bs`` samples are taken from a counter by ``nworkers`` threads.

    Only the window's maximum receives a pooled gradient, so the sums run over the pooled
    positions, not the convolution's four times as many outputs: each chunk's dy and codes are
    turned channels-first (lanes.transpose_block), the 4 × 4 inputs under every window laid out
    as 16 planes, and per filter one loop over the positions sums, for each of the nine taps,
    the gradient times the input under that tap of the window's maximum (the code picks one of
    four inputs by selects, one position per vector lane)."""
    n, h, wd, _ = x.shape
    _, poh, pow_, f = dy.shape
    npos = poh * pow_
    nchunks = (n + bs - 1) // bs
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        xs = np.zeros(hp * wp + 4, x.dtype)
        planes = np.empty((16, bs * npos), x.dtype)
        g = np.empty((f, bs * npos), x.dtype)
        gc = np.empty((f, bs * npos), np.uint8)
        while True:
            blk, b0, nb = take_samples(counter, nchunks, bs, n)
            if nb == 0:
                break
            for s in range(nb):
                o = s * npos
                if ph == 0 and pw == 0:     # every window lies in the image
                    _window_planes(x[b0 + s].reshape(h * wd), wd, poh, pow_, planes, o)
                else:
                    _into_padded(x, b0 + s, ph, pw, wp, xs)
                    _window_planes(xs, wp, poh, pow_, planes, o)
                transpose_block(dy[b0 + s].reshape(npos, f), 0, 0, g, 0, o, npos, f)
                transpose_block(code[b0 + s].reshape(npos, f), 0, 0, gc, 0, o, npos, f)
            part[blk] = 0
            partb[blk] = 0
            _window_sums(planes, g, gc, nb * npos, part[blk], partb[blk])
