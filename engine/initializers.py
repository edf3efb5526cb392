"""Weight initializers with Keras 3's names, formulas and configs.

``get("glorot_uniform")``, ``get({"class_name": "HeNormal", "config": {"seed": 1}})`` or an
instance; each is callable as ``init(shape, dtype)`` → ``np.ndarray`` and serializes with
``get_config_dict()``.

Seeds follow Keras 3: an initializer given an integer ``seed`` returns the same values on every
call (so two layers sharing one seeded instance start identical, as in Keras). Without a seed,
values come from one module-wide generator that :func:`set_seed` makes reproducible.
"""
from __future__ import annotations

import inspect
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


def compute_fans(shape: tuple, input_axes=None, output_axes=None) -> tuple[int, int]:
    """Keras's ``(fan_in, fan_out)``; conv kernels ``(..., in, out)`` multiply both by the
    receptive field (the product of the leading axes). ``input_axes``/``output_axes`` (both or
    neither) name the axes to multiply instead."""
    shape = tuple(int(s) for s in shape)
    if input_axes is not None and output_axes is not None:
        return (int(np.prod([shape[a] for a in input_axes])),
                int(np.prod([shape[a] for a in output_axes])))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def _check_seed(who: str, seed) -> int | None:
    if isinstance(seed, dict):  # a serialized keras.random.SeedGenerator
        seed = (seed.get("config") or {}).get("seed")
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        return None if seed is None else int(seed)
    raise ValueError(f"{who}: 'seed' must be a whole number or None, got {seed!r}")


class Initializer(ConfigObject):
    """Base: subclasses implement ``generate(shape, rng)`` in float64; ``__call__`` casts."""

    def __init__(self, seed: int | None = None):
        self.seed = _check_seed(type(self).__name__, seed)

    @property
    def rng(self) -> np.random.Generator:
        """A fresh generator from ``seed`` (same values every call), else the global one."""
        return np.random.default_rng(self.seed) if self.seed is not None else _global_rng

    def __call__(self, shape, dtype=None) -> np.ndarray:
        dtype = np.dtype(dtype or backend.floatx())
        shape = tuple(int(s) for s in shape)
        return np.asarray(self.generate(shape, self.rng), dtype=dtype)

    def generate(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not define generate()")

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class Zeros(Initializer):
    def __init__(self):
        super().__init__(None)

    def generate(self, shape, rng):
        return np.zeros(shape)

    def get_config(self):
        return {}


class Ones(Initializer):
    def __init__(self):
        super().__init__(None)

    def generate(self, shape, rng):
        return np.ones(shape)

    def get_config(self):
        return {}


class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        super().__init__(None)
        try:
            self.value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"Constant: 'value' must be a number, got {value!r}") from None

    def generate(self, shape, rng):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def generate(self, shape, rng):
        return rng.normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def generate(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"seed": self.seed, "minval": self.minval, "maxval": self.maxval}


