"""Reductions (Keras 3's ``keras.ops`` names): sum, mean, max/min, prod, std/var, logsumexp,
cumulative sums and products, argmax/argmin — each forward next to its vector-Jacobian product.

``axis`` is None (all axes), an int or a tuple of ints; ``keepdims`` keeps reduced axes as size 1.
The gradient of a reduction spreads the output gradient back over the reduced axes
(:func:`_expand`): equally for sum/mean, to the arg-max positions for max/min (shared equally
between ties, as JAX and TensorFlow do).
"""
from __future__ import annotations

import builtins

import numpy as np

from engine.ops.math_ops import _float
from engine.ops.tape import as_data, record


def _axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor of rank {ndim}")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _expand(g: np.ndarray, shape: tuple, axes: tuple, keepdims: bool) -> np.ndarray:
    """The reduced gradient ``g`` broadcast back to the input ``shape``."""
    if not keepdims:
        g = np.expand_dims(g, axes) if axes else g
    return np.broadcast_to(g, shape)


def _count(shape: tuple, axes: tuple) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def sum(x, axis=None, keepdims=False):
    """Sum over ``axis``."""
    xd = as_data(x)
    xd = np.asarray(xd)
    axes = _axes(axis, xd.ndim)
    y = np.sum(xd, axis=axes, keepdims=keepdims)
    return record(y, (x,), lambda g, need: (_expand(g, xd.shape, axes, keepdims),))


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis`` (integers are averaged in the engine's float dtype)."""
    xd = _float(as_data(x))
    axes = _axes(axis, xd.ndim)
    y = np.mean(xd, axis=axes, keepdims=keepdims)
    scale = xd.dtype.type(1.0 / builtins.max(_count(xd.shape, axes), 1))
    return record(y, (x,), lambda g, need: (_expand(g * scale, xd.shape, axes, keepdims),))


def _extreme(name: str, f):
    def op(x, axis=None, keepdims=False, initial=None):
        xd = np.asarray(as_data(x))
        axes = _axes(axis, xd.ndim)
        kw = {} if initial is None else {"initial": initial}
        y = f(xd, axis=axes, keepdims=keepdims, **kw)

        def vjp(g, need):
            yk = y if keepdims else np.expand_dims(y, axes)
            hit = (xd == yk)
            n = np.sum(hit, axis=axes, keepdims=True)
            share = hit / np.maximum(n, 1)
            return (_expand(g, xd.shape, axes, keepdims) * share.astype(g.dtype),)
        return record(y, (x,), vjp)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (f"{name.title()} over ``axis``; the gradient goes to the {name} entries "
                  f"(shared equally between ties).")
    return op


max = amax = _extreme("max", np.max)
min = amin = _extreme("min", np.min)


def prod(x, axis=None, keepdims=False, dtype=None):
    """Product over ``axis`` (gradient: the product of the other entries, zeros allowed)."""
    xd = np.asarray(as_data(x))
    if dtype is not None:
        xd = xd.astype(dtype)
    axes = _axes(axis, xd.ndim)
    y = np.prod(xd, axis=axes, keepdims=keepdims)

    def vjp(g, need):
        # ∂/∂xᵢ Πx = Π_{j≠i} xⱼ: move the reduced axes last, then exclusive cumulative products
        # from both sides, so that zeros need no division
        keep = [a for a in range(xd.ndim) if a not in axes]
        perm = keep + list(axes)
        xt = np.transpose(xd, perm).reshape([xd.shape[a] for a in keep] + [-1])
        ones = np.ones(xt.shape[:-1] + (1,), xt.dtype)
        left = np.cumprod(np.concatenate([ones, xt[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, xt[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = (left * right).reshape([xd.shape[a] for a in perm])
        others = np.transpose(others, np.argsort(perm))
        return (_expand(g, xd.shape, axes, keepdims) * others,)
    return record(y, (x,), vjp)


def var(x, axis=None, keepdims=False):
    """Population variance (ddof 0) over ``axis``."""
    from engine.ops.math_ops import square, subtract
    m = mean(x, axis=axis, keepdims=True)
    return mean(square(subtract(x, m)), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    """Population standard deviation over ``axis``."""
    from engine.ops.math_ops import sqrt
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def logsumexp(x, axis=None, keepdims=False):
    """log Σ eˣ over ``axis``, computed without overflow; gradient softmax(x)."""
    xd = _float(as_data(x))
    axes = _axes(axis, xd.ndim)
    m = np.max(xd, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(xd - m)
    s = np.sum(e, axis=axes, keepdims=True)
    yk = np.log(s) + m
    y = yk if keepdims else np.squeeze(yk, axis=axes)
    return record(y, (x,), lambda g, need: (_expand(g, xd.shape, axes, keepdims) * (e / s),))


def cumsum(x, axis=None, dtype=None):
    """Running sum along ``axis`` (None: over the flattened tensor)."""
    xd = np.asarray(as_data(x))
    if dtype is not None:
        xd = xd.astype(dtype)
    if axis is None:
        y = np.cumsum(xd.reshape(-1))
        return record(y, (x,), lambda g, need: (np.cumsum(g[::-1])[::-1].reshape(xd.shape),))
    y = np.cumsum(xd, axis=axis)
    return record(y, (x,), lambda g, need: (np.flip(np.cumsum(np.flip(g, axis), axis=axis),
                                                    axis),))


def cumprod(x, axis=None, dtype=None):
    """Running product along ``axis`` (gradient for nonzero inputs)."""
    xd = np.asarray(as_data(x))
    if dtype is not None:
        xd = xd.astype(dtype)
    flat = axis is None
    xa = xd.reshape(-1) if flat else xd
    ax = 0 if flat else axis
    y = np.cumprod(xa, axis=ax)

    def vjp(g, need):
        # ∂/∂xᵢ Σ_k g_k·y_k = Σ_{k≥i} g_k·y_k / xᵢ
        acc = np.flip(np.cumsum(np.flip(g * y, ax), axis=ax), ax)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = acc / xa
        return (d.reshape(xd.shape),)
    return record(y, (x,), vjp)


def average(x, axis=None, weights=None):
    """Weighted mean over ``axis`` (``weights`` 1-D along ``axis`` or of x's shape)."""
    from engine.ops.math_ops import divide, multiply
    from engine.ops.shape_ops import reshape
    if weights is None:
        return mean(x, axis=axis)
    xd, wd = np.asarray(as_data(x)), np.asarray(as_data(weights))
    if wd.ndim == 1 and xd.ndim > 1 and axis is not None:
        shape = [1] * xd.ndim
        shape[int(axis) % xd.ndim] = wd.shape[0]
        weights = reshape(weights, shape)
    return divide(sum(multiply(x, weights), axis=axis),
                  sum(multiply(np.ones_like(xd), weights), axis=axis))


# ------------------------------------------------------------------ no gradient
def argmax(x, axis=None, keepdims=False):
    """Index of the largest entry along ``axis`` (None: of the flattened tensor)."""
    return np.argmax(as_data(x), axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims=False):
    """Index of the smallest entry along ``axis``."""
    return np.argmin(as_data(x), axis=axis, keepdims=keepdims)


def all(x, axis=None, keepdims=False):
    return np.all(as_data(x), axis=axis, keepdims=keepdims)


def any(x, axis=None, keepdims=False):
    return np.any(as_data(x), axis=axis, keepdims=keepdims)


def count_nonzero(x, axis=None):
    return np.count_nonzero(as_data(x), axis=axis)


def argsort(x, axis=-1):
    return np.argsort(as_data(x), axis=axis, kind="stable")
