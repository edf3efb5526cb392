"""Activation functions with their derivatives (Keras 3 names and formulas).

Each is an object with ``name``, ``forward(x) → y`` and ``backward(x, y, dy) → dx``, where ``x``
is the input, ``y`` the forward output and ``dy`` the gradient of the output. The hot ones (relu,
softmax) run as fused numba kernels; all keep the input's float dtype.
"""
from __future__ import annotations

import math

import numpy as np

from engine.kernels.activations import relu_backward, relu_forward, softmax_lastaxis


class Activation:
    name = "linear"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, x: np.ndarray, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
        return dy

    def __call__(self, x):
        return self.forward(np.asarray(x))

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


Linear = Activation


class Relu(Activation):
    """max(x, threshold) with optional leak below the threshold and cap above max_value."""

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0,
                 threshold: float = 0.0):
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold
        plain = max_value is None and negative_slope == 0.0 and threshold == 0.0
        self.name = "relu" if plain else ("leaky_relu" if max_value is None and threshold == 0.0
                                          else "relu_custom")
        self._plain = plain

    def forward(self, x):
        if self._plain:
            return relu_forward(x)
        t, s = x.dtype.type(self.threshold), x.dtype.type(self.negative_slope)
        y = np.where(x >= t, x, s * (x - t)) if self.threshold else np.where(x >= 0, x, s * x)
        if self.max_value is not None:
            y = np.minimum(y, x.dtype.type(self.max_value))
        return y.astype(x.dtype, copy=False)

    def backward(self, x, y, dy):
        if self._plain:
            return relu_backward(y, dy)
        s = x.dtype.type(self.negative_slope)
        g = np.where(x >= x.dtype.type(self.threshold), x.dtype.type(1), s)
        if self.max_value is not None:
            g = np.where(x >= x.dtype.type(self.max_value), x.dtype.type(0), g)
        return (dy * g).astype(dy.dtype, copy=False)


class Elu(Activation):
    name = "elu"

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def forward(self, x):
        a = x.dtype.type(self.alpha)
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)

    def backward(self, x, y, dy):
        a = x.dtype.type(self.alpha)
        return dy * np.where(x > 0, x.dtype.type(1), y + a)


class Selu(Activation):
    name = "selu"
    alpha = 1.6732632423543772
    scale = 1.0507009873554805

    def forward(self, x):
        a, s = x.dtype.type(self.alpha), x.dtype.type(self.scale)
        return s * np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))

    def backward(self, x, y, dy):
        a, s = x.dtype.type(self.alpha), x.dtype.type(self.scale)
        return dy * np.where(x > 0, s, y + s * a)


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return (1 / (1 + np.exp(-x))).astype(x.dtype, copy=False)


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, x):
        return _sigmoid(x)

    def backward(self, x, y, dy):
        return dy * y * (1 - y)


class HardSigmoid(Activation):
    """Keras 3: relu6(x + 3) / 6."""
    name = "hard_sigmoid"

    def forward(self, x):
        return np.clip(x / x.dtype.type(6) + x.dtype.type(0.5), 0, 1).astype(x.dtype, copy=False)

    def backward(self, x, y, dy):
        return dy * ((x > -3) & (x < 3)).astype(dy.dtype) / dy.dtype.type(6)


class Tanh(Activation):
    name = "tanh"

    def forward(self, x):
        return np.tanh(x)

    def backward(self, x, y, dy):
        return dy * (1 - y * y)


class Softmax(Activation):
    """Softmax over the last axis (max-subtracted, so large logits do not overflow)."""
    name = "softmax"

    def forward(self, x):
        if x.ndim == 2 and x.flags.c_contiguous:
            return softmax_lastaxis(x)
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, x, y, dy):
        # dx = y ⊙ (dy − Σ_j dy_j y_j)
        return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


class Softplus(Activation):
    name = "softplus"

    def forward(self, x):
        return np.logaddexp(x.dtype.type(0), x)

    def backward(self, x, y, dy):
        return dy * _sigmoid(x)


class Softsign(Activation):
    name = "softsign"

    def forward(self, x):
        return x / (1 + np.abs(x))

    def backward(self, x, y, dy):
        d = 1 + np.abs(x)
        return dy / (d * d)


