"""Weight regularizers (Keras names and defaults): penalties added to the loss.

``get("l2")`` → ``L2(0.01)``; each has ``__call__(w)`` → penalty, ``gradient(w)`` → d penalty/dw
and ``get_config_dict()``.
"""
from __future__ import annotations

import inspect
import math
from numbers import Real

import numpy as np

from engine.config_object import ConfigObject


class Regularizer(ConfigObject):
    """Base: ``__call__(w)`` → the penalty (float), ``gradient(w)`` → d penalty / dw (w's shape)."""

    def __call__(self, w: np.ndarray) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not define __call__")

    def gradient(self, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not define gradient")


class L1L2(Regularizer):
    """l1·Σ|w| + l2·Σw²."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        for name, v in (("l1", l1), ("l2", l2)):
            if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{type(self).__name__}: '{name}' must be a number >= 0, got {v!r}")
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, w):
        out = 0.0
        if self.l1:
            out += self.l1 * float(np.abs(w).sum())
        if self.l2:
            out += self.l2 * float(np.square(w).sum())
        return out

    def gradient(self, w):
        # d/dw l1·|w| = l1·sign(w) (0 at w = 0, as TensorFlow's subgradient); d/dw l2·w² = 2·l2·w
        g = np.zeros_like(w)
        if self.l1:
            g += w.dtype.type(self.l1) * np.sign(w)
        if self.l2:
            g += w.dtype.type(2 * self.l2) * w
        return g

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1(l1: float = 0.01) -> L1:
    return L1(l1)


def l2(l2: float = 0.01) -> L2:
    return L2(l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """Keras 2's shortcut defaults (Keras 3's ``l1_l2`` is the bare class, 0 and 0)."""
    return L1L2(l1, l2)


CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}
NAMES = {"l1": L1, "l2": L2, "l1_l2": l1_l2, "l1l2": l1_l2}
_CLASS_OF_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier) -> Regularizer | None:
    """None, a name ('l1', 'l2', 'l1_l2'), a Keras config dict or an instance."""
    if identifier is None:
        return None
    if isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() not in NAMES:
            raise ValueError(f"unknown regularizer {identifier!r}; valid names: l1, l2, l1_l2")
        return NAMES[identifier.lower()]()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        cls = CLASSES.get(name) or _CLASS_OF_NAME.get(str(name).lower())
        if cls is None:
            raise ValueError(f"unknown regularizer class {name!r}; valid: L1, L2, L1L2")
        cfg = identifier.get("config") or {}
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
        return cls(**{k: v for k, v in cfg.items() if k in accepted})
    raise ValueError(f"cannot interpret {identifier!r} as a regularizer (use 'l1', 'l2', "
                     f"'l1_l2' or engine.regularizers.l2(0.01))")
