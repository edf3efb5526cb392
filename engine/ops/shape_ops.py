"""Shape, joining and indexing ops (Keras 3's ``keras.ops`` names): reshape, transpose, expand_dims,
squeeze, concatenate, stack, split, tile, repeat, pad, flip, roll, take, take_along_axis, indexing
``x[...]`` — each forward next to its vector-Jacobian product (which moves the gradient back to
where each value came from; gathered values add up where an index repeats).
"""
from __future__ import annotations

import builtins

import numpy as np

from engine.ops.tape import Tensor, as_data, record, record_multi


def _arr(x) -> np.ndarray:
    return np.asarray(as_data(x))


def reshape(x, newshape):
    """``x`` with shape ``newshape`` (one size may be -1)."""
    xd = _arr(x)
    shape = tuple(-1 if d is None else int(d) for d in
                  (newshape if isinstance(newshape, (tuple, list)) else (newshape,)))
    y = xd.reshape(shape)
    return record(y, (x,), lambda g, need: (g.reshape(xd.shape),))


def transpose(x, axes=None):
    """Permute the axes (default: reverse them)."""
    xd = _arr(x)
    perm = tuple(range(xd.ndim))[::-1] if axes is None else tuple(int(a) % xd.ndim for a in axes)
    y = np.transpose(xd, perm)
    return record(y, (x,), lambda g, need: (np.transpose(g, np.argsort(perm)),))


def moveaxis(x, source, destination):
    xd = _arr(x)
    y = np.moveaxis(xd, source, destination)
    return record(y, (x,), lambda g, need: (np.moveaxis(g, destination, source),))


def swapaxes(x, axis1, axis2):
    xd = _arr(x)
    y = np.swapaxes(xd, axis1, axis2)
    return record(y, (x,), lambda g, need: (np.swapaxes(g, axis1, axis2),))


def expand_dims(x, axis):
    """Insert size-1 axes at ``axis`` (int or tuple)."""
    xd = _arr(x)
    y = np.expand_dims(xd, axis)
    return record(y, (x,), lambda g, need: (g.reshape(xd.shape),))


def squeeze(x, axis=None):
    """Remove size-1 axes (all of them, or those in ``axis``)."""
    xd = _arr(x)
    y = np.squeeze(xd, axis=axis)
    return record(y, (x,), lambda g, need: (g.reshape(xd.shape),))


def ravel(x):
    """The tensor as one axis."""
    return reshape(x, (-1,))


def flatten(x):
    return reshape(x, (-1,))


def broadcast_to(x, shape):
    """``x`` stretched to ``shape`` by broadcasting (gradient summed back)."""
    from engine.ops.tape import unbroadcast
    xd = _arr(x)
    y = np.broadcast_to(xd, tuple(shape)).copy()
    return record(y, (x,), lambda g, need: (unbroadcast(g, xd.shape),))


def copy(x):
    xd = _arr(x)
    return record(xd.copy(), (x,), lambda g, need: (g,))


def concatenate(xs, axis=0):
    """Join tensors along an existing ``axis``."""
    xs = list(xs)
    ds = [_arr(x) for x in xs]
    y = np.concatenate(ds, axis=axis)
    cuts = np.cumsum([d.shape[axis] for d in ds])[:-1]
    return record(y, xs, lambda g, need: tuple(np.split(g, cuts, axis=axis)))


def append(x1, x2, axis=None):
    if axis is None:
        return concatenate([ravel(x1), ravel(x2)], axis=0)
    return concatenate([x1, x2], axis=axis)


def stack(x, axis=0):
    """Join tensors along a new ``axis``."""
    xs = list(x)
    ds = [_arr(t) for t in xs]
    y = np.stack(ds, axis=axis)
    return record(y, xs, lambda g, need: tuple(np.moveaxis(g, axis, 0)))


def hstack(xs):
    xs = list(xs)
    return concatenate(xs, axis=0 if _arr(xs[0]).ndim == 1 else 1)


def vstack(xs):
    xs = [x if _arr(x).ndim > 1 else reshape(x, (1, -1)) for x in xs]
    return concatenate(xs, axis=0)


def split(x, indices_or_sections, axis=0):
    """Split into equal sections (an int) or at the given indices."""
    xd = _arr(x)
    parts = np.split(xd, indices_or_sections, axis=axis)

    def vjp(gs, need):
        full = [np.zeros(p.shape, xd.dtype) if g is None else g for g, p in zip(gs, parts)]
        return (np.concatenate(full, axis=axis),)
    return record_multi(parts, (x,), vjp)


