"""A layer as a config dict and back: Keras's ``{"class_name", "config"}`` form for the built-in
layers, Keras 3's form (module, ``registered_name``, ``build_config``) for custom ones, and
nested models. Used by Sequential / functional model configs, wrappers and the registry."""
from __future__ import annotations

from typing import Any

from engine.layers.base import Layer
from engine.registry import get_spec


def serialize_layer(layer: Layer) -> dict[str, Any]:
    """A built-in layer's {"class_name", "config"}; a nested model's Keras form; a custom
    layer's Keras 3 form (with its module, ``registered_name`` and ``build_config``)."""
    from engine.models.model import Model
    if isinstance(layer, Model) and layer._functional:
        return {"module": "keras", "class_name": layer.keras_class_name,
                "config": layer.get_config(), "registered_name": None}
    if "spec" not in type(layer).__dict__:
        from engine.saving import serialize_keras_object
        return serialize_keras_object(layer)
    return {"class_name": layer.spec.type_name, "config": layer.get_config()}


_MODEL_CLASSES = ("Functional", "Sequential", "Model")


def deserialize_layer(data: dict[str, Any], custom_objects=None) -> Layer:
    """A layer from its config: a custom class the program registered or passed in (by
    ``registered_name`` or class name), a nested model, else a built-in layer type. A custom
    layer with a ``build_config`` is built, so that its weights exist before they load."""
    if not isinstance(data, dict) or "class_name" not in data:
        raise ValueError(f"a layer config must be a dict with 'class_name', got {data!r:.80}")
    from engine.saving.object_registration import find_custom_object
    name, registered = data["class_name"], data.get("registered_name")
    config = data.get("config", {})
    cls = find_custom_object(name, registered, custom_objects)
    if cls is None and isinstance(data.get("layerloom_source"), str):
        from engine.layers.custom_layer import CustomLayer
        return CustomLayer.from_keras_config(data)      # (runs only with consent)
    if cls is None and name in _MODEL_CLASSES and isinstance(config, dict) \
            and "layers" in config:
        from engine.models.config import model_from_config
        return model_from_config({"class_name": name, "config": config},
                                 custom_objects=custom_objects, safe_mode=None)
    if cls is None:
        try:
            cls = get_spec(name).cls
        except KeyError:
            cls = find_custom_object(name, registered, custom_objects, loose=True)
            if cls is None:
                raise
    layer = cls.from_config(config)
    build = data.get("build_config")
    if build and not layer.built and hasattr(layer, "build_from_config"):
        layer.build_from_config(build)
    return layer
