"""``save_model`` / ``load_model``: the file's name picks the format when saving, its content
when loading.

``.keras`` is Keras 3's native zip archive (:mod:`engine.io.keras_format`); ``.h5`` /
``.hdf5`` (and any other name, as Keras 2 did) are Keras legacy HDF5 files
(:mod:`engine.io.keras_h5`). Loading looks at the content, so a legacy HDF5 file under a
``.keras`` name (as LayerLoom wrote before it had the archive) still opens. Custom objects a
file names are found in the registry, in ``custom_objects=`` and in any enclosing
``custom_object_scope``.
"""
from __future__ import annotations

import os
from pathlib import Path

from engine.saving.object_registration import custom_objects_added


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Save architecture, weights and training configuration: a Keras 3 archive for
    ``.keras``, a legacy HDF5 file otherwise."""
    from engine.io import keras_format, keras_h5
    if Path(os.fspath(filepath)).suffix.lower() == ".keras":
        keras_format.save_keras(model, filepath, overwrite=overwrite,
                                include_optimizer=include_optimizer)
    else:
        keras_h5.save_model(model, filepath, overwrite=overwrite,
                            include_optimizer=include_optimizer)


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Load a Keras model file: a Keras 3 ``.keras`` archive or a Keras 3 / Keras 2 legacy
    HDF5 file. ``custom_objects``: name → class or function for custom objects the file names
    that are not registered. Code the file holds (a Lambda's function) runs only with
    ``safe_mode=False``."""
    from engine.io import keras_format, keras_h5
    from engine.saving.safe_mode import SafeModeScope
    with custom_objects_added(custom_objects), SafeModeScope(safe_mode):
        if keras_format.is_keras_archive(filepath):
            return keras_format.load_keras(filepath, compile=compile)
        return keras_h5.load_model(filepath, compile=compile)
