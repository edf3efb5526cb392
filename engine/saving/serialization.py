"""Any engine or custom object ↔ Keras 3's serialized dict (``keras.saving.
serialize_keras_object`` / ``deserialize_keras_object``).

The form is Keras 3's: ``{"module", "class_name", "config", "registered_name"}`` — built-in
objects carry their public Keras module (``"keras.regularizers"``) and ``registered_name``
None; custom ones their Python module and ``"package>Name"``. Functions are
``{"class_name": "function", "config": name, ...}``; numpy arrays ``"__numpy__"``.

Reading resolves a class only among the engine's own public classes and the custom objects
the program registered or passed (:mod:`engine.saving.object_registration`) — never by
importing a module named in the file. Keras's ``"__lambda__"`` (marshalled bytecode) is
refused: a file never turns into code here.
"""
from __future__ import annotations

import importlib
import types
from typing import Any

import numpy as np

from engine.saving.object_registration import (
    CustomObjectScope,
    find_custom_object,
    get_registered_name,
)

PLAIN_TYPES = (str, int, float, bool)

# public Keras module → (engine module, its base class); the module's CLASSES table and get()
# turn a {"class_name", "config"} dict of its own classes into an object
_KINDS = {
    "keras.initializers": ("engine.initializers", "Initializer"),
    "keras.regularizers": ("engine.regularizers", "Regularizer"),
    "keras.constraints": ("engine.constraints", "Constraint"),
    "keras.losses": ("engine.losses", "Loss"),
    "keras.metrics": ("engine.metrics", "Metric"),
    "keras.optimizers": ("engine.optimizers", "Optimizer"),
    "keras.optimizers.schedules": ("engine.optimizers_schedules", "LearningRateSchedule"),
}
_MODEL_CLASSES = ("Functional", "Sequential", "Model")


class DeserializationError(ValueError):
    """A config that names nothing this program knows, or is malformed; the message says
    which class and how to make it known."""


def _module(name: str):
    return importlib.import_module(name)


def _builtin_kind(obj) -> str | None:
    """The public Keras module of an engine built-in object (exactly its class, not a user
    subclass), or None."""
    for keras_mod, (mod_name, _base) in _KINDS.items():
        classes = getattr(_module(mod_name), "CLASSES", {})
        if type(obj) in classes.values():
            return keras_mod
    return None


# ------------------------------------------------------------------------------ serialize
def serialize_keras_object(obj) -> Any:
    """The JSON-ready config of ``obj`` (None, plain values, lists, dicts, numpy values,
    functions, engine objects, custom objects with ``get_config``)."""
    if obj is None or isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        out = [serialize_keras_object(x) for x in obj]
        return tuple(out) if isinstance(obj, tuple) else out
    if isinstance(obj, dict):
        return serialize_dict(obj)
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, (np.ndarray, np.generic)):
        if isinstance(obj, np.ndarray) and obj.ndim > 0:
            return {"class_name": "__numpy__",
                    "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
        return obj.item()
    if isinstance(obj, types.FunctionType):
        return _serialize_function(obj)
    from engine.layers.base import Layer
    if isinstance(obj, Layer):
        return _serialize_layer(obj)
    from engine.models.model import Model
    if isinstance(obj, Model):
        kind = "Sequential" if type(obj).__name__ == "Sequential" else "Functional"
        if type(obj).__name__ in ("Sequential", "Model"):
            return {"module": "keras", "class_name": kind, "config": obj.get_config(),
                    "registered_name": None}
    from engine import activations
    if isinstance(obj, activations.Activation) and obj.name in activations.ACTIVATIONS:
        return obj.name
    kind = _builtin_kind(obj)
    if kind is not None:
        return {"module": kind, "class_name": type(obj).__name__,
                "config": serialize_dict(obj.get_config()), "registered_name": None}
    if not hasattr(obj, "get_config"):
        raise TypeError(f"serialize_keras_object: cannot serialize {obj!r} of type "
                        f"{type(obj).__name__}; a class needs a get_config() method")
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"serialize_keras_object: {type(obj).__name__}.get_config() must "
                        f"return a dict, it returned {type(config).__name__}")
    cls = type(obj)
    out = {"module": cls.__module__, "class_name": cls.__name__,
           "config": serialize_dict(config), "registered_name": get_registered_name(cls)}
    _add_build_config(obj, out)
    return out