def array_split(x, indices_or_sections, axis=0):
    xd = _arr(x)
    parts = np.array_split(xd, indices_or_sections, axis=axis)

    def vjp(gs, need):
        full = [np.zeros(p.shape, xd.dtype) if g is None else g for g, p in zip(gs, parts)]
        return (np.concatenate(full, axis=axis),)
    return record_multi(parts, (x,), vjp)


def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis``, as a list."""
    xd = _arr(x)
    n = xd.shape[axis]
    if num is not None and num != n:
        raise ValueError(f"unstack: num={num} but axis {axis} has size {n}")
    parts = [np.take(xd, i, axis=axis) for i in range(n)]

    def vjp(gs, need):
        full = [np.zeros(p.shape, xd.dtype) if g is None else g for g, p in zip(gs, parts)]
        return (np.stack(full, axis=axis),)
    return record_multi(parts, (x,), vjp)


def tile(x, repeats):
    """Repeat the whole tensor ``repeats`` times along each axis."""
    xd = _arr(x)
    reps = tuple(repeats) if isinstance(repeats, (tuple, list)) else (int(repeats),)
    y = np.tile(xd, reps)

    def vjp(g, need):
        nd = y.ndim
        shape = (1,) * (nd - xd.ndim) + xd.shape
        reps_full = (1,) * (nd - len(reps)) + reps
        # each output axis k is (reps_k, size_k): split it and sum over the repeats
        g2 = g.reshape([d for r, s in zip(reps_full, shape) for d in (r, s)])
        g2 = g2.sum(axis=tuple(range(0, 2 * nd, 2)))
        return (g2.reshape(xd.shape),)
    return record(y, (x,), vjp)


def repeat(x, repeats, axis=None):
    """Repeat each element ``repeats`` times (an int or one count per element) along ``axis``."""
    xd = _arr(x)
    rep = np.asarray(as_data(repeats))
    y = np.repeat(xd, rep, axis=axis)

    def vjp(g, need):
        src = xd.reshape(-1) if axis is None else xd
        ax = 0 if axis is None else axis % xd.ndim
        n = src.shape[ax]
        counts = np.broadcast_to(rep, (n,))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        gs = np.add.reduceat(g, starts, axis=ax) if g.shape[ax] else np.zeros(src.shape, g.dtype)
        gs = np.where(np.expand_dims(counts, tuple(i for i in range(src.ndim) if i != ax)) > 0,
                      gs, 0) if (counts == 0).any() else gs
        return (gs.reshape(xd.shape),)
    return record(y, (x,), vjp)


def flip(x, axis=None):
    xd = _arr(x)
    y = np.flip(xd, axis=axis)
    return record(y, (x,), lambda g, need: (np.flip(g, axis=axis),))


def roll(x, shift, axis=None):
    xd = _arr(x)
    y = np.roll(xd, shift, axis=axis)
    neg = tuple(-s for s in shift) if isinstance(shift, (tuple, list)) else -shift
    return record(y, (x,), lambda g, need: (np.roll(g, neg, axis=axis),))


def pad(x, pad_width, mode="constant", constant_values=None):
    """Pad with ``pad_width`` = ((before, after), ...) per axis (gradient: the inner part)."""
    xd = _arr(x)
    kw = {} if constant_values is None or mode != "constant" else \
        {"constant_values": constant_values}
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (xd.ndim, 2))
    y = np.pad(xd, widths, mode=mode, **kw)
    if mode != "constant":
        def vjp_general(g, need):
            # reflect/symmetric/edge: pull the gradient of each output back through the padding
            idx = np.pad(np.arange(xd.size).reshape(xd.shape), widths, mode=mode)
            out = np.zeros(xd.size, g.dtype)
            np.add.at(out, idx.reshape(-1), g.reshape(-1))
            return (out.reshape(xd.shape),)
        return record(y, (x,), vjp_general)
    inner = tuple(builtins.slice(int(b), int(b) + n) for (b, _), n in zip(widths, xd.shape))
    return record(y, (x,), lambda g, need: (g[inner],))


# ------------------------------------------------------------------ indexing
def _index_data(key):
    """An indexing key with Tensors/Weights replaced by their data."""
    if isinstance(key, tuple):
        return tuple(_index_data(k) for k in key)
    if isinstance(key, list):
        return np.asarray([as_data(k) for k in key])
    if isinstance(key, Tensor) or getattr(key, "_is_weight", False):
        return as_data(key)
    return key


def _basic(key) -> bool:
    """Only ints, slices, None and Ellipsis: numpy returns a view, each element once."""
    keys = key if isinstance(key, tuple) else (key,)
    return builtins.all(isinstance(k, (int, np.integer, builtins.slice, type(None),
                                       type(Ellipsis))) and not isinstance(k, bool) for k in keys)


def get_item(x, key):
    """``x[key]`` with numpy's rules (ints, slices, None, Ellipsis, integer and boolean arrays)."""
    xd = _arr(x)
    k = _index_data(key)
    y = xd[k]
    basic = _basic(k)

    def vjp(g, need):
        out = np.zeros(xd.shape, g.dtype)
        if basic:
            out[k] = g
        else:
            np.add.at(out, k, g)
        return (out,)
    return record(np.array(y) if basic else y, (x,), vjp)


