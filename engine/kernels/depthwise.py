"""Depthwise 2-D convolution (channels-last): every input channel has its own
``depth_multiplier`` filters; no sum over channels. The building block of DepthwiseConv2D and
of SeparableConv2D (depthwise, then a 1×1 convolution).

x: (N, H, W, C) zero-padded beforehand (so every kernel tap reads inside x);
kernel: (KH, KW, C, M); out: (N, OH, OW, C·M), channel c·M + m is input channel c's m-th filter.
"""
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def depthwise_forward(x, k, sh, sw, dh, dw, out):
    """out[b, i, j, c·M+m] = Σ_{ki,kj} x[b, i·sh + ki·dh, j·sw + kj·dw, c] · k[ki, kj, c, m]."""
    n = x.shape[0]
    kh, kw, c, mult = k.shape
    oh, ow = out.shape[1], out.shape[2]
    for b in prange(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    for m in range(mult):
                        acc = 0.0
                        for ki in range(kh):
                            y = i * sh + ki * dh
                            for kj in range(kw):
                                acc += x[b, y, j * sw + kj * dw, ch] * k[ki, kj, ch, m]
                        out[b, i, j, ch * mult + m] = acc


@njit(cache=True, nogil=True, parallel=True)
def depthwise_dx(dout, k, sh, sw, dh, dw, dx):
    """dx (N, H, W, C) of the padded input, zeroed here: every tap adds dout·k back."""
    n = dx.shape[0]
    kh, kw, c, mult = k.shape
    oh, ow = dout.shape[1], dout.shape[2]
    for b in prange(n):
        dx[b] = 0.0
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    for m in range(mult):
                        g = dout[b, i, j, ch * mult + m]
                        for ki in range(kh):
                            y = i * sh + ki * dh
                            for kj in range(kw):
                                dx[b, y, j * sw + kj * dw, ch] += g * k[ki, kj, ch, m]


@njit(cache=True, nogil=True, parallel=True)
def depthwise_dk(x, dout, sh, sw, dh, dw, dk):
    """dk (KH, KW, C, M) = Σ over batch and output pixels of x·dout; one channel per thread,
    so no two threads write the same element."""
    n = x.shape[0]
    kh, kw, c, mult = dk.shape
    oh, ow = dout.shape[1], dout.shape[2]
    for ch in prange(c):
        for m in range(mult):
            for ki in range(kh):
                for kj in range(kw):
                    acc = 0.0
                    for b in range(n):
                        for i in range(oh):
                            y = i * sh + ki * dh
                            for j in range(ow):
                                acc += x[b, y, j * sw + kj * dw, ch] * dout[b, i, j, ch * mult + m]
                    dk[ki, kj, ch, m] = acc
