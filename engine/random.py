"""Random tensors (Keras 3's ``keras.random``): normal, uniform, truncated_normal, randint,
categorical, dropout, shuffle, gamma, beta, binomial, and :class:`SeedGenerator`.

``seed`` may be None (a fresh draw from the global generator each call), an int (the same
numbers every call, as in Keras) or a :class:`SeedGenerator` (a new state per call: what a layer
keeps in ``self.seed_generator`` so that it differs between steps yet is reproducible).
``dropout`` is differentiable: its gradient is the kept mask scaled by 1/(1 − rate).
"""
from __future__ import annotations

import numpy as np

from engine import backend
from engine.ops.tape import as_data, record

_global = np.random.default_rng()


def set_global_seed(seed: int) -> None:
    """Make later unseeded draws reproducible (``keras.utils.set_random_seed`` calls this)."""
    global _global
    _global = np.random.default_rng(seed)


class SeedGenerator:
    """A seed that advances on every draw: ``SeedGenerator(1337)``; pass it as ``seed=``."""

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"SeedGenerator: seed must be an int or None, got {seed!r}")
        self.seed = seed
        self.name = name or "seed_generator"
        self._rng = np.random.default_rng(seed if seed is not None else
                                          int(_global.integers(0, 2 ** 31)))
        self.state = np.array([0 if seed is None else int(seed), 0], dtype=np.uint32)

    def next(self, ordered=True) -> np.random.Generator:
        self.state[1] += 1
        return self._rng

    def get_config(self) -> dict:
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config: dict) -> SeedGenerator:
        return cls(**config)


def _rng(seed) -> np.random.Generator:
    if seed is None:
        return _global
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, (int, np.integer)):
        return np.random.default_rng(int(seed))
    raise ValueError(f"seed must be None, an int or a SeedGenerator, got {seed!r}")


def _dtype(dtype):
    return backend.floatx() if dtype is None else np.dtype(getattr(dtype, "name", dtype))


def _shape(shape) -> tuple:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(as_data(d)) for d in shape)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return _rng(seed).normal(mean, stddev, _shape(shape)).astype(_dtype(dtype))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    return _rng(seed).uniform(minval, maxval, _shape(shape)).astype(_dtype(dtype))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal values redrawn until within two standard deviations of the mean."""
    rng = _rng(seed)
    shape = _shape(shape)
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return (mean + stddev * out).astype(_dtype(dtype))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    return _rng(seed).integers(minval, maxval, _shape(shape)).astype(np.dtype(dtype))


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class draws per row of ``logits`` (batch, classes)."""
    lg = np.asarray(as_data(logits), dtype=np.float64)
    p = np.exp(lg - lg.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    rng = _rng(seed)
    out = np.stack([rng.choice(p.shape[-1], size=int(num_samples), p=row) for row in p])
    return out.astype(np.dtype(dtype))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero a fraction ``rate`` of the entries, scale the rest by 1/(1 − rate)."""
    x = np.asarray(as_data(inputs))
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    shape = x.shape if noise_shape is None else tuple(
        s if n is None else int(n) for s, n in zip(x.shape, noise_shape))
    keep = _rng(seed).random(shape) >= rate
    scale = (keep / (1.0 - rate)).astype(x.dtype if x.dtype.kind == "f" else backend.floatx())
    return record(x * scale, (inputs,), lambda g, need: (g * scale,))


def shuffle(x, axis=0, seed=None):
    """``x`` with its entries along ``axis`` in random order (a permutation: gradient moved back)."""
    xd = np.asarray(as_data(x))
    perm = _rng(seed).permutation(xd.shape[axis])
    from engine.ops.shape_ops import take
    return take(x, perm, axis=axis)


def gamma(shape, alpha, dtype=None, seed=None):
    return _rng(seed).gamma(alpha, 1.0, _shape(shape)).astype(_dtype(dtype))


def beta(shape, alpha, beta, dtype=None, seed=None):
    return _rng(seed).beta(alpha, beta, _shape(shape)).astype(_dtype(dtype))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    return _rng(seed).binomial(np.asarray(as_data(counts)), np.asarray(as_data(probabilities)),
                               _shape(shape)).astype(_dtype(dtype))