def _truncated_normal(rng: np.random.Generator, shape: tuple, stddev: float,
                      mean: float = 0.0) -> np.ndarray:
    """Normal samples redrawn until within two standard deviations (TF's truncated_normal)."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return mean + stddev * out


class TruncatedNormal(RandomNormal):
    def generate(self, shape, rng):
        return _truncated_normal(rng, shape, self.stddev, self.mean)


class VarianceScaling(Initializer):
    """Samples with variance ``scale / n``, n = fan_in, fan_out or their mean."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: int | None = None,
                 input_axes=None, output_axes=None):
        super().__init__(seed)
        who = type(self).__name__
        if not scale > 0:
            raise ValueError(f"{who}: 'scale' must be positive, got {scale!r}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"{who}: 'mode' must be 'fan_in', 'fan_out' or 'fan_avg', "
                             f"got {mode!r}")
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"{who}: 'distribution' must be 'truncated_normal', "
                             f"'untruncated_normal' or 'uniform', got {distribution!r}")
        if (input_axes is None) != (output_axes is None):
            raise ValueError(f"{who}: give both 'input_axes' and 'output_axes', or neither")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution
        self.input_axes = None if input_axes is None else [int(a) for a in input_axes]
        self.output_axes = None if output_axes is None else [int(a) for a in output_axes]

    def generate(self, shape, rng):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            # 0.8796… is the stddev of a unit normal truncated to [-2, 2]
            return _truncated_normal(rng, shape, math.sqrt(scale) / 0.87962566103423978)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(scale), shape)
        limit = math.sqrt(3.0 * scale)
        return rng.uniform(-limit, limit, shape)

    def _axes_config(self) -> dict[str, Any]:
        # only when set: Keras releases before 3.13 reject these keys
        if self.input_axes is None:
            return {}
        return {"input_axes": self.input_axes, "output_axes": self.output_axes}

    def get_config(self):
        return {"seed": self.seed, "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, **self._axes_config()}


def _scaling(name: str, scale: float, mode: str, distribution: str, doc: str) -> type:
    """A fixed-argument VarianceScaling (GlorotUniform etc.) whose config is only the seed."""
    def __init__(self, seed: int | None = None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, **self._axes_config()}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__module__": __name__, "__doc__": doc})


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform",
                         "U(±√(6 / (fan_in + fan_out))).")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                        "Truncated normal, stddev √(2 / (fan_in + fan_out)).")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform", "U(±√(6 / fan_in)).")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal",
                    "Truncated normal, stddev √(2 / fan_in).")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform", "U(±√(3 / fan_in)).")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal",
                       "Truncated normal, stddev √(1 / fan_in).")


class Orthogonal(Initializer):
    """Orthogonal columns (or rows, when wider than tall) of the (prod(shape[:-1]), shape[-1])
    matrix from the QR decomposition of a normal sample, times ``gain``."""

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        self.gain = float(gain)

    def generate(self, shape, rng):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer needs a shape of rank >= 2, got {shape}")
        rows = int(np.prod(shape[:-1]))
        cols = shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # makes the decomposition unique (uniform over rotations)
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"seed": self.seed, "gain": self.gain}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only; non-square gets ones on the
    main diagonal)."""

    def __init__(self, gain: float = 1.0):
        super().__init__(None)
        self.gain = float(gain)

    def generate(self, shape, rng):
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

    def __call__(self, shape, dtype=None):
        dtype = np.dtype(dtype or backend.floatx())
        shape = tuple(int(s) for s in shape)
        out = np.asarray(self.fn(shape, dtype), dtype=dtype)
        if out.shape != shape:
            raise ValueError(f"initializer {getattr(self.fn, '__name__', self.fn)!r} returned "
                             f"shape {out.shape}, expected {shape}")
        return out

    def get_config_dict(self):
        raise ValueError(f"initializer {getattr(self.fn, '__name__', self.fn)!r} is a Python "
                         f"function and cannot be saved; use a named initializer")


CLASSES: dict[str, type] = {c.__name__: c for c in (
    Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal,
    Identity)}
CLASSES.update({"IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal})
NAMES: dict[str, str] = {re.sub(r"(?<!^)(?=[A-Z])", "_", n).lower(): n
                         for n in CLASSES if not n.endswith("Initializer")}
NAMES.update({"zero": "Zeros", "one": "Ones", "normal": "RandomNormal",
              "uniform": "RandomUniform"})


def _from_name(name: str) -> type:
    cls_name = NAMES.get(name) or NAMES.get(name.lower()) or (name if name in CLASSES else None)
    if cls_name is None:
        raise ValueError(f"unknown initializer {name!r}; valid names: "
                         + ", ".join(sorted(NAMES)))
    return CLASSES[cls_name]


def get(identifier) -> Initializer:
    """An initializer from a name ('he_normal' or 'HeNormal'), a Keras config dict (Keras 2 or
    3 form, extra keys such as 'module' ignored), an instance, or a function
    ``f(shape, dtype)``."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        return _from_name(identifier)()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if not isinstance(name, str):
            raise ValueError(f"initializer config {identifier!r} has no 'class_name'")
        cls = _from_name(name)
        cfg = dict(identifier.get("config") or {})
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
        return cls(**{k: v for k, v in cfg.items() if k in accepted})
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return _Callable(identifier)
    raise ValueError(f"cannot interpret {identifier!r} as an initializer; valid names: "
                     + ", ".join(sorted(NAMES)))
