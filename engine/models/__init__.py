"""Keras-compatible models (``keras.models``): ``Model`` (the Functional API), ``Sequential``,
configs and loading. The package holds the model classes, their execution plan
(:mod:`~engine.models.functional`) and their training loops (:mod:`~engine.models.training`)."""
from __future__ import annotations

from engine.models.cloning import clone_model
from engine.models.config import model_from_config, model_from_json
from engine.models.model import Model
from engine.models.sequential import Sequential

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_config",
           "model_from_json", "save_model"]


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True
               ) -> Model:
    """``keras.models.load_model``: see :func:`engine.saving.load_model`."""
    from engine.saving import load_model as _load
    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def save_model(model, filepath, overwrite: bool = True, **kwargs) -> None:
    """``keras.models.save_model(model, path)``: the same as ``model.save(path)``."""
    model.save(filepath, overwrite=overwrite, **kwargs)
