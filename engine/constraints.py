"""Weight constraints applied after each optimizer step (Keras names, formulas, defaults)."""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.backend import EPSILON
from engine.config_object import ConfigObject


class Constraint(ConfigObject):
    def __call__(self, w: np.ndarray) -> np.ndarray:
        return w



def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


class MaxNorm(Constraint):
    """Rescale each slice along ``axis`` whose L2 norm exceeds ``max_value``."""

    def __init__(self, max_value: float = 2.0, axis: int = 0):
        self.max_value, self.axis = float(max_value), axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return (w * (desired / (w.dtype.type(EPSILON) + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    def __call__(self, w):
        return w * (w >= 0).astype(w.dtype)


class UnitNorm(Constraint):
    def __init__(self, axis: int = 0):
        self.axis = axis

    def __call__(self, w):
        return (w / (w.dtype.type(EPSILON) + _norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0,
                 axis: int = 0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + \
            (1 - self.rate) * norms
        return (w * (desired / (w.dtype.type(EPSILON) + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm
CLASSES = {c.__name__: c for c in (MaxNorm, NonNeg, UnitNorm, MinMaxNorm)}
NAMES = {"max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
         "min_max_norm": MinMaxNorm, "maxnorm": MaxNorm, "nonneg": NonNeg, "unitnorm": UnitNorm}


def get(identifier) -> Constraint | None:
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
        return cls(**(identifier.get("config") or {}))
    if callable(identifier):
        class _Fn(Constraint):
            def __call__(self, w):
                return np.asarray(identifier(w), dtype=w.dtype)
        return _Fn()
    raise ValueError(f"cannot interpret {identifier!r} as a constraint")
