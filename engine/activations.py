"""Activation functions with their derivatives (Keras 3 names and formulas).

Each is an object with ``name``, ``forward(x) → y`` and ``backward(x, y, dy) → dx``, where ``x``
is the input, ``y`` the forward output and ``dy`` the gradient of the output. All are elementwise
except softmax (last axis). The hot ones (relu, leaky_relu, softmax, gelu) run as numba kernels;
all keep the input's float dtype.
"""
from __future__ import annotations

import numpy as np

from engine.kernels import activations as K


class Activation:
    """The identity ('linear'); base class of the others."""
    name = "linear"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, x: np.ndarray, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
        return dy

    def forward_bias(self, z: np.ndarray, b: np.ndarray) -> np.ndarray:
        """z += b in place (a layer's pre-activation: its bias added), then forward(z). relu
        and softmax do both in one kernel."""
        z += b
        return self.forward(z)

    def __call__(self, x):
        """Apply to an array or a traced tensor (then recorded: forward + this derivative)."""
        from engine.ops.nn import apply_activation
        return apply_activation(self, x)

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


Linear = Activation


def with_bias(act: Activation, z: np.ndarray, bias) -> np.ndarray:
    """act(z + b) for a layer's pre-activation z and its bias weight (or None): the bias is
    added to z in place (the layer's backward reads z), by relu's and softmax's own kernels
    (:meth:`Activation.forward_bias`)."""
    return act.forward(z) if bias is None else act.forward_bias(z, bias.value)


class Relu(Activation):
    """max(x, threshold) with optional leak below the threshold and cap at max_value
    (Keras's ``relu(x, negative_slope, max_value, threshold)``)."""

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0,
                 threshold: float = 0.0):
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold
        self._plain = max_value is None and negative_slope == 0.0 and threshold == 0.0
        self._leaky = max_value is None and threshold == 0.0 and not self._plain
        if self._plain:
            self.name = "relu"
        elif self._leaky and negative_slope == 0.2:
            self.name = "leaky_relu"
        elif max_value == 6.0 and negative_slope == 0.0 and threshold == 0.0:
            self.name = "relu6"
        else:  # no Keras activation name carries these arguments (see serialize)
            self.name = "relu_custom"

    def forward(self, x):
        if self._plain:
            return K.relu_forward(x)
        if self._leaky:
            return K.leaky_relu_forward(x, self.negative_slope)
        t, s = x.dtype.type(self.threshold), x.dtype.type(self.negative_slope)
        y = np.where(x >= t, x, s * (x - t))
        if self.max_value is not None:
            y = np.minimum(y, x.dtype.type(self.max_value))
        return y.astype(x.dtype, copy=False)

    def forward_bias(self, z, b):
        if self._plain:
            return K.bias_relu_forward(z, b)
        return super().forward_bias(z, b)

    def backward(self, x, y, dy):
        if self._plain:
            return K.relu_backward(y, dy)
        if self._leaky:
            return K.leaky_relu_backward(x, dy, self.negative_slope)
        s = x.dtype.type(self.negative_slope)
        g = np.where(x >= x.dtype.type(self.threshold), x.dtype.type(1), s)
        if self.max_value is not None:
            g = np.where(x >= x.dtype.type(self.max_value), x.dtype.type(0), g)
        return (dy * g).astype(dy.dtype, copy=False)


class Relu6(Relu):
    def __init__(self):
        super().__init__(max_value=6.0)


class LeakyRelu(Relu):
    """x if x > 0 else 0.2·x (Keras 3's default negative_slope)."""

    def __init__(self):
        super().__init__(negative_slope=0.2)


class Elu(Activation):
    """x if x > 0 else alpha·(eˣ − 1)."""
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
    """scale·elu(x, alpha) with Klambauer et al.'s constants."""
    name = "selu"
    alpha = 1.6732632423543772
    scale = 1.0507009873554805

    def forward(self, x):
        a, s = x.dtype.type(self.alpha), x.dtype.type(self.scale)
        return s * np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))

    def backward(self, x, y, dy):
        a, s = x.dtype.type(self.alpha), x.dtype.type(self.scale)
        return dy * np.where(x > 0, s, y + s * a)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # e^(−x) → inf for x < −88 gives the right 0
        return (1 / (1 + np.exp(-x))).astype(x.dtype, copy=False)


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, x):
        return _sigmoid(x)

    def backward(self, x, y, dy):
        return dy * y * (1 - y)


