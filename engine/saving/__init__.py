"""Saving and loading (``keras.saving``): whole models, and the registry that lets files name
custom classes and functions.

``Model.save`` / ``load_model`` come here, and here the file's name picks its format
(:mod:`engine.saving.model_files`). Custom objects: :mod:`~engine.saving.object_registration`
(``register_keras_serializable``, ``custom_object_scope``), and any object to and from Keras
3's config dicts: :mod:`~engine.saving.serialization`. This package is the one way from models
to file formats: the formats (:mod:`engine.io`) build models, so a model imports this package
only when it is saved — as Keras's ``Model.save`` does.
"""
from __future__ import annotations

from engine.saving.model_files import load_model, save_model
from engine.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from engine.saving.serialization import (
    DeserializationError,
    deserialize_keras_object,
    serialize_keras_object,
)

__all__ = ["CustomObjectScope", "DeserializationError", "custom_object_scope",
           "deserialize_keras_object", "get_custom_objects", "get_registered_name",
           "get_registered_object", "load_model", "register_keras_serializable", "save_model",
           "serialize_keras_object"]
