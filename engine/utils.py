"""Keras's ``keras.utils`` helpers: one-hot labels, normalization, and the ``Sequence`` protocol."""
from __future__ import annotations

import numpy as np

from engine import backend
from engine.saving.object_registration import (  # noqa: F401  (keras.utils names them too)
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from engine.saving.serialization import (  # noqa: F401
    deserialize_keras_object,
    serialize_keras_object,
)


def to_categorical(y, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """One-hot encode integer class labels ``y`` (any shape) into ``y.shape + (num_classes,)``.

    A trailing axis of size 1 is dropped first, as in Keras.
    """
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError("to_categorical: labels must be whole numbers")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iub":
        raise ValueError(f"to_categorical: labels must be integers, got dtype {y.dtype}")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0, found {int(y.min())}")
    top = int(y.max()) + 1 if y.size else 0
    if num_classes is None:
        num_classes = top
    elif top > num_classes:
        raise ValueError(f"to_categorical: found label {top - 1}, but num_classes={num_classes} "
                         f"allows only 0..{num_classes - 1}")
    out = np.zeros((y.size, num_classes), dtype=dtype)
    out[np.arange(y.size), y.reshape(-1)] = 1
    return out.reshape(y.shape + (num_classes,))


def normalize(x, axis: int = -1, order: int = 2) -> np.ndarray:
    """Scale ``x`` to unit ``order``-norm along ``axis`` (zero vectors stay zero)."""
    x = np.asarray(x, dtype=backend.floatx())
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    norm[norm == 0] = 1
    return x / norm


class Sequence:
    """Base class for batch generators, as ``keras.utils.Sequence``.

    Subclasses implement ``__len__`` (batches per epoch) and ``__getitem__(index)`` returning
    ``(x, y)`` or ``(x, y, sample_weight)``; ``on_epoch_end`` runs after every epoch.
    """

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int):
        raise NotImplementedError

    def on_epoch_end(self) -> None:
        pass

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


class _NpUtils:
    """``from keras.utils import np_utils`` (Keras 2): ``np_utils.to_categorical(y)``."""
    to_categorical = staticmethod(to_categorical)
    normalize = staticmethod(normalize)


np_utils = _NpUtils()
