"""Learning-rate schedules (``engine.optimizers.schedules``), Keras names and formulas."""
from __future__ import annotations

import inspect
import math
from typing import Any


class LearningRateSchedule:
    """``schedule(step)`` → the learning rate for optimizer step ``step`` (0-based)."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not define __call__")

    def get_config(self) -> dict[str, Any]:
        return {}

    def get_config_dict(self) -> dict[str, Any]:
        return {"class_name": type(self).__name__, "config": self.get_config()}


class ExponentialDecay(LearningRateSchedule):
    """initial · decay_rate^(step / decay_steps) (floored exponent when ``staircase``)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str | None = None):
        if decay_steps <= 0:
            raise ValueError(f"ExponentialDecay: decay_steps must be > 0, got {decay_steps}")
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.decay_rate, self.staircase = float(decay_rate), bool(staircase)
        self.name = name or "ExponentialDecay"

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] up to and including step boundaries[0], values[1] up to boundaries[1], …"""

    def __init__(self, boundaries: list[int], values: list[float], name: str | None = None):
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstantDecay: values must have one more entry than "
                             f"boundaries, got {len(values)} values for {len(boundaries)} "
                             f"boundaries")
        self.boundaries, self.values = list(boundaries), [float(v) for v in values]
        self.name = name or "PiecewiseConstant"

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warm-up from ``initial_learning_rate`` to ``warmup_target`` over
    ``warmup_steps``, then a half cosine down to ``alpha`` × the start over ``decay_steps``."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str | None = None, warmup_target: float | None = None,
                 warmup_steps: int = 0):
        if decay_steps <= 0:
            raise ValueError(f"CosineDecay: decay_steps must be > 0, got {decay_steps}")
        self.name = name or "CosineDecay"
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.alpha, self.warmup_target, self.warmup_steps = alpha, warmup_target, warmup_steps

    def __call__(self, step):
        if self.warmup_target is not None and step < self.warmup_steps:
            frac = step / max(self.warmup_steps, 1)
            return self.initial_learning_rate + frac * (self.warmup_target -
                                                        self.initial_learning_rate)
        start = self.initial_learning_rate
        if self.warmup_target is not None:  # Keras ignores warmup_steps without a target
            start, step = self.warmup_target, step - self.warmup_steps
        s = min(step, self.decay_steps) / self.decay_steps
        cos = 0.5 * (1 + math.cos(math.pi * s))
        return start * ((1 - self.alpha) * cos + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


CLASSES = {c.__name__: c for c in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay)}


def get(identifier) -> LearningRateSchedule:
    """A schedule from an instance or a Keras config dict ('module' etc. ignored)."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict) and identifier.get("class_name") in CLASSES:
        cls = CLASSES[identifier["class_name"]]
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
        cfg = identifier.get("config") or {}
        return cls(**{k: v for k, v in cfg.items() if k in accepted})
    raise ValueError(f"cannot interpret {identifier!r} as a learning-rate schedule; valid: "
                     + ", ".join(CLASSES))
