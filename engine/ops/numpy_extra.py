"""The rest of Keras 3's numpy-like ops: the less common elementwise functions, statistics
(median, quantile, percentile, ptp, nan-aware reductions), differences and products (diff, cross,
kron, trapezoid), more ways to stack, split and flip, and the integer/set helpers (bincount,
unique, searchsorted, digitize, isin, nonzero ...). Differentiable ones are compositions of the
core ops (or carry their own VJP), so the tape differentiates them."""
from __future__ import annotations

import numpy as np

from engine.ops import math_ops as m
from engine.ops import reductions as r
from engine.ops import shape_ops as s
from engine.ops.math_ops import _binary, _float, _unary
from engine.ops.tape import as_data, record


def _arr(x) -> np.ndarray:
    return np.asarray(as_data(x))


# ------------------------------------------------------------------ elementwise
cbrt = _unary("cbrt", np.cbrt, lambda x, y, g: g / (3 * y * y), "Cube root.")
deg2rad = _unary("deg2rad", np.deg2rad, lambda x, y, g: g * x.dtype.type(np.pi / 180),
                 "Degrees to radians.")
rad2deg = _unary("rad2deg", np.rad2deg, lambda x, y, g: g * x.dtype.type(180 / np.pi),
                 "Radians to degrees.")
fmod = _binary("fmod", np.fmod, lambda a, b, y, g: g, lambda a, b, y, g: -g * np.trunc(a / b),
               "Remainder with the sign of x1 (C's fmod).")
logaddexp2 = _binary("logaddexp2", np.logaddexp2, lambda a, b, y, g: g * np.exp2(a - y),
                     lambda a, b, y, g: g * np.exp2(b - y), "log₂(2ˣ¹ + 2ˣ²).")


def sinc(x):
    """sin(πx)/(πx), 1 at 0."""
    xd = _float(as_data(x))
    y = np.sinc(xd)

    def vjp(g, need):
        px = np.pi * xd
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(xd == 0, 0.0, (np.cos(px) * px - np.sin(px)) / (px * xd))
        return (g * d.astype(xd.dtype),)
    return record(y, (x,), vjp)


def heaviside(x1, x2):
    """0 for x1 < 0, x2 at 0, 1 above (no gradient)."""
    return np.heaviside(as_data(x1), as_data(x2))


def ldexp(x1, x2):
    """x1 · 2^x2 (gradient in x1)."""
    return m.multiply(x1, np.exp2(np.asarray(as_data(x2), dtype=np.float64)).astype(
        _float(as_data(x1)).dtype))


