"""Weight constraints applied after each optimizer step (Keras names, formulas, defaults)."""
from __future__ import annotations

import inspect

import numpy as np

from engine.backend import epsilon
from engine.config_object import ConfigObject


class Constraint(ConfigObject):
    """Base: ``c(w)`` → the constrained weights (same shape and dtype as ``w``)."""

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return w


def _norms(w: np.ndarray, axis) -> np.ndarray:
    """L2 norms of the slices along ``axis`` (an int or a list of ints, e.g. [0, 1, 2] for
    conv kernels), kept as size-1 axes so they broadcast."""
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


def _rescale(w: np.ndarray, desired: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """w · desired / (ε + norm), Keras's formula (ε = 1e-7 keeps zero slices at zero)."""
    return (w * (desired / (w.dtype.type(epsilon()) + norms))).astype(w.dtype, copy=False)


class MaxNorm(Constraint):
    """Rescale each slice along ``axis`` whose L2 norm exceeds ``max_value``."""

    def __init__(self, max_value: float = 2.0, axis: int = 0):
        if not max_value > 0:
            raise ValueError(f"MaxNorm: 'max_value' must be positive, got {max_value!r}")
        self.max_value, self.axis = float(max_value), axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        return _rescale(w, np.clip(norms, 0, self.max_value), norms)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Negative weights become 0."""

    def __call__(self, w):
        return w * (w >= 0).astype(w.dtype)


class UnitNorm(Constraint):
    """Each slice along ``axis`` rescaled to L2 norm 1."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def __call__(self, w):
        return (w / (w.dtype.type(epsilon()) + _norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Slice norms pulled into [min_value, max_value]; ``rate`` < 1 moves only part way."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0,
                 axis: int = 0):
        if not 0 <= min_value <= max_value:
            raise ValueError(f"MinMaxNorm: need 0 <= min_value <= max_value, got "
                             f"min_value={min_value!r}, max_value={max_value!r}")
        self.min_value, self.max_value, self.rate, self.axis = \
            float(min_value), float(max_value), float(rate), axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + \
            (1 - self.rate) * norms
        return _rescale(w, desired, norms)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


class _Function(Constraint):
    """A user function ``f(w)`` (scripts only; not serializable)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, w):
        return np.asarray(self.fn(w), dtype=w.dtype)

    def get_config_dict(self):
        raise ValueError(f"constraint {getattr(self.fn, '__name__', self.fn)!r} is a Python "
                         f"function and cannot be saved; use a named constraint")


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm
CLASSES = {c.__name__: c for c in (MaxNorm, NonNeg, UnitNorm, MinMaxNorm)}
NAMES = {"max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
         "min_max_norm": MinMaxNorm, "maxnorm": MaxNorm, "nonneg": NonNeg, "unitnorm": UnitNorm}


def get(identifier) -> Constraint | None:
    """None, a name ('max_norm', 'non_neg', 'unit_norm', 'min_max_norm'), a Keras config dict,
    an instance, or a function ``f(w)`` → constrained w."""
    if identifier is None:
        return None
    if isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() not in NAMES:
            raise ValueError(f"unknown constraint {identifier!r}; valid names: max_norm, "
                             f"non_neg, unit_norm, min_max_norm")
        return NAMES[identifier.lower()]()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        cls = CLASSES.get(name) or NAMES.get(str(name).lower())
        if cls is None:
            raise ValueError(f"unknown constraint class {name!r}; valid: "
                             + ", ".join(CLASSES))
        cfg = identifier.get("config") or {}
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
        return cls(**{k: v for k, v in cfg.items() if k in accepted})
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if callable(identifier):
        return _Function(identifier)
    raise ValueError(f"cannot interpret {identifier!r} as a constraint")
