"""The one table of layer types.

Every layer class declares itself here exactly once with :func:`register`: its Keras class name,
palette category, one-line help and the list of its constructor parameters (:class:`Param`).
That declaration is read by

* the layer's constructor (positional/keyword arguments, defaults, validation with clear errors),
* ``get_config`` / ``from_config`` (JSON, project files, HDF5 export),
* the GUI palette (category, help, icon) and the inspector form (kinds, ranges, choices).

There is no second list of layers anywhere: ``LAYERS`` is filled by the ``register`` decorators
when ``engine.layers`` is imported.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

# Parameter kinds understood by the constructor validation and by the inspector.
#   int, float, bool, str        plain scalars
#   choice                        one of ``choices``
#   ints                          int or tuple of ``length`` ints (kernel_size, strides, pool_size ...)
#   shape                         tuple of positive ints or None (target_shape, input shape)
#   axis                          int (may be negative) or tuple of ints
#   activation                    name from engine.activations (or a callable in scripts)
#   initializer/regularizer/constraint   name, config dict or object from those modules
#   layer                         a nested layer (Bidirectional, TimeDistributed)
#   pairs                         int, (a, b) or ((a, b), (c, d)): per-side sizes (ZeroPadding2D)
#   range                         a number or a (lower, upper) pair of numbers (the factors of
#                                 the Random* augmentation layers, value_range)
#   function                      Python code: a callable, or its source text (Lambda)
#   code                          Python source text of several lines (CustomLayer's body)
KINDS = (
    "int", "float", "bool", "str", "choice", "ints", "shape", "axis",
    "activation", "initializer", "regularizer", "constraint", "layer", "dtype", "pairs",
    "range", "function", "code",
)
CODE_KINDS = ("function", "code")   # parameters holding code: run only with consent


@dataclass(frozen=True)
class Param:
    """One constructor parameter of a layer type, as the inspector shows it."""

    name: str
    kind: str
    default: Any
    help: str
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    length: int | None = None        # for kind "ints": how many ints an int is expanded to
    optional: bool = False           # None is an accepted value
    advanced: bool = False           # shown under "Advanced" in the inspector
    suggested: Any = None            # a required argument's value for a node new from the palette

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Param {self.name!r}: unknown kind {self.kind!r}")


@dataclass(frozen=True)
class LayerSpec:
    """The declaration of one layer type."""

    type_name: str                   # Keras class name, e.g. "Dense"
    cls: type
    category: str                    # palette group
    help: str                        # one line for palette tooltip and inspector header
    params: tuple[Param, ...]
    n_inputs: int | None = 1         # None: any number >= 2 (merge layers); 0: Input
    icon: str = ""                   # resource name of the palette icon
    keras_module: str = "keras.layers"
    key_params: tuple[str, ...] = field(default=())   # shown on the canvas node

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.type_name} has no parameter {name!r}")

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def suggested(self) -> dict[str, Any]:
        """Values a node dropped from the palette starts with, so that it works at once
        (Dense(64), Conv2D(32, 3) ...); Keras itself requires these arguments."""
        return {p.name: p.suggested for p in self.params if p.suggested is not None}


LAYERS: dict[str, LayerSpec] = {}
CATEGORY_ORDER = ("Input", "Core", "Convolution", "Pooling", "Normalization", "Recurrent",
                  "Embedding", "Merge", "Reshaping", "Regularization", "Augmentation",
                  "Wrappers")

# Names Keras (2 and 3) uses for the same class; resolved on import of configs.
ALIASES: dict[str, str] = {
    "Convolution2D": "Conv2D", "Convolution1D": "Conv1D", "MaxPool2D": "MaxPooling2D",
    "AvgPool2D": "AveragePooling2D", "MaxPool1D": "MaxPooling1D", "GlobalAvgPool2D":
    "GlobalAveragePooling2D", "GlobalMaxPool2D": "GlobalMaxPooling2D", "GlobalAvgPool1D":
    "GlobalAveragePooling1D", "GlobalMaxPool1D": "GlobalMaxPooling1D", "AvgPool1D":
    "AveragePooling1D", "Merge": "Concatenate",
}


def register(category: str, help: str, params: list[Param] | tuple[Param, ...],
             n_inputs: int | None = 1, icon: str = "", key_params: tuple[str, ...] = (),
             type_name: str | None = None):
    """Class decorator: declare a layer type once. ``params`` are in positional order."""

    def deco(cls: type) -> type:
        name = type_name or cls.__name__
        if name in LAYERS:
            raise ValueError(f"layer type {name!r} is registered twice")
        spec = LayerSpec(type_name=name, cls=cls, category=category, help=help,
                         params=tuple(params), n_inputs=n_inputs,
                         icon=icon or name.lower(), key_params=tuple(key_params))
        cls.spec = spec
        LAYERS[name] = spec
        return cls

    return deco


def get_spec(type_name: str) -> LayerSpec:
    """The declaration for a layer type name (Keras aliases accepted)."""
    _ensure_loaded()
    name = ALIASES.get(type_name, type_name)
    try:
        return LAYERS[name]
    except KeyError:
        known = ", ".join(sorted(LAYERS))
        raise KeyError(f"unknown layer type {type_name!r}; known types: {known}") from None


def by_category() -> dict[str, list[LayerSpec]]:
    """Layer specs grouped by palette category, categories in display order."""
    _ensure_loaded()
    groups: dict[str, list[LayerSpec]] = {}
    for spec in LAYERS.values():
        groups.setdefault(spec.category, []).append(spec)
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    return {c: sorted(groups[c], key=lambda s: s.type_name)
            for c in sorted(groups, key=lambda c: (order.get(c, 99), c))}


def _ensure_loaded() -> None:
    import engine.layers  # noqa: F401  (importing the package runs every register decorator)


# ---------------------------------------------------------------- validation of values
def _fail(where: str, p: Param, expected: str, value: Any) -> None:
    raise ValueError(f"{where}: argument '{p.name}' expects {expected}, got {value!r}")


def _check_range(where: str, p: Param, v: float) -> None:
    if p.min is not None and v < p.min:
        _fail(where, p, f"a value >= {p.min}", v)
    if p.max is not None and v > p.max:
        _fail(where, p, f"a value <= {p.max}", v)


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def coerce(where: str, p: Param, value: Any) -> Any:
    """Validate ``value`` for parameter ``p`` and return its normalized form.

    ``where`` names the layer in error messages, e.g. ``"Conv2D 'conv1'"``.
    """
    if value is None:
        if p.optional or p.default is None:
            return None
        _fail(where, p, f"a {p.kind} value (None is not allowed)", value)
    k = p.kind
    if k == "int":
        if not _is_int(value):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                _fail(where, p, "an integer", value)
        value = int(value)
        _check_range(where, p, value)
        return value
    if k == "float":
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            _fail(where, p, "a number", value)
        value = float(value)
        _check_range(where, p, value)
        return value
    if k == "bool":
        if not isinstance(value, (bool, int)) or (_is_int(value) and value not in (0, 1)):
            _fail(where, p, "True or False", value)
        return bool(value)
    if k in ("str", "code"):
        if not isinstance(value, str):
            _fail(where, p, "a string" if k == "str" else "Python source text", value)
        return value
    if k == "choice":
        if isinstance(value, str):
            value_l = value.lower()
            for c in p.choices:
                if isinstance(c, str) and c.lower() == value_l:
                    return c
        elif value in p.choices:
            return value
        _fail(where, p, "one of " + ", ".join(repr(c) for c in p.choices), value)
    if k == "ints":
        n = p.length or 1
        if _is_int(value):
            value = (int(value),) * n
        elif isinstance(value, (tuple, list)) and all(_is_int(v) for v in value):
            value = tuple(int(v) for v in value)
            if len(value) != n:
                _fail(where, p, f"an integer or a tuple of {n} integers", value)
        else:
            _fail(where, p, f"an integer or a tuple of {n} integers", value)
        for v in value:
            _check_range(where, p, v)
        return value
    if k == "shape":
        if _is_int(value):
            value = (value,)
        if not isinstance(value, (tuple, list)):
            _fail(where, p, "a tuple of sizes", value)
        out = []
        for v in value:
            if v is None or (_is_int(v) and (v > 0 or v == -1)):
                out.append(None if v is None else int(v))
            else:
                _fail(where, p, "a tuple of positive sizes (None or -1 for unknown)", value)
        return tuple(out)
    if k == "axis":
        if _is_int(value):
            return int(value)
        if isinstance(value, (tuple, list)) and all(_is_int(v) for v in value):
            return tuple(int(v) for v in value)
        _fail(where, p, "an integer axis", value)
    if k == "activation":
        from engine import activations
        if callable(value) and not isinstance(value, str):
            return value
        if isinstance(value, dict) and value.get("class_name") == "function":
            from engine.saving import deserialize_keras_object  # a custom function by name
            try:
                return deserialize_keras_object(value)
            except ValueError as e:
                raise ValueError(f"{where}: argument '{p.name}': {e}") from None
        if isinstance(value, dict):  # Keras 3 serialized form
            value = value.get("config", value).get("name", value.get("class_name"))
        try:
            activations.get(value)
        except ValueError as e:
            raise ValueError(f"{where}: argument '{p.name}': {e}") from None
        return value
    if k in ("initializer", "regularizer", "constraint"):
        import importlib
        mod = importlib.import_module(f"engine.{k}s")
        try:
            if isinstance(value, dict) and value.get("class_name") not in mod.CLASSES:
                value = _custom_object(value, k)       # a registered custom class
            return mod.get(value)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{where}: argument '{p.name}': {e}") from None
    if k == "dtype":
        return str(value)
    if k == "range":
        def number(v):
            if not isinstance(v, numbers.Real) or isinstance(v, bool) or math.isnan(v):
                _fail(where, p, "a number or a (lower, upper) pair of numbers", value)
            _check_range(where, p, float(v))
            return float(v)
        if isinstance(value, (tuple, list)):
            if len(value) != 2:
                _fail(where, p, "a number or a (lower, upper) pair of numbers", value)
            return (number(value[0]), number(value[1]))
        return number(value)
    if k == "pairs":
        n = p.length or 2
        if _is_int(value):
            value = ((int(value),) * 2,) * n
        elif isinstance(value, (tuple, list)) and len(value) == n and all(_is_int(v) for v in value):
            value = tuple((int(v), int(v)) for v in value)
        elif isinstance(value, (tuple, list)) and len(value) == n and all(
                isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(u) for u in v)
                for v in value):
            value = tuple((int(v[0]), int(v[1])) for v in value)
        else:
            _fail(where, p, f"an integer, a tuple of {n} integers or {n} (before, after) pairs",
                  value)
        if any(u < 0 for v in value for u in v):
            _fail(where, p, "sizes >= 0", value)
        return value
    if k == "function":
        if callable(value) or isinstance(value, str) or (
                isinstance(value, dict) and "class_name" in value):
            return value
        _fail(where, p, "a function or its source text", value)
    return value  # "layer": checked by the wrapper layer itself


def _custom_object(config: dict, kind: str):
    """A custom initializer/regularizer/constraint from its Keras 3 config (found by its
    ``registered_name`` or class name among the objects the program registered)."""
    from engine.saving import deserialize_keras_object
    obj = deserialize_keras_object(config)
    if not callable(obj):
        raise ValueError(f"{config.get('class_name')!r} is not a {kind}")
    return obj


def serialize_value(p: Param, value: Any) -> Any:
    """JSON form of a normalized parameter value (inverse of :func:`coerce`)."""
    if value is None:
        return None
    if p.kind in ("ints", "shape", "axis", "range") and isinstance(value, tuple):
        return list(value)
    if p.kind == "pairs":       # n, (rows, cols) or ((top, bottom), (left, right)) as given
        if isinstance(value, numbers.Integral):
            return int(value)
        return [int(v) if isinstance(v, numbers.Integral) else [int(u) for u in v]
                for v in value]
    if p.kind == "activation":
        from engine import activations
        return activations.serialize(value)
    if p.kind in ("initializer", "regularizer", "constraint"):
        import importlib

        from engine.saving import serialize_keras_object
        if type(value) not in importlib.import_module(f"engine.{p.kind}s").CLASSES.values():
            return serialize_keras_object(value)            # custom: with its registered_name
        return value.get_config_dict() if hasattr(value, "get_config_dict") else value
    if p.kind == "layer":
        from engine.layers.layer_config import serialize_layer
        return serialize_layer(value)
    if p.kind == "function":
        from engine.saving.python_code import function_config
        return function_config(value)
    return value