def slice(inputs, start_indices, shape):
    """The block of ``shape`` starting at ``start_indices`` (``keras.ops.slice``)."""
    starts = [int(s) for s in as_data(start_indices)]
    key = tuple(builtins.slice(s, s + int(n)) for s, n in zip(starts, shape))
    return get_item(inputs, key)


def take(x, indices, axis=None):
    """Gather entries (axis None: of the flattened tensor) at integer ``indices``."""
    xd = _arr(x)
    idx = np.asarray(as_data(indices)).astype(np.int64, copy=False)
    src = xd.reshape(-1) if axis is None else xd
    ax = 0 if axis is None else axis % xd.ndim
    idx = np.where(idx < 0, idx + src.shape[ax], idx)
    y = np.take(src, idx, axis=ax)

    def vjp(g, need):
        out = np.zeros(src.shape, g.dtype)
        moved = np.moveaxis(out, ax, 0)
        gm = g.reshape(src.shape[:ax] + (idx.size,) + src.shape[ax + 1:])
        np.add.at(moved, idx.reshape(-1), np.moveaxis(gm, ax, 0))
        return (out.reshape(xd.shape), None)
    return record(y, (x, indices), vjp)


def take_along_axis(x, indices, axis=None):
    """``np.take_along_axis``: pick one entry per position along ``axis`` (both broadcast on
    the other axes)."""
    xd = _arr(x)
    idx = np.asarray(as_data(indices)).astype(np.int64, copy=False)
    src = xd.reshape(-1) if axis is None else xd
    ax = 0 if axis is None else axis % src.ndim
    y = np.take_along_axis(src, idx, axis=ax)

    def vjp(g, need):
        out = np.zeros(src.shape, g.dtype)
        grid = [np.minimum(i, n - 1) for i, n in zip(np.indices(y.shape, sparse=True), src.shape)]
        grid[ax] = np.broadcast_to(idx, y.shape)
        np.add.at(out, tuple(grid), g)
        return (out.reshape(xd.shape), None)
    return record(y, (x, indices), vjp)


def diagonal(x, offset=0, axis1=0, axis2=1):
    xd = _arr(x)
    y = np.diagonal(xd, offset, axis1, axis2).copy()

    def vjp(g, need):
        out = np.zeros(xd.shape, g.dtype)
        view = np.diagonal(out, offset, axis1, axis2)
        view.flags.writeable = True  # numpy returns a read-only view; it is ours to fill
        view[...] = g
        return (out,)
    return record(y, (x,), vjp)


def trace(x, offset=0, axis1=0, axis2=1):
    from engine.ops.reductions import sum
    return sum(diagonal(x, offset, axis1, axis2), axis=-1)


def _tri_mask(xd, k, lower: bool):
    n, m = xd.shape[-2:]
    mask = np.tri(n, m, k, dtype=bool)
    return mask if lower else ~np.tri(n, m, k - 1, dtype=bool)


def tril(x, k=0):
    xd = _arr(x)
    mask = _tri_mask(xd, k, True)
    return record(np.where(mask, xd, 0).astype(xd.dtype), (x,),
                  lambda g, need: (np.where(mask, g, 0).astype(g.dtype),))


def triu(x, k=0):
    xd = _arr(x)
    mask = _tri_mask(xd, k, False)
    return record(np.where(mask, xd, 0).astype(xd.dtype), (x,),
                  lambda g, need: (np.where(mask, g, 0).astype(g.dtype),))


def sort(x, axis=-1):
    """Sorted along ``axis``; the gradient follows each value back to where it came from."""
    xd = _arr(x)
    order = np.argsort(xd, axis=axis, kind="stable")
    return take_along_axis(x, order, axis=axis)


def diag(x, k=0):
    xd = _arr(x)
    if xd.ndim == 1:
        y = np.diag(xd, k)
        return record(y, (x,), lambda g, need: (np.diagonal(g, k).copy(),))
    return diagonal(x, offset=k)
