"""Crossentropy kernels for the per-step loss value and gradient.

Shapes: ``p`` (R, K) predictions (R = all axes but the last, flattened), ``y`` (R, K) targets of
p's dtype or ``labels`` (R,) int64 class numbers; per-row outputs ``out`` (R,), gradients ``g``
(R, K), all of p's dtype (float32 or float64; sums accumulate in float64). Probabilities are
clipped to [lo, hi] = [eps, 1 − eps] rounded to p's dtype, as Keras does in float32 (where
1 − 1e-7 rounds to 0.99999988, which matters for log(1 − hi)); gradients are exact derivatives of the clipped loss
(zero where a value was clipped, like TensorFlow's clip_by_value). One call replaces the dozen
numpy temporaries the same formulas need, which dominate at batch sizes of 32.
The sparse kernels check each label against 0..K−1 as they go and return the first row with an
invalid one (−1 when all are valid; such rows are left unwritten), so the caller can raise a
readable error without a separate pass over the labels.
"""
from __future__ import annotations

import math

from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _row_sum(p, r):
    """Σ_k p[r, k], accumulated in float64."""
    s = 0.0
    for j in range(p.shape[1]):
        s += p[r, j]
    return s


@njit(cache=True, nogil=True, error_model="numpy")
def cce_rows(y, p, lo, hi, out):
    """out[r] = −Σ_k y[r,k]·log(clip(p[r,k] / Σp[r], lo, hi))."""
    n, k = p.shape
    for r in range(n):
        s = _row_sum(p, r)
        acc = 0.0
        for j in range(k):
            if y[r, j] != 0:
                q = min(max(p[r, j] / s, lo), hi)
                acc -= y[r, j] * math.log(q)
        out[r] = acc


@njit(cache=True, nogil=True, error_model="numpy")
def cce_rows_grad(y, p, lo, hi, scale, g):
    """g[r,k] = scale · d out[r] / d p[r,k] = scale·(Σ_{j unclipped} y_j / S − [k unclipped]·y_k/p_k)."""
    n, k = p.shape
    for r in range(n):
        s = _row_sum(p, r)
        ysum = 0.0
        for j in range(k):
            q = p[r, j] / s
            if lo <= q <= hi:
                ysum += y[r, j]
        base = ysum / s
        for j in range(k):
            q = p[r, j] / s
            v = base
            if lo <= q <= hi and y[r, j] != 0:
                v -= y[r, j] / p[r, j]
            g[r, j] = scale * v


@njit(cache=True, nogil=True, error_model="numpy")
def sparse_cce_rows(labels, p, lo, hi, out):
    """out[r] = −log(clip(p[r, labels[r]] / Σp[r], lo, hi)); returns the first bad row."""
    n, k = p.shape
    bad = -1
    for r in range(n):
        lab = labels[r]
        if lab < 0 or lab >= k:
            if bad < 0:
                bad = r
            continue
        s = _row_sum(p, r)
        q = min(max(p[r, lab] / s, lo), hi)
        out[r] = -math.log(q)
    return bad


@njit(cache=True, nogil=True, error_model="numpy")
def sparse_cce_rows_grad(labels, p, lo, hi, scale, g):
    """Gradient of :func:`sparse_cce_rows` times ``scale``: (1/S − [k = label]/p_k) when the
    label's probability is not clipped, else 0. Returns the first bad row."""
    n, k = p.shape
    bad = -1
    for r in range(n):
        lab = labels[r]
        if lab < 0 or lab >= k:
            if bad < 0:
                bad = r
            continue
        s = _row_sum(p, r)
        q = p[r, lab] / s
        if lo <= q <= hi:
            base = scale / s
            for j in range(k):
                g[r, j] = base
            g[r, lab] -= scale / p[r, lab]
        else:
            for j in range(k):
                g[r, j] = 0.0
    return bad


@njit(cache=True, nogil=True, error_model="numpy")
def softmax_cce_fused_value(y, p, lo, hi, scale, g, out):
    """Gradient w.r.t. the softmax's input z of scale·CE(y, softmax(z)), scale·(p·Σy − y), in
    g, and :func:`cce_rows` in out, in one pass over the rows."""
    n, k = p.shape
    for r in range(n):
        s = _row_sum(p, r)
        ysum = 0.0
        acc = 0.0
        for j in range(k):
            yj = y[r, j]
            ysum += yj
            if yj != 0:
                acc -= yj * math.log(min(max(p[r, j] / s, lo), hi))
        out[r] = acc
        for j in range(k):
            g[r, j] = scale * (p[r, j] * ysum - y[r, j])


@njit(cache=True, nogil=True, error_model="numpy")
def softmax_sparse_cce_fused_value(labels, p, lo, hi, scale, g, out):
    """Sparse form of :func:`softmax_cce_fused_value`: scale·(p − onehot(label)) in g and
    :func:`sparse_cce_rows` in out; returns the first bad row."""
    n, k = p.shape
    bad = -1
    for r in range(n):
        lab = labels[r]
        if lab < 0 or lab >= k:
            if bad < 0:
                bad = r
            continue
        out[r] = -math.log(min(max(p[r, lab] / _row_sum(p, r), lo), hi))
        for j in range(k):
            g[r, j] = scale * p[r, j]
        g[r, lab] -= scale
    return bad


@njit(cache=True, nogil=True, error_model="numpy")
def bce_rows(y, p, lo, hi, out):
    """out[r] = mean_k −(y·log q + (1 − y)·log(1 − q)), q = clip(p, lo, hi)."""
    n, k = p.shape
    for r in range(n):
        acc = 0.0
        for j in range(k):
            q = min(max(p[r, j], lo), hi)
            t = y[r, j]
            acc -= t * math.log(q) + (1.0 - t) * math.log(1.0 - q)
        out[r] = acc / k


@njit(cache=True, nogil=True, error_model="numpy")
def bce_rows_grad(y, p, lo, hi, scale, g):
    """scale · d out[r] / d p[r,k] = scale·((1 − y)/(1 − p) − y/p)/K inside the clip range,
    else 0."""
    n, k = p.shape
    c = scale / k
    for r in range(n):
        for j in range(k):
            v = p[r, j]
            if lo <= v <= hi:
                t = y[r, j]
                g[r, j] = c * ((1.0 - t) / (1.0 - v) - t / v)
            else:
                g[r, j] = 0.0
