"""Building blocks of the recurrent kernels: activations by code, their derivatives, a small gemm.

Activations are applied to a range of a 1-D row in place, with the choice of function made once
per call (outside the element loop) so that every loop vectorizes. Derivatives are computed from
the activation's *output* y, which is what the recurrent kernels keep for backward.

In float32, tanh (and sigmoid = ½·tanh(x/2) + ½) use a rational approximation (the one Eigen and
TensorFlow use, max error 3e-7) that LLVM turns into SIMD code; libm's tanhf is a scalar call and
made the LSTM cell several times slower. float64 (the gradient tests) uses math.tanh/math.exp.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from engine.kernels.gemm import sgemm


OPT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")

# Activation codes understood by the kernels (engine.layers.recurrent maps names to these).
LINEAR, TANH, SIGMOID, HARD_SIGMOID, RELU, RELU6, SOFTSIGN, ELU = range(8)
CODES = {"linear": LINEAR, "tanh": TANH, "sigmoid": SIGMOID, "hard_sigmoid": HARD_SIGMOID,
         "relu": RELU, "relu6": RELU6, "softsign": SOFTSIGN, "elu": ELU}


def fast_tanh(x):
    """tanh: rational approximation in float32, math.tanh otherwise (see module docstring)."""
    return math.tanh(x)


@overload(fast_tanh, inline="always", jit_options=OPT)
def _fast_tanh(x):
    if x == types.float32:
        def impl(x):
            c = np.float32(7.99881172180175781)
            xc = min(max(x, -c), c)
            x2 = xc * xc
            p = x2 * np.float32(-2.76076847742355e-16) + np.float32(2.00018790482477e-13)
            p = p * x2 + np.float32(-8.60467152213735e-11)
            p = p * x2 + np.float32(5.12229709037114e-08)
            p = p * x2 + np.float32(1.48572235717979e-05)
            p = p * x2 + np.float32(6.37261928875436e-04)
            p = p * x2 + np.float32(4.89352455891786e-03)
            q = x2 * np.float32(1.19825839466702e-06) + np.float32(1.18534705686654e-04)
            q = q * x2 + np.float32(2.26843463243900e-03)
            q = q * x2 + np.float32(4.89352518554385e-03)
            return p * xc / q
        return impl
    return lambda x: math.tanh(x)


def fast_sigmoid(x):
    """1 / (1 + exp(-x)); in float32 computed as ½·tanh(x/2) + ½ (vectorizable)."""
    return 1.0 / (1.0 + math.exp(-x))


@overload(fast_sigmoid, inline="always", jit_options=OPT)
def _fast_sigmoid(x):
    if x == types.float32:
        def impl(x):
            half = np.float32(0.5)
            return half * fast_tanh(half * x) + half
        return impl

    def impl64(x):
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    return impl64


@njit(**OPT)
def activate(code, z, a, b):
    """z[a:b] = act(z[a:b]) in place. z: 1-D float array; code: one of CODES."""
    one = z.dtype.type(1)
    zero = z.dtype.type(0)
    # A view, looped from 0: a loop over range(a, b) indexing z keeps numba's check for a
    # negative index (a is not known to be >= 0) and did not vectorize (scalar divisions,
    # several times slower: the LSTM's gates).
    v = z[a:b]
    if code == TANH:
        for j in range(v.shape[0]):
            v[j] = fast_tanh(v[j])
    elif code == SIGMOID:
        for j in range(v.shape[0]):
            v[j] = fast_sigmoid(v[j])
    elif code == HARD_SIGMOID:   # Keras 3: relu6(x + 3) / 6
        s = v.dtype.type(1.0 / 6.0)
        h = v.dtype.type(0.5)
        for j in range(v.shape[0]):
            v[j] = min(max(v[j] * s + h, zero), one)
    elif code == RELU:
        for j in range(v.shape[0]):
            v[j] = max(v[j], zero)
    elif code == RELU6:
        six = v.dtype.type(6)
        for j in range(v.shape[0]):
            v[j] = min(max(v[j], zero), six)
    elif code == SOFTSIGN:
        for j in range(v.shape[0]):
            v[j] = v[j] / (one + abs(v[j]))
    elif code == ELU:
        for j in range(v.shape[0]):
            x = v[j]
            v[j] = x if x > zero else math.exp(x) - one


@njit(**OPT)
def times_derivative(code, y, d, a, b):
    """d[a:b] *= act'(x) where y = act(x), for j in a..b. y, d: 1-D float arrays."""
    one = y.dtype.type(1)
    zero = y.dtype.type(0)
    yv = y[a:b]         # views, as in activate
    dv = d[a:b]
    if code == TANH:
        for j in range(yv.shape[0]):
            dv[j] *= one - yv[j] * yv[j]
    elif code == SIGMOID:
        for j in range(yv.shape[0]):
            dv[j] *= yv[j] * (one - yv[j])
    elif code == HARD_SIGMOID:
        s = yv.dtype.type(1.0 / 6.0)
        for j in range(yv.shape[0]):
            dv[j] = dv[j] * s if zero < yv[j] < one else zero
    elif code == RELU:
        for j in range(yv.shape[0]):
            dv[j] = dv[j] if yv[j] > zero else zero
    elif code == RELU6:
        six = yv.dtype.type(6)
        for j in range(yv.shape[0]):
            dv[j] = dv[j] if zero < yv[j] < six else zero
    elif code == SOFTSIGN:
        for j in range(yv.shape[0]):
            t = one - abs(yv[j])
            dv[j] *= t * t
    elif code == ELU:
        for j in range(yv.shape[0]):
            dv[j] = dv[j] if yv[j] > zero else dv[j] * (yv[j] + one)


