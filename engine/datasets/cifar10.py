"""CIFAR-10, as ``keras.datasets.cifar10``: 60,000 32×32 colour images in 10 classes.

The published "python version" archive (``cifar-10-python.tar.gz``, 163 MB, Keras's sha256)
holds six batches that are Python pickles; they are read with
:class:`engine.datasets.safe_pickle.RestrictedUnpickler`, which rebuilds only dicts, lists,
bytes and NumPy arrays, straight from the archive (nothing is extracted). The arrays are then
kept in the cache as ``cifar10.npz`` (plain arrays, no pickle), so later loads take a second.
A copy that Keras already downloaded (``~/.keras/datasets``) is used instead of downloading.
"""
from __future__ import annotations

import contextlib
import os
import tarfile
from pathlib import Path

import numpy as np

from engine.data.errors import DataError
from engine.data.loaders import read_npz
from engine.datasets.download import Progress, data_dir, fetch, keras_cache_dir
from engine.datasets.mnist import check_images
from engine.datasets.safe_pickle import load_pickle

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
ARCHIVE = "cifar-10-batches-py.tar.gz"       # the name Keras caches it under
FOLDER = "cifar-10-batches-py"
BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
CACHE = "cifar10.npz"
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]
OFFLINE_HINT = ("No copy of CIFAR-10 ships with LayerLoom; once downloaded it is cached and "
                "works offline.")


def read_batch(data: bytes, source, label_key: str = "labels") -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR python batch (pickle bytes) → ``(x uint8 (n, 32, 32, 3), y uint8 (n,))``."""
    d = load_pickle(data, source)
    if not isinstance(d, dict):
        raise DataError(f"expected a dict of arrays, got {type(d).__name__}", source)
    d = {k.decode("utf-8") if isinstance(k, bytes) else k: v for k, v in d.items()}
    if "data" not in d or label_key not in d:
        raise DataError(f"has no 'data' or {label_key!r} entry (keys: {', '.join(d)})", source)
    x, y = d["data"], np.asarray(d[label_key])
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or \
            x.shape[1] != 3 * 32 * 32:
        shape = getattr(x, "shape", None)
        raise DataError(f"'data' must be uint8 (n, 3072), got {getattr(x, 'dtype', x)} {shape}",
                        source)
    if y.ndim != 1 or len(y) != len(x) or y.dtype.kind not in "iu":
        raise DataError(f"{len(x)} images but labels of shape {y.shape} ({y.dtype})", source)
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DataError("labels outside 0..9", source)
    return x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), y.astype(np.uint8)


def _assemble(read) -> tuple:
    """Keras's layout from ``read(batch name) → (x, y)``: y as (n, 1)."""
    parts = [read(name) for name in BATCHES]
    x_train = np.concatenate([p[0] for p in parts[:5]])
    y_train = np.concatenate([p[1] for p in parts[:5]]).reshape(-1, 1)
    x_test, y_test = parts[5][0], parts[5][1].reshape(-1, 1)
    return (x_train, y_train), (x_test, y_test)


def read_archive(path) -> tuple:
    """The six batches read from the published ``.tar.gz`` without extracting it."""
    path = Path(path)
    try:
        with tarfile.open(path, "r:gz") as tar:
            def read(name):
                try:
                    member = tar.getmember(f"{FOLDER}/{name}")
                except KeyError:
                    raise DataError(f"the archive has no {FOLDER}/{name}", path) from None
                if not member.isfile():
                    raise DataError(f"{FOLDER}/{name} is not a regular file", path)
                return read_batch(tar.extractfile(member).read(), f"{path}:{name}")
            return _assemble(read)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"is not a readable .tar.gz archive ({e})", path) from None


def read_folder(folder) -> tuple:
    """The six batches from an extracted ``cifar-10-batches-py`` folder."""
    folder = Path(folder)
    return _assemble(lambda name: read_batch((folder / name).read_bytes(), folder / name))


def _save_cache(path: Path, arrays: tuple) -> None:
    """Keep the arrays as a plain .npz (a speed-up only: a read-only cache is fine)."""
    (x_train, y_train), (x_test, y_test) = arrays
    tmp = path.with_name(path.name + ".tmp.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _read_cache(path: Path):
    try:
        a = read_npz(path)
        arrays = (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])
    except (DataError, KeyError):
        return None                                   # rebuilt from the archive below
    for name, (x, y) in zip(("train", "test"), arrays):
        check_images(name, x, y.reshape(-1), (32, 32, 3), 10, path)
    return arrays


def load_data(progress: Progress | None = None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 (50000, 32, 32, 3) / uint8 (50000, 1)
    and (10000, 32, 32, 3) / (10000, 1); labels 0..9 index :data:`CLASS_NAMES`."""
    cache = data_dir() / CACHE
    if cache.is_file() and (arrays := _read_cache(cache)) is not None:
        return arrays
    keras_folder = keras_cache_dir() / FOLDER
    if all((keras_folder / name).is_file() for name in BATCHES):
        arrays = read_folder(keras_folder)
    else:
        arrays = read_archive(fetch(ARCHIVE, ORIGIN, SHA256, progress=progress,
                                    offline_hint=OFFLINE_HINT))
    _save_cache(cache, arrays)
    return arrays
