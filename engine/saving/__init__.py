"""Saving and loading whole models (``keras.saving``).

``Model.save`` / ``load_model`` come here, and here the file picks its format: ``.keras`` is
Keras 3's native zip archive (:mod:`engine.io.keras_format`), ``.h5`` / ``.hdf5`` the legacy
HDF5 file (:mod:`engine.io.keras_h5`). Loading goes by the file's content, so a legacy HDF5
file under a ``.keras`` name (as LayerLoom wrote before it had the archive) still opens. This
package is the one way from models to file formats: the formats build models, so a model
imports this package only when it is saved — as Keras's ``Model.save`` does.
"""
from __future__ import annotations

import os
from pathlib import Path

from engine.io import keras_format, keras_h5

LEGACY_SUFFIXES = (".h5", ".hdf5")


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Save architecture, weights and training configuration: ``.keras`` (Keras 3 archive) or
    ``.h5`` (legacy HDF5), by the file name."""
    suffix = Path(os.fspath(filepath)).suffix.lower()
    if suffix == ".keras":
        keras_format.save_keras(model, filepath, overwrite=overwrite,
                                include_optimizer=include_optimizer)
    elif suffix in LEGACY_SUFFIXES:
        keras_h5.save_model(model, filepath, overwrite=overwrite,
                            include_optimizer=include_optimizer)
    else:
        raise ValueError(f"{Path(os.fspath(filepath)).name}: a model file name must end in "
                         f".keras (Keras 3's format) or .h5 (legacy HDF5), got "
                         f"{suffix or 'no extension'}")


def load_model(filepath, custom_objects=None, compile: bool = True):
    """Load a Keras model file: a Keras 3 ``.keras`` archive or a Keras 3 / Keras 2 legacy
    ``.h5`` file."""
    if keras_format.is_keras_archive(filepath):
        return keras_format.load_keras(filepath, compile=compile)
    return keras_h5.load_model(filepath, compile=compile)
