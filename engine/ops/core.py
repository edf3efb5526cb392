"""Core ops (Keras 3's ``keras.ops`` names): conversion, shape and dtype, ``cast``,
``stop_gradient``, ``slice_update``/``scatter``, control flow run eagerly (``cond``,
``while_loop``, ``fori_loop``, ``scan``, ``map``) and ``custom_gradient``.

Control flow runs as plain Python here: the ops inside the branches and loop bodies record on
the tape like any others, so gradients flow through them.
"""
from __future__ import annotations

import numpy as np

from engine import backend
from engine.ops.tape import Tensor, active_tape, as_data, paused, record


def _dtype(dtype):
    return np.dtype(getattr(dtype, "name", dtype))


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` as a tensor: arrays as they are (float lists in the engine's float dtype); a
    weight while a tape records becomes its traced leaf, so gradients reach it."""
    tape = active_tape()
    if getattr(x, "_is_weight", False):
        x = tape.weight_leaf(x) if tape is not None and tape.slot_of(x) >= 0 else x.value
    if isinstance(x, Tensor):
        return x if dtype is None else cast(x, dtype)
    a = np.asarray(as_data(x))
    if dtype is not None:
        return a.astype(_dtype(dtype), copy=False)
    if a.dtype == np.float64 and not isinstance(x, np.ndarray):
        return a.astype(backend.floatx())
    return a


def convert_to_numpy(x):
    """The value of ``x`` as a numpy array (no gradient)."""
    return np.array(as_data(x))


def is_tensor(x) -> bool:
    return isinstance(x, (Tensor, np.ndarray))


def shape(x) -> tuple:
    """The shape of ``x`` as a tuple of ints."""
    return tuple(np.shape(as_data(x)))


def dtype(x) -> str:
    return np.asarray(as_data(x)).dtype.name


def size(x) -> int:
    return int(np.size(as_data(x)))


def ndim(x) -> int:
    return int(np.ndim(as_data(x)))


def cast(x, dtype):
    """``x`` converted to ``dtype``; float-to-float casts pass the gradient (cast back)."""
    xd = np.asarray(as_data(x))
    dt = _dtype(dtype)
    y = xd.astype(dt)
    if dt.kind != "f" or xd.dtype.kind != "f":
        return y
    return record(y, (x,), lambda g, need: (g.astype(xd.dtype),))


def saturate_cast(x, dtype):
    dt = _dtype(dtype)
    xd = np.asarray(as_data(x))
    if dt.kind in "iu":
        info = np.iinfo(dt)
        xd = np.clip(xd, info.min, info.max)
    return xd.astype(dt)


def stop_gradient(variable):
    """The value of ``variable`` as a constant: no gradient flows back through it."""
    return np.array(as_data(variable))


def slice_update(inputs, start_indices, updates):
    """``inputs`` with the block at ``start_indices`` replaced by ``updates``."""
    xd = np.asarray(as_data(inputs))
    ud = np.asarray(as_data(updates))
    key = tuple(slice(int(s), int(s) + n) for s, n in zip(as_data(start_indices), ud.shape))
    y = xd.copy()
    y[key] = ud

    def vjp(g, need):
        gx = g.copy()
        gx[key] = 0
        return (gx, None, g[key].copy())
    return record(y, (inputs, start_indices, updates), vjp)


def scatter(indices, values, shape):
    """A zero tensor of ``shape`` with ``values`` added at ``indices`` (…, index depth)."""
    idx = np.asarray(as_data(indices)).astype(np.int64)
    vd = np.asarray(as_data(values))
    y = np.zeros(tuple(int(s) for s in shape), vd.dtype if vd.dtype.kind == "f"
                 else backend.floatx())
    key = tuple(np.moveaxis(idx, -1, 0))
    np.add.at(y, key, vd)
    return record(y, (indices, values), lambda g, need: (None, g[key]))


def scatter_update(inputs, indices, updates, reduction=None):
    """``inputs`` with the entries at ``indices`` replaced by ``updates`` (or combined with
    ``reduction`` 'add')."""
    xd = np.asarray(as_data(inputs))
    idx = np.asarray(as_data(indices)).astype(np.int64)
    ud = np.asarray(as_data(updates))
    key = tuple(np.moveaxis(idx, -1, 0))
    y = xd.copy()
    if reduction in (None, "none"):
        y[key] = ud
    elif reduction == "add":
        np.add.at(y, key, ud)
    else:
        raise ValueError(f"scatter_update: reduction={reduction!r} is not supported; use None or "
                         f"'add'")

    def vjp(g, need):
        gx = g.copy()
        if reduction in (None, "none"):
            gx[key] = 0
        return (gx, None, g[key])
    return record(y, (inputs, indices, updates), vjp)


# ------------------------------------------------------------------ control flow (eager)
def cond(pred, true_fn, false_fn):
    return true_fn() if bool(as_data(pred)) else false_fn()


def switch(index, branches, *operands):
    i = int(np.clip(int(as_data(index)), 0, len(branches) - 1))
    return branches[i](*operands)


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Run ``body`` while ``cond`` holds; ``loop_vars`` a tuple/list (or one value)."""
    single = not isinstance(loop_vars, (tuple, list))
    state = (loop_vars,) if single else tuple(loop_vars)
    n = 0
    while bool(as_data(cond(*state))):
        if maximum_iterations is not None and n >= maximum_iterations:
            break
        out = body(*state)
        state = (out,) if single else tuple(out)
        n += 1
    return state[0] if single else (type(loop_vars)(state) if isinstance(loop_vars, list)
                                    else state)


def fori_loop(lower, upper, body_fun, init_val):
    val = init_val
    for i in range(int(as_data(lower)), int(as_data(upper))):
        val = body_fun(i, val)
    return val


def map(f, xs):
    """``f`` applied to each slice of ``xs`` along axis 0, results stacked."""
    from engine.ops.shape_ops import stack, unstack
    return stack([f(x) for x in unstack(xs)])


def vectorized_map(function, elements):
    return map(function, elements)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """carry, y = f(carry, x) over the slices of ``xs``; returns (carry, stacked ys)."""
    from engine.ops.shape_ops import stack, unstack
    items = unstack(xs) if xs is not None else [None] * int(length)
    if reverse:
        items = items[::-1]
    carry, ys = init, []
    for x in items:
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys = ys[::-1]
    return carry, (stack(ys) if ys and ys[0] is not None else None)


def associative_scan(f, elems, reverse=False, axis=0):
    from engine.ops.shape_ops import stack, unstack
    items = unstack(elems, axis=axis)
    if reverse:
        items = items[::-1]
    out = [items[0]]
    for x in items[1:]:
        out.append(f(out[-1], x))
    if reverse:
        out = out[::-1]
    return stack(out, axis=axis)


def custom_gradient(f):
    """Decorator: ``f(*args)`` returns ``(y, grad_fn)``; backward calls ``grad_fn(upstream)``
    and uses its result(s) as the gradients of ``args``."""

    def wrapped(*args):
        with paused():
            y, grad_fn = f(*[as_data(a) for a in args])

        def vjp(g, need):
            grads = grad_fn(g)
            grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
            return tuple(None if gr is None else np.asarray(as_data(gr)) for gr in grads)
        return record(np.asarray(as_data(y)), args, vjp)

    wrapped.__name__ = getattr(f, "__name__", "custom_gradient")
    wrapped.__doc__ = f.__doc__
    return wrapped
