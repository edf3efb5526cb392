"""Fused optimizer updates over the model's flat parameter buffer.

Each kernel walks every parameter once: p, g, and the state buffers are (n,) arrays of one float
dtype; scalars (learning rate, decay complements, bias corrections) are computed once per step by
the caller and passed in that same dtype, so no element is promoted to float64.
``error_model="numpy"`` drops Python's division checks, which is what lets LLVM vectorize the
divisions and square roots (measured: 390 µs → 30 µs per Adam step over 101,770 float32
parameters). Moment estimates of parameters whose gradient stays 0 (dead units, always-black
pixels) decay into subnormal floats, which the CPU handles ~10× slower; ``_ftz`` flushes them
to zero (a difference below 1e-30, far under float32 resolution of any real update).
"""
import numpy as np
from numba import njit

TINY = 1e-30


@njit(inline="always")
def _ftz(x):
    return x if (x > TINY or x < -TINY) else x - x


@njit(cache=True, nogil=True, error_model="numpy")
def sgd(p, g, lr):
    for i in range(p.size):
        p[i] -= lr * g[i]


@njit(cache=True, nogil=True, error_model="numpy")
def sgd_momentum(p, g, m, lr, momentum, nesterov):
    # m = momentum·m − lr·g;  p += m  (nesterov: p += momentum·m − lr·g)
    for i in range(p.size):
        mi = _ftz(momentum * m[i] - lr * g[i])
        m[i] = mi
        if nesterov:
            p[i] += momentum * mi - lr * g[i]
        else:
            p[i] += mi


@njit(cache=True, nogil=True, error_model="numpy")
def rmsprop(p, g, v, mg, mom, lr, rho, c_rho, momentum, eps, centered):
    # v = ρv + (1−ρ)g²;  denom = v (− ḡ² if centered) + ε;  step = lr·g/√denom
    for i in range(p.size):
        gi = g[i]
        vi = _ftz(rho * v[i] + c_rho * gi * gi)
        v[i] = vi
        denom = vi + eps
        if centered:
            mi = _ftz(rho * mg[i] + c_rho * gi)
            mg[i] = mi
            denom = vi - mi * mi + eps
        inc = lr * gi / np.sqrt(denom)
        if momentum > 0:
            mo = _ftz(momentum * mom[i] + inc)
            mom[i] = mo
            p[i] -= mo
        else:
            p[i] -= inc


@njit(cache=True, nogil=True, error_model="numpy")
def adagrad(p, g, acc, lr, eps):
    for i in range(p.size):
        gi = g[i]
        a = acc[i] + gi * gi
        acc[i] = a
        p[i] -= lr * gi / np.sqrt(a + eps)


@njit(cache=True, nogil=True, error_model="numpy")
def adam(p, g, m, v, alpha, c1, c2, eps):
    # m += (g − m)(1 − β1);  v += (g² − v)(1 − β2);  p −= α·m / (√v + ε)
    for i in range(p.size):
        gi = g[i]
        mi = _ftz(m[i] + (gi - m[i]) * c1)
        vi = _ftz(v[i] + (gi * gi - v[i]) * c2)
        m[i] = mi
        v[i] = vi
        p[i] -= alpha * mi / (np.sqrt(vi) + eps)


@njit(cache=True, nogil=True, error_model="numpy")
def adam_amsgrad(p, g, m, v, vmax, alpha, c1, c2, eps):
    for i in range(p.size):
        gi = g[i]
        mi = _ftz(m[i] + (gi - m[i]) * c1)
        vi = _ftz(v[i] + (gi * gi - v[i]) * c2)
        m[i] = mi
        v[i] = vi
        if vi > vmax[i]:
            vmax[i] = vi
        p[i] -= alpha * mi / (np.sqrt(vmax[i]) + eps)


@njit(cache=True, nogil=True, error_model="numpy")
def nadam(p, g, m, v, lr, c1, c2, eps, a_m, a_g, inv_v):
    # m̂ = a_m·m + a_g·g with a_m = u_{t+1}/(1−Πu_{t+1}), a_g = (1−u_t)/(1−Πu_t);  v̂ = v·inv_v
    for i in range(p.size):
        gi = g[i]
        mi = _ftz(m[i] + (gi - m[i]) * c1)
        vi = _ftz(v[i] + (gi * gi - v[i]) * c2)
        m[i] = mi
        v[i] = vi
        p[i] -= lr * (a_m * mi + a_g * gi) / (np.sqrt(vi * inv_v) + eps)


@njit(cache=True, nogil=True, error_model="numpy")
def clip_values(g, limit):
    for i in range(g.size):
        if g[i] > limit:
            g[i] = limit
        elif g[i] < -limit:
            g[i] = -limit


@njit(cache=True, nogil=True, error_model="numpy")
def scale(g, factor):
    for i in range(g.size):
        g[i] *= factor