def _is_float32(a):
    """Whether ``a`` holds float32 (decided when the kernel compiles)."""
    return a.dtype == np.float32


@overload(_is_float32, inline="always", jit_options=OPT)
def _is_float32_impl(a):
    value = isinstance(a, types.Array) and a.dtype == types.float32
    return lambda a: value


@njit(**OPT)
def _blas_ok(a, b, c):
    """The small products below go to BLAS's sgemm on the calling thread (OpenBLAS's kernels
    for small matrices) when the operands are float32, C-contiguous and non-empty; float64 (the
    gradient tests) and strided views take the loops. Measured per call on this machine
    (2026-12-03, best of 3 × 3,000): the LSTM's (4, 256) @ (256, 512) 11.1 µs in sgemm vs
    27.0 µs in the loops, its backward (4, 512) @ (512, 256) 9.4 vs 15.6 µs, the weight
    gradients (128, 256)ᵀ @ (128, 512) 97 vs 62 GFLOPS."""
    return (_is_float32(a) and _is_float32(b) and _is_float32(c) and a.size > 0 and
            b.size > 0 and c.size > 0 and a.flags.c_contiguous and b.flags.c_contiguous and
            c.flags.c_contiguous)


@njit(**OPT)
def matmul_rows(h, w, z):
    """z = h @ w for small matrices. h: (n, k), w: (k, g), z: (n, g), all C-contiguous.

    Four rows and four k at a time, the g loop innermost (SIMD); w stays in L2, the four rows
    of z in L1. Used inside the time loops, where a BLAS call per step would cost a Python
    round trip and, with threads, a synchronization per step.
    """
    if _blas_ok(h, w, z):
        sgemm(False, False, h.shape[0], w.shape[1], h.shape[1], 1.0, h.ctypes.data,
              h.shape[1], w.ctypes.data, w.shape[1], 0.0, z.ctypes.data, z.shape[1])
        return
    zero = z.dtype.type(0)
    for n in range(z.shape[0]):
        zr = z[n]
        for j in range(zr.shape[0]):
            zr[j] = zero
    matmul_acc(h, w, z)


