"""Numeric settings shared by the whole engine: the float dtype and the fuzz factor.

The engine computes in float32. Gradient checks switch to float64 with :func:`floatx_scope`
so that finite differences are accurate; every kernel is written for either dtype.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

_FLOATX = np.dtype(np.float32)
EPSILON = 1e-7  # Keras's backend.epsilon(), used by losses and optimizers


def floatx() -> np.dtype:
    """The dtype every weight and activation uses (float32 unless a test asks for float64)."""
    return _FLOATX


def set_floatx(dtype) -> None:
    global _FLOATX
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"floatx must be 'float32' or 'float64', got {dtype.name!r}")
    _FLOATX = dtype


@contextlib.contextmanager
def floatx_scope(dtype) -> Iterator[None]:
    """Temporarily compute in ``dtype`` (used by finite-difference gradient tests)."""
    old = _FLOATX
    set_floatx(dtype)
    try:
        yield
    finally:
        set_floatx(old)


def as_float(x) -> np.ndarray:
    """``x`` as a C-contiguous array of the engine's float dtype (no copy when it already is)."""
    return np.ascontiguousarray(x, dtype=_FLOATX)
