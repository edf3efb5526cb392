"""Keras's ``keras.utils`` helpers: one-hot labels, normalization, ``pad_sequences``, the
``PyDataset`` (``Sequence``) base class, and the ``keras.saving`` names Keras also exports
here."""
from __future__ import annotations

import numpy as np

from engine import backend
from engine.preprocessing.sequence import pad_sequences  # noqa: F401  (keras.utils.pad_sequences)
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


def set_random_seed(seed: int) -> None:
    """Seed every random generator a program may draw from — Python's, numpy's global one,
    the initializers' and ``engine.random``'s — as ``keras.utils.set_random_seed``. Layers
    with their own ``seed`` argument keep it."""
    import random

    from engine import initializers
    from engine import random as engine_random
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"set_random_seed: expected a whole number >= 0, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2 ** 32)
    initializers.set_seed(int(seed))
    engine_random.set_global_seed(int(seed))


class PyDataset:
    """Base class for batch sources, as ``keras.utils.PyDataset`` (``keras.utils.Sequence``
    is the same class).

    Subclasses implement ``__getitem__(index)`` returning one whole batch — ``x``, ``(x, y)``
    or ``(x, y, sample_weight)`` — and ``__len__`` (batches per epoch); without ``__len__``
    the dataset is endless and ``fit`` needs ``steps_per_epoch``. ``on_epoch_begin`` /
    ``on_epoch_end`` run around every pass. ``workers > 1`` prepares up to
    ``max_queue_size`` batches ahead in that many threads (``__getitem__`` must then be
    thread-safe); ``use_multiprocessing`` is accepted and uses threads as well — the engine
    never forks or pickles a dataset.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):
        self.workers, self.use_multiprocessing = workers, use_multiprocessing
        self.max_queue_size = max_queue_size

    # subclasses that do not call super().__init__ (Keras 2's Sequence) get the defaults
    @property
    def workers(self) -> int:
        return self.__dict__.get("_workers", 1)

    @workers.setter
    def workers(self, value) -> None:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{type(self).__name__}: workers must be a whole number >= 1, got "
                             f"{value!r}")
        self._workers = int(value)

    @property
    def use_multiprocessing(self) -> bool:
        return self.__dict__.get("_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value) -> None:
        self._use_multiprocessing = bool(value)

    @property
    def max_queue_size(self) -> int:
        return self.__dict__.get("_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value) -> None:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{type(self).__name__}: max_queue_size must be a whole number >= "
                             f"1, got {value!r}")
        self._max_queue_size = int(value)

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch, or None for an endless dataset (no ``__len__``)."""
        return len(self) if hasattr(self, "__len__") else None

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index) "
                                  f"returning one batch")

    def on_epoch_begin(self) -> None:
        pass

    def on_epoch_end(self) -> None:
        pass

    def __iter__(self):
        n = self.num_batches
        i = 0
        while n is None or i < n:
            yield self[i]
            i += 1


Sequence = PyDataset   # Keras 3: keras.utils.Sequence is PyDataset


class _NpUtils:
    """``from keras.utils import np_utils`` (Keras 2): ``np_utils.to_categorical(y)``."""
    to_categorical = staticmethod(to_categorical)
    normalize = staticmethod(normalize)


np_utils = _NpUtils()


def load_img(path, color_mode: str = "rgb", target_size=None, interpolation: str = "nearest",
             keep_aspect_ratio: bool = False):
    """Keras's ``keras.utils.load_img``: a PIL image (see :func:`engine.data.images.load_img`)."""
    from engine.data.images import load_img as load
    return load(path, color_mode, target_size, interpolation, keep_aspect_ratio)


def img_to_array(img, data_format: str | None = None, dtype=None) -> np.ndarray:
    """Keras's ``keras.utils.img_to_array``: (H, W, C) float array of a PIL image."""
    from engine.data.images import img_to_array as to_array
    return to_array(img, data_format, dtype)
