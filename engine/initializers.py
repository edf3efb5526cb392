"""Weight initializers with Keras 3's names, formulas and configs.

``get("glorot_uniform")``, ``get({"class_name": "HeNormal", "config": {"seed": 1}})`` or an
instance; each is callable as ``init(shape, dtype)`` and serializes with ``get_config_dict()``.
"""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from engine import backend
from engine.config_object import ConfigObject

_global_rng = np.random.default_rng()


def set_seed(seed: int | None) -> None:
    """Seed the generator that initializers without their own seed draw from."""
    global _global_rng
    _global_rng = np.random.default_rng(seed)


def compute_fans(shape: tuple) -> tuple[float, float]:
    """Keras's fan_in / fan_out: conv kernels (..., in, out) multiply by the receptive field."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = float(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer(ConfigObject):
    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    @property
    def rng(self) -> np.random.Generator:
        return self._rng if self._rng is not None else _global_rng

    def __call__(self, shape, dtype=None) -> np.ndarray:
        dtype = np.dtype(dtype or backend.floatx())
        return np.asarray(self.generate(tuple(int(s) for s in shape)), dtype=dtype)

    def generate(self, shape: tuple) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed} if hasattr(self, "seed") else {}



class Zeros(Initializer):
    def __init__(self):
        super().__init__(None)

    def generate(self, shape):
        return np.zeros(shape)

    def get_config(self):
        return {}


class Ones(Zeros):
    def generate(self, shape):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        super().__init__(None)
        self.value = float(value)

    def generate(self, shape):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def generate(self, shape):
        return self.rng.normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def generate(self, shape):
        return self.rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated_normal(rng, shape, stddev: float, mean: float = 0.0) -> np.ndarray:
    """Normal samples redrawn until within two standard deviations (as TF's truncated_normal)."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return mean + stddev * out


class TruncatedNormal(RandomNormal):
    def generate(self, shape):
        return _truncated_normal(self.rng, shape, self.stddev, self.mean)


class VarianceScaling(Initializer):
    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: int | None = None):
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"VarianceScaling: 'scale' must be positive, got {scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: 'mode' must be fan_in, fan_out or fan_avg, got {mode!r}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"VarianceScaling: unknown distribution {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def generate(self, shape):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            return _truncated_normal(self.rng, shape, math.sqrt(scale) / 0.87962566103423978)
        if self.distribution == "untruncated_normal":
            return self.rng.normal(0.0, math.sqrt(scale), shape)
        limit = math.sqrt(3.0 * scale)
        return self.rng.uniform(-limit, limit, shape)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


def _scaling(name: str, scale: float, mode: str, distribution: str) -> type:
    def __init__(self, seed: int | None = None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__module__": __name__})


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    def __init__(self, gain: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        self.gain = float(gain)

    def generate(self, shape):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer needs a shape of rank >= 2, got {shape}")
        rows = int(np.prod(shape[:-1]))
        cols = shape[-1]
        a = self.rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q[:rows, :cols].reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    def __init__(self, gain: float = 1.0):
        super().__init__(None)
        self.gain = float(gain)

    def generate(self, shape):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape, got {shape}")
        return self.gain * np.eye(*shape)

    def get_config(self):
        return {"gain": self.gain}


class _Callable(Initializer):
    """Wraps a user function ``f(shape, dtype)`` (scripts only; not serializable)."""

    def __init__(self, fn):
        super().__init__(None)
        self.fn = fn

    def generate(self, shape):
        return np.asarray(self.fn(shape, backend.floatx()))

    def get_config_dict(self):
        raise ValueError(f"initializer {getattr(self.fn, '__name__', self.fn)!r} is a Python "
                         f"function and cannot be saved; use a named initializer")


CLASSES = {c.__name__: c for c in (
    Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal,
    Identity)}
NAMES = {re.sub(r"(?<!^)(?=[A-Z])", "_", n).lower(): n for n in CLASSES}
NAMES.update({"zero": "Zeros", "one": "Ones", "normal": "RandomNormal",
              "uniform": "RandomUniform", "random_normal": "RandomNormal",
              "random_uniform": "RandomUniform", "truncated_normal": "TruncatedNormal"})


def get(identifier) -> Initializer:
    """An initializer from a name, a Keras config dict, an instance or a function."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        key = NAMES.get(identifier) or (identifier if identifier in CLASSES else None)
        if key is None:
            raise ValueError(f"unknown initializer {identifier!r}; valid names: "
                             + ", ".join(sorted(NAMES)))
        return CLASSES[key]()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        cfg = dict(identifier.get("config") or {})
        if name not in CLASSES:
            if isinstance(name, str) and name in NAMES:
                name = NAMES[name]
            else:
                raise ValueError(f"unknown initializer class {name!r}; valid: "
                                 + ", ".join(sorted(CLASSES)))
        cls = CLASSES[name]
        import inspect
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
        return cls(**{k: v for k, v in cfg.items() if k in accepted})
    if callable(identifier):
        return _Callable(identifier)
    raise ValueError(f"cannot interpret {identifier!r} as an initializer")
