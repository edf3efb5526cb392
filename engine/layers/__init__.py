"""All layer types. Importing this package registers every layer in ``engine.registry``.

Each family module declares its layers once with ``@register``; this package hands them out by
their Keras names (and Keras's old aliases), so ``from engine.layers import Dense`` works as in
Keras. The family modules imported below are the whole list: there is no other.
"""
from engine.layers import (augmentation, conv, image_reshaping,  # noqa: F401
                           conv_transpose, core, custom_layer, embedding, lambda_layer, lookup,
                           masking, merge, normalization, pooling, preprocessing, recurrent,
                           separable, wrappers)  # (registers)
from engine.layers.base import KerasTensor, Layer, Weight  # noqa: F401
from engine.layers.layer_config import deserialize_layer, serialize_layer  # noqa: F401
from engine.layers.core import Input  # noqa: F401
from engine.registry import ALIASES, LAYERS


def _functional(type_name: str):
    def call(inputs, **kwargs):
        return LAYERS[type_name].cls(**kwargs)(inputs)
    call.__name__ = type_name.lower()
    call.__doc__ = f"Functional form of {type_name}: ``{type_name.lower()}([a, b], **kwargs)``."
    return call


# Keras's lowercase functional forms of the merge layers: add([a, b]), concatenate([a, b]).
add = _functional("Add")
subtract = _functional("Subtract")
multiply = _functional("Multiply")
average = _functional("Average")
maximum = _functional("Maximum")
minimum = _functional("Minimum")
concatenate = _functional("Concatenate")


def serialize(layer) -> dict:
    """``keras.layers.serialize``: a layer's Keras 3 config dict (with module and
    ``registered_name``); see :func:`engine.saving.serialize_keras_object`."""
    from engine.saving import serialize_keras_object
    return serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """``keras.layers.deserialize``: a layer (or model) from its config dict."""
    from engine.saving import deserialize_keras_object
    return deserialize_keras_object(config, custom_objects=custom_objects)


def __getattr__(name: str):
    spec = LAYERS.get(ALIASES.get(name, name))
    if spec is not None:
        return spec.cls
    raise AttributeError(f"engine.layers has no layer {name!r}; known layers: "
                         + ", ".join(sorted(LAYERS)))


def __dir__():
    return sorted(set(globals()) | set(LAYERS) | set(ALIASES))