def serialize_dict(obj: dict) -> dict:
    return {key: serialize_keras_object(value) for key, value in obj.items()}


def _serialize_function(fn) -> dict:
    """Keras 3's form of a function, exactly as it writes it (module "builtins",
    registered_name "function"); ``config`` names it: a built-in activation by its name, a
    custom function by its registered ``"package>name"`` (else its own name)."""
    if fn.__name__ == "<lambda>":
        raise ValueError("serialize_keras_object: a lambda cannot be saved (its code would have "
                         "to be stored and run when loading); give it a name with def and "
                         "register it with @keras.saving.register_keras_serializable()")
    from engine import activations
    name = activations._functions.get(id(fn)) or get_registered_name(fn)
    return {"module": "builtins", "class_name": "function", "config": name,
            "registered_name": "function"}


def _serialize_layer(layer) -> dict:
    cls = type(layer)
    if "spec" in cls.__dict__:                   # a built-in layer: Keras 3's own form
        from engine.io.keras_h5 import keras_layer_config
        return {"module": "keras.layers", **keras_layer_config(layer), "registered_name": None}
    config = layer.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"serialize_keras_object: {cls.__name__}.get_config() must return a "
                        f"dict, it returned {type(config).__name__}")
    out = {"module": cls.__module__, "class_name": cls.__name__,
           "config": serialize_dict(config), "registered_name": get_registered_name(cls)}
    _add_build_config(layer, out)
    return out


def _add_build_config(obj, out: dict) -> None:
    if "build_config" in out:
        return
    get_build = getattr(obj, "get_build_config", None)
    build = get_build() if callable(get_build) else None
    if build is None and getattr(obj, "built", False) and \
            getattr(obj, "input_shape", None) is not None and \
            "spec" not in type(obj).__dict__:
        build = {"input_shape": serialize_keras_object(_plain_shape(obj.input_shape))}
    if build is not None:
        out["build_config"] = build


def _plain_shape(shape):
    if isinstance(shape, list):
        return [_plain_shape(s) for s in shape]
    return list(shape)


# ------------------------------------------------------------------------------ deserialize
def deserialize_keras_object(config, custom_objects: dict[str, Any] | None = None,
                             safe_mode: bool = True, **kwargs) -> Any:
    """The object a config describes (the inverse of :func:`serialize_keras_object`).

    ``custom_objects``: name → class/function for custom objects that are not registered.
    ``module_objects`` (keyword): name → object for plain string configs (as Keras's
    ``layers.deserialize`` / ``activations.deserialize`` pass their module's objects)."""
    module_objects = kwargs.pop("module_objects", None)
    if kwargs:
        raise TypeError(f"deserialize_keras_object: unknown arguments {sorted(kwargs)}")
    if config is None:
        return None
    if isinstance(config, str):
        if module_objects is not None and config in module_objects:
            return module_objects[config]
        obj = find_custom_object(config, None, custom_objects) if module_objects is not None \
            else None
        return config if obj is None else obj
    if isinstance(config, PLAIN_TYPES):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, safe_mode) for x in config]
    if not isinstance(config, dict):
        raise DeserializationError(f"deserialize_keras_object: cannot read a config of type "
                                   f"{type(config).__name__}")
    if "class_name" not in config or "config" not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode)
                for k, v in config.items()}
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    special = _special(class_name, inner)
    if special is not _NOT_SPECIAL:
        return special
    registered = config.get("registered_name") or None
    module = config.get("module")
    if class_name == "function":
        return _function(inner, registered, module, config, custom_objects)
    if not isinstance(inner, dict):
        raise DeserializationError(f"deserialize_keras_object: the config of "
                                   f"{class_name!r} must be a dict, got {inner!r:.80}")
    custom = find_custom_object(class_name, registered, custom_objects)
    with CustomObjectScope({**(custom_objects or {}), **_scope_objects()}):
        if custom is not None:
            return _instantiate(custom, inner, config)
        try:
            return _builtin(class_name, inner, module, config, safe_mode)
        except DeserializationError:
            custom = find_custom_object(class_name, registered, custom_objects, loose=True)
            if custom is None:
                raise
            return _instantiate(custom, inner, config)


