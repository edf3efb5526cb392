"""``save_model`` / ``load_model``: the file's name picks the format.

``.h5`` / ``.hdf5`` (and any other name, as Keras 2 did) are Keras legacy HDF5 files
(:mod:`engine.io.keras_h5`). Custom objects a file names are found in the registry, in
``custom_objects=`` and in any enclosing ``custom_object_scope``.
"""
from __future__ import annotations

from engine.saving.object_registration import custom_objects_added


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Save architecture, weights and training configuration as a Keras legacy HDF5 file."""
    from engine.io import keras_h5
    keras_h5.save_model(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Load a Keras HDF5 model file (Keras 3 or Keras 2 legacy format). ``custom_objects``:
    name → class or function for custom objects the file names that are not registered.
    Code the file holds (a Lambda's function) runs only with ``safe_mode=False``."""
    from engine.io import keras_h5
    from engine.saving.safe_mode import SafeModeScope
    with custom_objects_added(custom_objects), SafeModeScope(safe_mode):
        return keras_h5.load_model(filepath, compile=compile)