@njit(**OPT)
def matmul_acc(h, w, z):
    """z += h @ w, like matmul_rows."""
    if _blas_ok(h, w, z):
        sgemm(False, False, h.shape[0], w.shape[1], h.shape[1], 1.0, h.ctypes.data,
              h.shape[1], w.ctypes.data, w.shape[1], 1.0, z.ctypes.data, z.shape[1])
        return
    n_rows, k_dim = h.shape
    g_dim = w.shape[1]
    n = 0
    while n < n_rows:
        rows = min(4, n_rows - n)
        if rows == 4:
            z0 = z[n]
            z1 = z[n + 1]
            z2 = z[n + 2]
            z3 = z[n + 3]
            k = 0
            while k + 4 <= k_dim:
                a0, b0, c0, d0 = h[n, k], h[n, k + 1], h[n, k + 2], h[n, k + 3]
                a1, b1, c1, d1 = h[n + 1, k], h[n + 1, k + 1], h[n + 1, k + 2], h[n + 1, k + 3]
                a2, b2, c2, d2 = h[n + 2, k], h[n + 2, k + 1], h[n + 2, k + 2], h[n + 2, k + 3]
                a3, b3, c3, d3 = h[n + 3, k], h[n + 3, k + 1], h[n + 3, k + 2], h[n + 3, k + 3]
                w0 = w[k]
                w1 = w[k + 1]
                w2 = w[k + 2]
                w3 = w[k + 3]
                for j in range(g_dim):
                    p, q, s, t = w0[j], w1[j], w2[j], w3[j]
                    z0[j] += a0 * p + b0 * q + c0 * s + d0 * t
                    z1[j] += a1 * p + b1 * q + c1 * s + d1 * t
                    z2[j] += a2 * p + b2 * q + c2 * s + d2 * t
                    z3[j] += a3 * p + b3 * q + c3 * s + d3 * t
                k += 4
            while k < k_dim:
                a0, a1, a2, a3 = h[n, k], h[n + 1, k], h[n + 2, k], h[n + 3, k]
                wk = w[k]
                for j in range(g_dim):
                    p = wk[j]
                    z0[j] += a0 * p
                    z1[j] += a1 * p
                    z2[j] += a2 * p
                    z3[j] += a3 * p
                k += 1
        else:
            for r in range(rows):
                zr = z[n + r]
                for k in range(k_dim):
                    a0 = h[n + r, k]
                    wk = w[k]
                    for j in range(g_dim):
                        zr[j] += a0 * wk[j]
        n += rows


@njit(**OPT)
def matmul_acc_tn(a, w, z):
    """z += aᵀ @ w. a: (k, n), w: (k, g), z: (n, g), all C-contiguous (a read transposed, four
    values of a row at a time, so that a needs no transposed copy)."""
    if _blas_ok(a, w, z):
        sgemm(True, False, a.shape[1], w.shape[1], a.shape[0], 1.0, a.ctypes.data,
              a.shape[1], w.ctypes.data, w.shape[1], 1.0, z.ctypes.data, z.shape[1])
        return
    k_dim, n_rows = a.shape
    g_dim = w.shape[1]
    n = 0
    while n < n_rows:
        rows = min(4, n_rows - n)
        if rows == 4:
            z0 = z[n]
            z1 = z[n + 1]
            z2 = z[n + 2]
            z3 = z[n + 3]
            k = 0
            while k + 4 <= k_dim:
                a0, a1, a2, a3 = a[k, n], a[k, n + 1], a[k, n + 2], a[k, n + 3]
                b0, b1, b2, b3 = a[k + 1, n], a[k + 1, n + 1], a[k + 1, n + 2], a[k + 1, n + 3]
                c0, c1, c2, c3 = a[k + 2, n], a[k + 2, n + 1], a[k + 2, n + 2], a[k + 2, n + 3]
                d0, d1, d2, d3 = a[k + 3, n], a[k + 3, n + 1], a[k + 3, n + 2], a[k + 3, n + 3]
                w0 = w[k]
                w1 = w[k + 1]
                w2 = w[k + 2]
                w3 = w[k + 3]
                for j in range(g_dim):
                    p, q, s, t = w0[j], w1[j], w2[j], w3[j]
                    z0[j] += a0 * p + b0 * q + c0 * s + d0 * t
                    z1[j] += a1 * p + b1 * q + c1 * s + d1 * t
                    z2[j] += a2 * p + b2 * q + c2 * s + d2 * t
                    z3[j] += a3 * p + b3 * q + c3 * s + d3 * t
                k += 4
            while k < k_dim:
                a0, a1, a2, a3 = a[k, n], a[k, n + 1], a[k, n + 2], a[k, n + 3]
                wk = w[k]
                for j in range(g_dim):
                    p = wk[j]
                    z0[j] += a0 * p
                    z1[j] += a1 * p
                    z2[j] += a2 * p
                    z3[j] += a3 * p
                k += 1
        else:
            for r in range(rows):
                zr = z[n + r]
                for k in range(k_dim):
                    a0 = a[k, n + r]
                    wk = w[k]
                    for j in range(g_dim):
                        zr[j] += a0 * wk[j]
        n += rows