class HardSigmoid(Activation):
    """Keras 3: relu6(x + 3) / 6 = clip(x/6 + ½, 0, 1)."""
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
        return K.softmax_lastaxis(x)

    def forward_bias(self, z, b):
        return K.bias_softmax_lastaxis(z, b)

    def backward(self, x, y, dy):
        return K.softmax_lastaxis_backward(y, dy)


class Softplus(Activation):
    """log(1 + eˣ), computed without overflow."""
    name = "softplus"

    def forward(self, x):
        return np.logaddexp(x.dtype.type(0), x)

    def backward(self, x, y, dy):
        return dy * _sigmoid(x)


class Softsign(Activation):
    """x / (1 + |x|)."""
    name = "softsign"

    def forward(self, x):
        return x / (1 + np.abs(x))

    def backward(self, x, y, dy):
        d = 1 + np.abs(x)
        return dy / (d * d)


class Swish(Activation):
    """x · sigmoid(x) (Keras 3 names it silu; 'swish' is its alias)."""
    name = "swish"

    def forward(self, x):
        return x * _sigmoid(x)

    def backward(self, x, y, dy):
        s = _sigmoid(x)
        return dy * (s + x * s * (1 - s))


class Gelu(Activation):
    """Keras 3's ``activations.gelu`` (approximate=False): x·Φ(x) = ½x(1 + erf(x/√2))."""
    name = "gelu"

    def forward(self, x):
        return K.gelu_forward(x)

    def backward(self, x, y, dy):
        return K.gelu_backward(x, dy)


class Exponential(Activation):
    name = "exponential"

    def forward(self, x):
        with np.errstate(over="ignore"):
            return np.exp(x)

    def backward(self, x, y, dy):
        return dy * y


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
    """A Python callable used as activation. Written with engine.ops (or plain arithmetic), it
    is differentiated by recording it on a tape; in inference it runs as it is."""

    def __init__(self, fn):
        self.fn = fn
        name = getattr(fn, "__name__", None) or type(fn).__name__
        # never let a user's function pass for one of ours (the trainer fuses 'softmax' with
        # crossentropy by name, which would skip the function's own math)
        self.name = f"{name} (custom)" if name in ACTIVATIONS else name

    def forward(self, x):
        from engine.ops.tape import as_data
        return np.asarray(as_data(self.fn(x)), dtype=x.dtype)

    def backward(self, x, y, dy):
        from engine.ops.tape import Tape
        with Tape() as tape:
            xt = tape.watch(x)
            yt = self.fn(xt)
        (dx,) = tape.backward([(yt, dy)], [xt])
        if dx is None:
            return np.zeros_like(dy)
        return np.asarray(dx, dtype=dy.dtype)

    def __call__(self, x):
        return self.fn(x)


ACTIVATIONS: dict[str, type] = {
    "linear": Activation, "relu": Relu, "relu6": Relu6, "leaky_relu": LeakyRelu, "elu": Elu,
    "selu": Selu, "sigmoid": Sigmoid, "hard_sigmoid": HardSigmoid, "tanh": Tanh,
    "softmax": Softmax, "softplus": Softplus, "softsign": Softsign, "swish": Swish,
    "silu": Swish, "gelu": Gelu, "exponential": Exponential, "mish": Mish,
}
NAMES = sorted(ACTIVATIONS)
_cache: dict[str, Activation] = {}
_functions: dict[int, str] = {}  # id(engine.activations.relu) → "relu", filled below