# ------------------------------------------------------------------ statistics
def ptp(x, axis=None, keepdims=False):
    """max − min over ``axis``."""
    return m.subtract(r.max(x, axis=axis, keepdims=keepdims), r.min(x, axis=axis,
                                                                     keepdims=keepdims))


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The q-th quantile(s) (q in [0, 1]) with linear interpolation between sorted values."""
    if method != "linear":
        raise ValueError(f"quantile: method={method!r} is not supported; use 'linear'")
    xd = _arr(x)
    if axis is None:
        x, xd, ax = s.reshape(x, (-1,)), xd.reshape(-1), 0
    else:
        ax = int(axis) % xd.ndim
    qs = np.atleast_1d(np.asarray(as_data(q), dtype=np.float64))
    srt = s.sort(x, axis=ax)
    n = xd.shape[ax]
    pos = qs * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = (pos - lo).astype(xd.dtype if xd.dtype.kind == "f" else np.float32)
    outs = []
    for k in range(len(qs)):
        a = s.take(srt, np.array([lo[k]]), axis=ax)
        b = s.take(srt, np.array([hi[k]]), axis=ax)
        outs.append(m.add(a, m.multiply(m.subtract(b, a), frac[k])))
    out = s.concatenate(outs, axis=ax) if len(outs) > 1 else outs[0]
    if not keepdims:
        out = s.squeeze(out, axis=ax) if len(outs) == 1 else s.moveaxis(out, ax, 0)
    if np.ndim(as_data(q)) == 0 and keepdims and axis is None:
        out = s.reshape(out, (1,) * np.ndim(xd))
    return out


def percentile(x, q, axis=None, method="linear", keepdims=False):
    return quantile(x, m.divide(np.asarray(as_data(q), dtype=np.float64), 100.0), axis=axis,
                    method=method, keepdims=keepdims)


def median(x, axis=None, keepdims=False):
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


def _nan_filled(x, value):
    xd = _arr(x)
    return m.where(np.isnan(xd), value, x), ~np.isnan(xd)


def nansum(x, axis=None, keepdims=False):
    return r.sum(_nan_filled(x, 0.0)[0], axis=axis, keepdims=keepdims)


def nanmean(x, axis=None, keepdims=False):
    filled, ok = _nan_filled(x, 0.0)
    count = np.sum(ok, axis=axis, keepdims=keepdims)
    return m.divide(r.sum(filled, axis=axis, keepdims=keepdims), np.maximum(count, 1))


def nanmax(x, axis=None, keepdims=False):
    return r.max(_nan_filled(x, -np.inf)[0], axis=axis, keepdims=keepdims)


def nanmin(x, axis=None, keepdims=False):
    return r.min(_nan_filled(x, np.inf)[0], axis=axis, keepdims=keepdims)


def nanprod(x, axis=None, keepdims=False):
    return r.prod(_nan_filled(x, 1.0)[0], axis=axis, keepdims=keepdims)


def nanvar(x, axis=None, keepdims=False):
    mean = nanmean(x, axis=axis, keepdims=True)
    return nanmean(m.square(m.subtract(x, mean)), axis=axis, keepdims=keepdims)


def nanstd(x, axis=None, keepdims=False):
    return m.sqrt(nanvar(x, axis=axis, keepdims=keepdims))


def corrcoef(x):
    """Pearson correlation of the rows of ``x``."""
    from engine.ops.products import matmul
    c = m.subtract(x, r.mean(x, axis=1, keepdims=True))
    cov = matmul(c, s.transpose(c))
    d = m.sqrt(s.diagonal(cov))
    return m.divide(m.divide(cov, s.expand_dims(d, 1)), s.expand_dims(d, 0))


# ------------------------------------------------------------------ differences and products
def diff(a, n=1, axis=-1):
    """n-th discrete difference along ``axis``."""
    for _ in range(int(n)):
        k = _arr(a).shape[axis]
        a = m.subtract(s.take(a, np.arange(1, k), axis=axis), s.take(a, np.arange(0, k - 1),
                                                                      axis=axis))
    return a


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """Integral by the trapezoidal rule along ``axis``."""
    k = _arr(y).shape[axis]
    mid = m.divide(m.add(s.take(y, np.arange(1, k), axis=axis),
                         s.take(y, np.arange(0, k - 1), axis=axis)), 2.0)
    if x is None:
        return m.multiply(r.sum(mid, axis=axis), dx)
    return r.sum(m.multiply(mid, diff(x, axis=axis)), axis=axis)


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross product of 3-vectors along the last axis."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a = s.moveaxis(x1, axisa, -1)
    b = s.moveaxis(x2, axisb, -1)
    a0, a1, a2 = (a[..., i] for i in range(3))
    b0, b1, b2 = (b[..., i] for i in range(3))
    c = s.stack([m.subtract(m.multiply(a1, b2), m.multiply(a2, b1)),
                 m.subtract(m.multiply(a2, b0), m.multiply(a0, b2)),
                 m.subtract(m.multiply(a0, b1), m.multiply(a1, b0))], axis=-1)
    return s.moveaxis(c, -1, axisc)


def kron(x1, x2):
    """Kronecker product of two matrices (or vectors)."""
    a, b = _arr(x1), _arr(x2)
    a2 = x1 if a.ndim == 2 else s.reshape(x1, (1, -1))
    b2 = x2 if b.ndim == 2 else s.reshape(x2, (1, -1))
    ad, bd = _arr(a2), _arr(b2)
    out = m.multiply(s.reshape(a2, (ad.shape[0], 1, ad.shape[1], 1)),
                     s.reshape(b2, (1, bd.shape[0], 1, bd.shape[1])))
    out = s.reshape(out, (ad.shape[0] * bd.shape[0], ad.shape[1] * bd.shape[1]))
    return s.reshape(out, (-1,)) if a.ndim == 1 and b.ndim == 1 else out


# ------------------------------------------------------------------ stacking, splitting, flips
def dstack(xs):
    xs = [x if _arr(x).ndim == 3 else s.reshape(x, (1,) + _arr(x).shape[-1:] + (1,))
          if _arr(x).ndim == 1 else s.expand_dims(x, -1) for x in xs]
    return s.concatenate(xs, axis=2)


def column_stack(xs):
    return s.concatenate([x if _arr(x).ndim > 1 else s.reshape(x, (-1, 1)) for x in xs],
                         axis=1)


def hsplit(x, indices_or_sections):
    return s.split(x, indices_or_sections, axis=1 if _arr(x).ndim > 1 else 0)


def vsplit(x, indices_or_sections):
    return s.split(x, indices_or_sections, axis=0)


def dsplit(x, indices_or_sections):
    return s.split(x, indices_or_sections, axis=2)


def fliplr(x):
    return s.flip(x, axis=1)


def flipud(x):
    return s.flip(x, axis=0)


def rot90(array, k=1, axes=(0, 1)):
    """Rotate by 90° k times in the plane of ``axes``."""
    k = int(k) % 4
    a0, a1 = axes
    for _ in range(k):
        array = s.swapaxes(s.flip(array, axis=a1), a0, a1)
    return array


def select(condlist, choicelist, default=0):
    """Elements of the first choice whose condition holds (``np.select``)."""
    out = default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = m.where(cond, choice, out)
    return out


# ------------------------------------------------------------------ integers and sets (no grad)
def bincount(x, weights=None, minlength=0, sparse=False):
    xd = _arr(x).astype(np.int64)
    w = None if weights is None else _arr(weights)
    if xd.ndim == 2:
        n = max(int(xd.max(initial=-1)) + 1, int(minlength))
        return np.stack([np.bincount(row, None if w is None else w[i], n)
                         for i, row in enumerate(xd)])
    return np.bincount(xd, w, int(minlength))


def nonzero(x):
    return np.nonzero(as_data(x))


def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False,
           axis=None, size=None, fill_value=None):
    return np.unique(as_data(x), return_index=return_index, return_inverse=return_inverse,
                     return_counts=return_counts, axis=axis)


def searchsorted(sorted_sequence, values, side="left"):
    return np.searchsorted(as_data(sorted_sequence), as_data(values), side=side)


def digitize(x, bins):
    return np.digitize(as_data(x), as_data(bins))


def isin(x1, x2, assume_unique=False, invert=False):
    return np.isin(as_data(x1), as_data(x2), assume_unique=assume_unique, invert=invert)


def histogram(x, bins=10, range=None):
    return np.histogram(as_data(x), bins=bins, range=range)


def argpartition(x, kth, axis=-1):
    return np.argpartition(as_data(x), kth, axis=axis)


def unravel_index(indices, shape):
    return np.unravel_index(as_data(indices), shape)


def vander(x, N=None, increasing=False):
    return np.vander(as_data(x), N, increasing)


def correlate(x1, x2, mode="valid"):
    """Cross-correlation of two 1-D tensors (differentiable in both; x1 the longer)."""
    a, b = _arr(x1), _arr(x2)
    y = np.correlate(a, b, mode=mode)

    def vjp(g, need):
        # y = (a ∗ w)[offset:], w = b reversed: da = corr(g_full, w), dw = corr(g_full, a)
        n, k = len(a), len(b)
        g_full = np.zeros(n + k - 1, g.dtype)
        off = (len(g_full) - len(y)) // 2
        g_full[off:off + len(y)] = g
        da = np.correlate(g_full, b[::-1], mode="valid") if need[0] else None
        db = np.correlate(g_full, a, mode="valid")[::-1] if need[1] else None
        return (da, db)
    return record(y, (x1, x2), vjp)


# ------------------------------------------------------------------ keras.ops.math
def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """Sum of the rows of ``data`` that share a segment id (gradient: each row gets its
    segment's)."""
    ids = np.asarray(as_data(segment_ids)).astype(np.int64)
    n = int(num_segments) if num_segments is not None else int(ids.max(initial=-1)) + 1
    from engine.ops.core import scatter
    shape = (n,) + _arr(data).shape[1:]
    return scatter(ids[:, None], data, shape)


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    """Largest row per segment (empty segments: the dtype's lowest value)."""
    dd = _arr(data)
    ids = np.asarray(as_data(segment_ids)).astype(np.int64)
    n = int(num_segments) if num_segments is not None else int(ids.max(initial=-1)) + 1
    low = np.finfo(dd.dtype).min if dd.dtype.kind == "f" else np.iinfo(dd.dtype).min
    y = np.full((n,) + dd.shape[1:], low, dd.dtype)
    np.maximum.at(y, ids, dd)

    def vjp(g, need):
        hit = dd == y[ids]
        count = np.zeros(y.shape, np.float64)
        np.add.at(count, ids, hit)
        return ((g[ids] * hit / np.maximum(count[ids], 1)).astype(g.dtype), None)
    return record(y, (data, segment_ids), vjp)


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of ``sequence_length`` every ``sequence_stride`` along the last axis:
    (..., n) → (..., frames, sequence_length)."""
    xd = _arr(x)
    n = xd.shape[-1]
    starts = np.arange(0, n - int(sequence_length) + 1, int(sequence_stride))
    idx = starts[:, None] + np.arange(int(sequence_length))[None, :]
    return s.take(x, idx, axis=-1)
