"""Ops on symbolic tensors: ``x * 2``, ``x + y``, ``ops.mean(x, axis=1)`` while building a
Functional model, as Keras 3 allows. Each such call becomes one :class:`OpCall` layer step: the
op (by its name in engine.ops) with its constant arguments, run like a user layer's ``call``
(on arrays in inference, on the tape when training).

Saved as the op's *name* and plain constant arguments — a name that must be a public engine.ops
function when read back — so no code is stored and none is needed to load it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers.base import KerasTensor, Layer
from engine.layers.calling import _Slot, fill, flatten


def _ops():
    import engine.ops
    return engine.ops


def _is_keras_tensor(o) -> bool:
    return isinstance(o, KerasTensor)


def has_keras_tensor(args, kwargs) -> bool:
    """True when ``args``/``kwargs`` hold a symbolic tensor (nested lists and dicts too)."""
    return bool(flatten((args, kwargs), _is_keras_tensor)[1])


def symbolic_op(name: str, args: tuple, kwargs: dict):
    """``engine.ops.<name>(*args, **kwargs)`` on symbolic tensors: an OpCall node."""
    template, tensors = flatten((tuple(args), dict(kwargs)), _is_keras_tensor)
    layer = OpCall(function=name, arguments=_to_config(template))
    return layer(tensors if len(tensors) > 1 else tensors[0])


def _to_config(obj):
    """A template as JSON: placeholders {"__input__": i}, arrays as {"__array__", "dtype"}."""
    if isinstance(obj, _Slot):
        return {"__input__": obj.i}
    if isinstance(obj, tuple):
        return {"__tuple__": [_to_config(v) for v in obj]}
    if isinstance(obj, list):
        return [_to_config(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _to_config(v) for k, v in obj.items()}
    if isinstance(obj, (np.ndarray, np.generic)):
        return {"__array__": np.asarray(obj).tolist(), "dtype": np.asarray(obj).dtype.name}
    if isinstance(obj, slice):
        return {"__slice__": [obj.start, obj.stop, obj.step]}
    if obj is Ellipsis:
        return {"__ellipsis__": True}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"an op on symbolic tensors got an argument {obj!r:.60} that cannot be "
                    f"saved; wrap the computation in a custom layer")


def _from_config(obj):
    if isinstance(obj, dict):
        if set(obj) == {"__input__"}:
            return _Slot(int(obj["__input__"]))
        if set(obj) == {"__tuple__"}:
            return tuple(_from_config(v) for v in obj["__tuple__"])
        if set(obj) == {"__array__", "dtype"}:
            return np.asarray(obj["__array__"], dtype=np.dtype(obj["dtype"]))
        if set(obj) == {"__slice__"}:
            return slice(*obj["__slice__"])
        if set(obj) == {"__ellipsis__"}:
            return Ellipsis
        return {k: _from_config(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_config(v) for v in obj]
    return obj


class OpCall(Layer):
    """One engine.ops call in a Functional model (made by using an op on symbolic tensors)."""

    def __init__(self, function: str, arguments: Any = None, **kwargs):
        ops = _ops()
        if not isinstance(function, str) or function.startswith("_") or \
                not callable(getattr(ops, function, None)) or \
                isinstance(getattr(ops, function), type):
            raise ValueError(f"OpCall: {function!r} is not an engine.ops function")
        kwargs.setdefault("name", None)
        if kwargs["name"] is None:
            from engine.layers.base import unique_name
            kwargs["name"] = unique_name(function)
        super().__init__(**kwargs)
        self.function = function
        self.arguments = arguments if arguments is not None else {"__tuple__": [
            {"__tuple__": [{"__input__": 0}]}, {}]}
        self._template = _from_config(self.arguments)
        self._fn = getattr(ops, function)

    def call(self, inputs):
        values = inputs if isinstance(inputs, (list, tuple)) and \
            len(flatten(self._template, lambda o: isinstance(o, _Slot))[1]) > 1 else [inputs]
        args, kwargs = fill(self._template, list(values))
        return self._fn(*args, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "function": self.function, "arguments": self.arguments}


def _register() -> None:
    from engine.saving.object_registration import register_keras_serializable
    register_keras_serializable(package="layerloom")(OpCall)


_register()
