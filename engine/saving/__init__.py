"""Saving and loading whole models (``keras.saving``).

``Model.save`` / ``load_model`` come here, and here the file's name picks its format. This
package is the one way from models to file formats: the formats (:mod:`engine.io`) build models,
so a model imports this package only when it is saved — as Keras's ``Model.save`` does.
"""
from __future__ import annotations

from engine.io import keras_h5


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Save architecture, weights and training configuration as a Keras legacy HDF5 file."""
    keras_h5.save_model(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)


def load_model(filepath, custom_objects=None, compile: bool = True):
    """Load a Keras HDF5 model file (Keras 3 or Keras 2 legacy format)."""
    return keras_h5.load_model(filepath, compile=compile)
