"""Custom objects known by name (``keras.saving`` registration), as Keras 3.

``@register_keras_serializable(package="MyLayers")`` files a class or function under
``"MyLayers>Name"``; configs carry that key as ``registered_name`` so a file names the custom
class it needs and loading finds it again. ``custom_object_scope({...})`` and the
``custom_objects=`` argument of the loaders make further names known for a while.

Lookup order (:func:`get_registered_object`): the innermost ``custom_object_scope``, then the
global registry, then the ``custom_objects`` given to the call, then ``module_objects``.
Nothing here imports or evaluates code: a name resolves only to an object that the running
program registered or passed in itself.
"""
from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any, Self

GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}
_scope = threading.local()   # scopes are per thread, as Keras's global_state


def _scope_dict() -> dict[str, Any]:
    return getattr(_scope, "objects", {})


class CustomObjectScope:
    """``with custom_object_scope({"MyLayer": MyLayer}):`` — configs read inside may name
    these objects. Scopes nest; the inner one replaces the outer for its duration, as Keras."""

    def __init__(self, custom_objects: dict[str, Any] | None = None):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(f"custom_object_scope: expected a dict of name → object, got "
                            f"{type(custom_objects).__name__}")
        self.custom_objects = dict(custom_objects or {})
        self._backup: dict[str, Any] | None = None

    def __enter__(self) -> Self:
        self._backup = _scope_dict()
        _scope.objects = dict(self.custom_objects)
        return self

    def __exit__(self, *exc) -> None:
        _scope.objects = self._backup or {}


custom_object_scope = CustomObjectScope


def get_custom_objects() -> dict[str, Any]:
    """The live global registry (``"package>name"`` → object); scoped objects are not in it."""
    return GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package: str = "Custom", name: str | None = None
                                ) -> Callable[[Any], Any]:
    """Decorator: register a class (it must have ``get_config``) or a function under
    ``"package>name"`` (``name`` defaults to its ``__name__``)."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: package must be a string without '>', "
                         f"got {package!r}")
    if name is not None and (not isinstance(name, str) or ">" in name or not name):
        raise ValueError(f"register_keras_serializable: name must be a non-empty string "
                         f"without '>', got {name!r}")

    def decorator(arg):
        if not callable(arg):
            raise TypeError(f"register_keras_serializable: can register a class or a "
                            f"function, got {type(arg).__name__}")
        class_name = name if name is not None else arg.__name__
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(f"register_keras_serializable: class {arg.__name__} has no "
                             f"get_config() method, so it cannot be saved")
        registered_name = f"{package}>{class_name}"
        GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj) -> str:
    """``"package>name"`` of a registered object, else its ``__name__``."""
    try:
        return GLOBAL_CUSTOM_NAMES[obj]
    except (KeyError, TypeError):     # TypeError: an unhashable object is never registered
        return obj.__name__


def get_registered_object(name: str, custom_objects: dict[str, Any] | None = None,
                          module_objects: dict[str, Any] | None = None):
    """The object filed under ``name`` (scope, then registry, then the dicts given), or None."""
    if not isinstance(name, str):
        return None
    scoped = _scope_dict()
    if name in scoped:
        return scoped[name]
    if name in GLOBAL_CUSTOM_OBJECTS:
        return GLOBAL_CUSTOM_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def find_custom_object(class_name: str | None, registered_name: str | None = None,
                       custom_objects: dict[str, Any] | None = None, loose: bool = False):
    """What a config names, among the custom objects only: by ``registered_name`` first, then
    by ``class_name`` (files written by Keras 2 or read with ``custom_objects={"Name": ...}``
    carry only the class name). ``loose``: a bare class name also matches a single object
    registered as ``"package>Name"`` — callers ask for that only after the built-in classes,
    so a registered ``"pkg>Dense"`` never stands in for the built-in Dense."""
    for key in (registered_name, class_name):
        obj = get_registered_object(key, custom_objects) if key else None
        if obj is not None:
            return obj
    if loose and class_name and ">" not in class_name:
        tail = f">{class_name}"
        matches = {id(obj): obj for key, obj in {**GLOBAL_CUSTOM_OBJECTS, **_scope_dict()}.items()
                   if key.endswith(tail)}
        if len(matches) == 1:
            return next(iter(matches.values()))
    return None


def custom_objects_added(custom_objects: dict[str, Any] | None) -> CustomObjectScope:
    """A scope with ``custom_objects`` on top of the enclosing scope's (the loaders'
    ``custom_objects=`` argument: it must not hide an outer ``custom_object_scope``)."""
    return CustomObjectScope({**_scope_dict(), **(custom_objects or {})})
