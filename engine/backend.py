"""Numeric settings shared by the whole engine (``keras.backend`` / ``keras.config``): the
float dtype, the fuzz factor, the image layout.

The engine computes in float32. Gradient checks switch to float64 with :func:`floatx_scope`
so that finite differences are accurate; every kernel is written for either dtype. What Keras
allows beyond that (float16/bfloat16 compute, channels_first images) is refused with a message
rather than half-honoured.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

_FLOATX = np.dtype(np.float32)
EPSILON = 1e-7  # Keras's default fuzz factor
_epsilon = EPSILON


def floatx() -> np.dtype:
    """The dtype every weight and activation uses: float32 (float64 while a gradient check
    runs). Keras returns the name; a numpy dtype compares equal to it (``floatx() ==
    "float32"``) and prints the same, and the engine passes it to numpy directly."""
    return _FLOATX


def set_floatx(dtype) -> None:
    """``"float32"`` or ``"float64"``; the engine has no float16/bfloat16 kernels."""
    global _FLOATX
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.float32, np.float64):
        raise ValueError(f"set_floatx: the engine computes in 'float32' (or 'float64'), got "
                         f"{getattr(dtype, 'name', dtype)!r}; mixed precision needs a Keras "
                         f"backend (Run on Keras)")
    _FLOATX = dt


def epsilon() -> float:
    """The fuzz factor of losses, metrics and constraints (Keras's ``backend.epsilon()``)."""
    return _epsilon


def set_epsilon(value: float) -> None:
    global _epsilon
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or \
            not np.isfinite(value) or not 0 < value < 1:
        raise ValueError(f"set_epsilon: expected a small positive number (Keras's default is "
                         f"1e-07), got {value!r}")
    _epsilon = float(value)


def image_data_format() -> str:
    """Always ``"channels_last"``: images are (N, H, W, C) throughout the engine."""
    return "channels_last"


def set_image_data_format(data_format: str) -> None:
    if data_format != "channels_last":
        raise ValueError(f"set_image_data_format: the engine keeps images channels-last (N, H, "
                         f"W, C); got {data_format!r}. Move the channel axis of your data "
                         f"instead, e.g. np.moveaxis(x, 1, -1)")


def backend() -> str:
    """The name of the computing backend, as ``keras.backend.backend()``: this engine computes
    with numpy (and numba)."""
    return "numpy"


def clear_session() -> None:
    """Start automatic layer names afresh (``dense``, ``dense_1`` ...), as Keras's
    ``clear_session`` does; the engine has no other global graph state."""
    from engine.layers.base import reset_name_counters
    reset_name_counters()


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