class Swish(Activation):
    """x · sigmoid(x) (also called silu)."""
    name = "swish"

    def forward(self, x):
        return x * _sigmoid(x)

    def backward(self, x, y, dy):
        s = _sigmoid(x)
        return dy * (s + x * s * (1 - s))


class Gelu(Activation):
    """Keras 3's default gelu(approximate=True): 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    name = "gelu"
    _c = math.sqrt(2 / math.pi)

    def forward(self, x):
        c = x.dtype.type(self._c)
        return x.dtype.type(0.5) * x * (1 + np.tanh(c * (x + x.dtype.type(0.044715) * x ** 3)))

    def backward(self, x, y, dy):
        c = x.dtype.type(self._c)
        k = x.dtype.type(0.044715)
        t = np.tanh(c * (x + k * x ** 3))
        return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * k * x * x))


class Exponential(Activation):
    name = "exponential"

    def forward(self, x):
        with np.errstate(over="ignore"):
            return np.exp(x)

    def backward(self, x, y, dy):
        return dy * y


class Relu6(Relu):
    def __init__(self):
        super().__init__(max_value=6.0)
        self.name = "relu6"


class LeakyRelu(Relu):
    def __init__(self):
        super().__init__(negative_slope=0.2)
        self.name = "leaky_relu"


class Mish(Activation):
    """x · tanh(softplus(x))."""
    name = "mish"

    def forward(self, x):
        return x * np.tanh(np.logaddexp(x.dtype.type(0), x))

    def backward(self, x, y, dy):
        sp = np.logaddexp(x.dtype.type(0), x)
        t = np.tanh(sp)
        return dy * (t + x * (1 - t * t) * _sigmoid(x))


class _UserFunction(Activation):
    """A Python callable used as activation: forward only (training needs a derivative)."""

    def __init__(self, fn):
        self.fn = fn
        self.name = getattr(fn, "__name__", "custom")

    def forward(self, x):
        return np.asarray(self.fn(x), dtype=x.dtype)

    def backward(self, x, y, dy):
        raise NotImplementedError(f"activation {self.name!r} is a plain Python function without a "
                                  f"derivative, so it cannot be trained; use one of: "
                                  + ", ".join(sorted(ACTIVATIONS)))


ACTIVATIONS = {
    "linear": Activation, "relu": Relu, "relu6": Relu6, "leaky_relu": LeakyRelu, "elu": Elu,
    "selu": Selu, "sigmoid": Sigmoid, "hard_sigmoid": HardSigmoid, "tanh": Tanh,
    "softmax": Softmax, "softplus": Softplus, "softsign": Softsign, "swish": Swish,
    "silu": Swish, "gelu": Gelu, "exponential": Exponential, "mish": Mish,
}
NAMES = sorted(ACTIVATIONS)
_cache: dict[str, Activation] = {}


def get(identifier) -> Activation:
    """An activation object from a name (None means linear), one of ours, or a callable."""
    if identifier is None or identifier == "":
        identifier = "linear"
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in ACTIVATIONS:
            raise ValueError(f"unknown activation {identifier!r}; valid names: "
                             + ", ".join(NAMES))
        if key not in _cache:
            _cache[key] = ACTIVATIONS[key]()
        return _cache[key]
    if callable(identifier):
        for name, cls in ACTIVATIONS.items():  # engine.activations.relu etc. passed as functions
            if globals().get(name) is identifier:
                return get(name)
        return _UserFunction(identifier)
    raise ValueError(f"cannot interpret {identifier!r} as an activation; valid names: "
                     + ", ".join(NAMES))


def serialize(identifier) -> str:
    act = get(identifier)
    if isinstance(act, _UserFunction):
        raise ValueError(f"activation {act.name!r} is a Python function and cannot be saved; "
                         f"use a named activation")
    return act.name if act.name in ACTIVATIONS else "relu"


def _functional(name: str):
    def fn(x):
        return get(name).forward(np.asarray(x))
    fn.__name__ = name
    return fn


# keras.activations.relu(x) style functions
for _n in ACTIVATIONS:
    globals()[_n] = _functional(_n)
