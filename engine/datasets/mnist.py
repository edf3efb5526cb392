"""MNIST handwritten digits, as ``keras.datasets.mnist`` (the same published file and hash).

``load_data()`` downloads ``mnist.npz`` once (11 MB) into the data set cache. Offline, it
raises :class:`~engine.datasets.download.DatasetUnavailableError`, whose message points to the
real MNIST subset bundled with LayerLoom; ``load_data(allow_bundled=True)`` returns that subset
instead (24,000 training + 10,000 test images) with a warning. The subset is never returned
silently: a script that asks for MNIST and trains on 24,000 images would report results that
are not comparable to 60,000-image runs.
"""
from __future__ import annotations

import warnings

import numpy as np

from engine.data.errors import DataError
from engine.data.loaders import read_npz
from engine.datasets import bundled
from engine.datasets.download import DatasetUnavailableError, Progress, fetch

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
OFFLINE_HINT = ("LayerLoom ships real MNIST for offline use (24,000 training + 10,000 test "
                "images): mnist.load_data(allow_bundled=True), "
                "engine.datasets.bundled.mnist_subset(), or the bundled data set 'mnist' in "
                "the Data panel.")


def check_images(name: str, x: np.ndarray, y: np.ndarray, shape: tuple, n_classes: int,
                 where) -> None:
    """``x`` uint8 (n, *shape) and ``y`` labels 0..n_classes-1 of the same length."""
    if x.dtype != np.uint8 or x.shape[1:] != shape:
        raise DataError(f"{name}: expected uint8 images of shape {shape}, got {x.dtype} "
                        f"{x.shape}", where)
    if len(y) != len(x):
        raise DataError(f"{name}: {len(x)} images but {len(y)} labels", where)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise DataError(f"{name}: labels outside 0..{n_classes - 1}", where)


def load_data(path: str = "mnist.npz", allow_bundled: bool = False,
              progress: Progress | None = None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 (60000, 28, 28) / (60000,) and
    (10000, 28, 28) / (10000,), pixel values 0..255, labels 0..9.

    ``path``: the file name in the cache. ``allow_bundled``: offline, return the bundled
    24,000 + 10,000 image subset (with a warning) instead of raising. ``progress(done,
    total)``: download progress (default: a line on stderr).
    """
    try:
        file = fetch(path, ORIGIN, SHA256, progress=progress, offline_hint=OFFLINE_HINT)
    except DatasetUnavailableError as e:
        if not allow_bundled:
            raise
        warnings.warn(f"{e}\nUsing the bundled MNIST subset: 24,000 training and 10,000 test "
                      f"images.", RuntimeWarning, stacklevel=2)
        return bundled.mnist_subset()
    arrays = read_npz(file)
    try:
        x_train, y_train = arrays["x_train"], arrays["y_train"]
        x_test, y_test = arrays["x_test"], arrays["y_test"]
    except KeyError as e:
        raise DataError(f"has no array {e}", file) from None
    check_images("x_train", x_train, y_train, (28, 28), 10, file)
    check_images("x_test", x_test, y_test, (28, 28), 10, file)
    return (x_train, y_train), (x_test, y_test)
