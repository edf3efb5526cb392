"""Tensors made from nothing or from a shape (Keras 3's ``keras.ops`` names): zeros, ones, full,
the ``*_like`` forms, arange, linspace, eye, tri ... Constants: no gradient flows into them.
Floats are made in the engine's float dtype unless ``dtype`` says otherwise, as in Keras."""
from __future__ import annotations

import numpy as np

from engine import backend
from engine.ops.tape import as_data


def _dtype(dtype, default=None):
    if dtype is None:
        return default if default is not None else backend.floatx()
    return np.dtype(getattr(dtype, "name", dtype))


def _shape(shape) -> tuple:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in as_data(shape)) if not isinstance(shape, tuple) else \
        tuple(int(d) for d in shape)


def zeros(shape, dtype=None):
    return np.zeros(_shape(shape), _dtype(dtype))


def ones(shape, dtype=None):
    return np.ones(_shape(shape), _dtype(dtype))


def empty(shape, dtype=None):
    return np.zeros(_shape(shape), _dtype(dtype))


def full(shape, fill_value, dtype=None):
    value = as_data(fill_value)
    default = None if isinstance(value, float) or np.asarray(value).dtype.kind == "f" else \
        np.asarray(value).dtype
    return np.full(_shape(shape), value, _dtype(dtype, default))


def _like_dtype(x, dtype):
    return _dtype(dtype, np.asarray(as_data(x)).dtype)


def zeros_like(x, dtype=None):
    return np.zeros(np.shape(as_data(x)), _like_dtype(x, dtype))


def ones_like(x, dtype=None):
    return np.ones(np.shape(as_data(x)), _like_dtype(x, dtype))


def empty_like(x, dtype=None):
    return zeros_like(x, dtype)


def full_like(x, fill_value, dtype=None):
    return np.full(np.shape(as_data(x)), as_data(fill_value), _like_dtype(x, dtype))


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in [start, stop); ints unless an argument is a float."""
    args = [as_data(a) for a in (start, stop, step) if a is not None]
    if step is None:
        args = args + [1] if stop is not None else args
    out = np.arange(*args)
    if dtype is not None:
        return out.astype(_dtype(dtype))
    return out.astype(backend.floatx()) if out.dtype.kind == "f" else out.astype(np.int32)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    out = np.linspace(as_data(start), as_data(stop), int(num), endpoint=endpoint,
                      retstep=retstep, axis=axis)
    if retstep:
        return out[0].astype(_dtype(dtype)), out[1]
    return out.astype(_dtype(dtype))


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    return np.logspace(as_data(start), as_data(stop), int(num), endpoint=endpoint, base=base,
                       axis=axis).astype(_dtype(dtype))


def eye(N, M=None, k=0, dtype=None):
    return np.eye(int(N), None if M is None else int(M), int(k), dtype=_dtype(dtype))


def identity(n, dtype=None):
    return np.eye(int(n), dtype=_dtype(dtype))


def tri(N, M=None, k=0, dtype=None):
    return np.tri(int(N), None if M is None else int(M), int(k), dtype=_dtype(dtype))


def array(x, dtype=None):
    a = np.array(as_data(x))
    if dtype is not None:
        return a.astype(_dtype(dtype))
    return a.astype(backend.floatx()) if a.dtype == np.float64 else a


def meshgrid(*x, indexing="xy"):
    return np.meshgrid(*[as_data(v) for v in x], indexing=indexing)
