"""The error type of model and weights files (``.h5``, ``.keras``, ``.weights.h5``)."""
from __future__ import annotations


class ModelFileError(ValueError):
    """A model or weights file that cannot be read: one line that starts with the file's name
    and says where inside it (the layer, the dataset, the config key) and what is wrong."""
