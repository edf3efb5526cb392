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
1,223 – 1,488, two threads 667 – 803 µs against 801 – 1,359. A backward written the same way
(per pooled position, all filters) was slower than the planes' (4.4 ms against 2.2 ms on one
thread) and is not used; so was one that adds each filter's gradient times its window's nine
inputs (3.6 ms: one vector of taps per filter and window).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from engine.kernels.parallel import fetch_add
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


@njit(parallel=True, **OPT)
def pool_forward_c1(x, wt, bias, ph, pw, hp, wp, out, code, seed, threshold, scale, nworkers):
    """out (N, PH, PW, F) = [dropout of] maxpool2×2(relu(conv3×3(x) + bias)) for x (N, H, W, 1)
    and wt (9, F), the kernel's taps row-major; code (N, PH, PW, F) uint8, the values of
    conv_s1's codes (written channels-last here, next to the outputs). Samples
    are taken from a counter by ``nworkers`` threads; each pads its sample (ph rows above, pw
    columns left; hp × wp in all) into its own buffer."""
    n, h, wd, _ = x.shape
    _, poh, pow_, f = out.shape
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        xs = np.zeros(hp * wp + 4, x.dtype)
        while True:
            s = fetch_add(counter, 0)
            if s >= n:
                break
            # the image into the padded buffer (its padding stays 0 from np.zeros); not
            # planes.fill_planes, which zeroes the whole plane first (this kernel on one thread,
            # min of 30: 1,324 – 1,420 µs with it, 1,232 – 1,235 with this loop)
            for y in range(h):
                base = (y + ph) * wp + pw
                for xx in range(wd):
                    xs[base + xx] = x[s, y, xx, 0]
            for pi in range(poh):
                _pooled_row(xs[2 * pi * wp:], wt, bias, wp, pow_, f, out[s, pi], code[s, pi],
                            seed, threshold, scale, ((s * poh + pi) * pow_) * f)