_NOT_SPECIAL = object()


def _special(class_name, inner):
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__tensor__":
        return np.array(inner["value"], dtype=inner.get("dtype"))
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        return slice(inner.get("start"), inner.get("stop"), inner.get("step"))
    if class_name == "__lambda__":
        raise DeserializationError(
            "the config holds a Python lambda as marshalled bytecode; LayerLoom never runs "
            "code stored that way. Define the function with def in your program and register "
            "it with @keras.saving.register_keras_serializable(), or pass it in "
            "custom_objects")
    if class_name == "__keras_tensor__":
        from engine.layers.base import KerasTensor
        return KerasTensor(tuple(inner["shape"]), inner.get("dtype") or "float32")
    return _NOT_SPECIAL


def _scope_objects() -> dict[str, Any]:
    from engine.saving import object_registration
    return object_registration._scope_dict()


def _instantiate(cls, inner: dict, full: dict):
    if isinstance(cls, types.FunctionType):
        return cls
    if not hasattr(cls, "from_config"):
        raise DeserializationError(f"cannot rebuild {full['class_name']!r}: the class "
                                   f"{cls.__name__} has no from_config() method")
    try:
        obj = cls.from_config(dict(inner))
    except TypeError as e:
        raise DeserializationError(
            f"{cls.__name__}.from_config failed: {e}. If its get_config() returns layers or "
            f"other Keras objects, deserialize them in from_config() (keras.saving."
            f"deserialize_keras_object)") from None
    build = full.get("build_config")
    if build and not getattr(obj, "built", True) and hasattr(obj, "build_from_config"):
        obj.build_from_config(build)
    return obj


def _function(name, registered, module, full, custom_objects):
    if not isinstance(name, str):
        raise DeserializationError(f"a function config must name the function, got "
                                   f"{name!r:.80}")
    fn = find_custom_object(name, registered, custom_objects)
    if fn is not None:
        return fn
    from engine import activations, losses
    if module in (None, "builtins", "keras.activations") and name in activations.ACTIVATIONS:
        return getattr(activations, name)
    if module in (None, "builtins", "keras.losses") and name in losses.NAMES:
        return losses.get(name)
    fn = find_custom_object(name, registered, custom_objects, loose=True)
    if fn is not None:
        return fn
    raise DeserializationError(_unknown("function", name, full))


def _builtin(class_name: str, inner: dict, module, full: dict, safe_mode: bool):
    if module in (None, "keras", "keras.models", "keras.src.models.functional") and \
            class_name in _MODEL_CLASSES:
        from engine.models.config import model_from_config
        return model_from_config({"class_name": class_name, "config": inner})
    if module in (None, "keras.layers") or (module or "").startswith("keras.layers"):
        from engine.registry import LAYERS, get_spec
        try:
            get_spec(class_name)
        except KeyError:
            if module is not None:
                raise DeserializationError(_unknown("layer", class_name, full)) from None
        else:
            from engine.io.keras_h5 import our_layer_config
            ours = our_layer_config(class_name, inner, "config")
            return LAYERS[ours["class_name"]].cls.from_config(ours["config"])
    kinds = [module] if module in _KINDS else list(_KINDS)
    for kind in kinds:
        mod = _module(_KINDS[kind][0])
        if class_name in getattr(mod, "CLASSES", {}):
            return mod.get({"class_name": class_name, "config": inner})
    if class_name == "DTypePolicy":
        return inner.get("name", "float32")
    raise DeserializationError(_unknown("class", class_name, full))


def _unknown(what: str, name: str, full: dict) -> str:
    reg = full.get("registered_name")
    shown = f"{name!r}" + (f" (registered as {reg!r})" if reg not in (None, name, "function")
                           else "")
    return (f"unknown {what} {shown} in module {full.get('module')!r}: if it is your own, "
            f"decorate it with @keras.saving.register_keras_serializable() (and import it "
            f"before loading) or pass custom_objects={{{name!r}: ...}}")