def get(identifier) -> Activation:
    """An activation object from a name (None or '' mean linear), one of ours (object or the
    module-level function such as ``engine.activations.relu``), or a Python callable
    (forward only)."""
    if identifier is None or identifier == "":
        identifier = "linear"
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, dict):   # Keras 3's form of a function: a registered custom one
        from engine.saving import deserialize_keras_object
        return get(deserialize_keras_object(identifier))
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in ACTIVATIONS:
            from engine.saving.object_registration import find_custom_object
            custom = find_custom_object(identifier, loose=True)
            if custom is not None:
                return get(custom)
            raise ValueError(f"unknown activation {identifier!r}; valid names: "
                             + ", ".join(NAMES) + " (or a function registered with "
                             "@keras.saving.register_keras_serializable())")
        if key not in _cache:
            _cache[key] = ACTIVATIONS[key]()
        return _cache[key]
    if isinstance(identifier, type) and issubclass(identifier, Activation):
        return identifier()
    if callable(identifier):
        name = _functions.get(id(identifier))
        return get(name) if name else _UserFunction(identifier)
    raise ValueError(f"cannot interpret {identifier!r} as an activation; valid names: "
                     + ", ".join(NAMES))


def serialize(identifier) -> str | dict:
    """The Keras name of an activation, for configs and files; a Python function: Keras 3's
    function config, which names it by its registered name (``"package>name"``) or its own."""
    act = get(identifier)
    if isinstance(act, _UserFunction):
        if getattr(act.fn, "__name__", "<lambda>") == "<lambda>" or not callable(act.fn):
            raise ValueError(f"activation {act.name!r} is an anonymous function and cannot be "
                             f"saved; define it with def and register it with "
                             f"@keras.saving.register_keras_serializable()")
        from engine.saving import serialize_keras_object
        return serialize_keras_object(act.fn)
    if act.name not in ACTIVATIONS:
        raise ValueError(f"activation {act!r} has arguments no Keras activation name carries "
                         f"(max_value={getattr(act, 'max_value', None)}, negative_slope="
                         f"{getattr(act, 'negative_slope', None)}, threshold="
                         f"{getattr(act, 'threshold', None)}); use a ReLU layer for it")
    return act.name


def _functional(name: str):
    def fn(x, **kwargs):
        act = _with_arguments(name, kwargs)
        from engine.ops.nn import apply_activation
        return apply_activation(act, x)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Keras-style ``activations.{name}(x)``: {ACTIVATIONS[name].__doc__ or name} "
                  f"Differentiable on a tape (in a custom layer's call).")
    return fn


def _with_arguments(name: str, kwargs: dict) -> Activation:
    """The activation ``name`` with Keras's optional arguments (relu's negative_slope,
    max_value, threshold; leaky_relu's negative_slope; elu's alpha; softmax's axis=-1;
    gelu's approximate=False)."""
    if not kwargs:
        return get(name)
    allowed = {"relu": {"negative_slope", "max_value", "threshold"},
               "leaky_relu": {"negative_slope"}, "elu": {"alpha"}, "softmax": {"axis"},
               "gelu": {"approximate"}}.get(name, set())
    unknown = set(kwargs) - allowed
    if unknown:
        raise TypeError(f"activations.{name}: unknown argument(s) {sorted(unknown)}"
                        + (f"; it takes {sorted(allowed)}" if allowed else ""))
    if name == "relu":
        return Relu(kwargs.get("max_value"), kwargs.get("negative_slope", 0.0),
                    kwargs.get("threshold", 0.0))
    if name == "leaky_relu":
        return Relu(None, kwargs.get("negative_slope", 0.2), 0.0)
    if name == "elu":
        return Elu(kwargs.get("alpha", 1.0))
    if name == "softmax" and kwargs.get("axis", -1) not in (-1,):
        raise ValueError(f"activations.softmax: only axis=-1 is supported here, got "
                         f"{kwargs['axis']}; use engine.ops.softmax(x, axis=...)")
    if name == "gelu" and kwargs.get("approximate"):
        raise ValueError("activations.gelu: approximate=True is engine.ops.gelu(x); the "
                         "activation is the exact form")
    return get(name)


# keras.activations.relu(x) style functions; get(engine.activations.relu) finds them by identity
for _n in ACTIVATIONS:
    globals()[_n] = _functional(_n)
    _functions[id(globals()[_n])] = _n
del _n
