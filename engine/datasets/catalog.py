"""The downloadable data sets a project's data source can name — ``{"kind": "keras_dataset",
"name": "cifar10"}`` — with what the app shows about them and where a local copy may come from.

``load(name, path=None, progress=None)`` returns Keras's ``load_data()`` arrays: from LayerLoom's
cache or Keras's (``~/.keras/datasets``), else downloaded (sha256-checked, resumable; see
:mod:`engine.datasets.download`), or — with ``path`` — from the user's own copy of Keras's files:

- ``mnist``: ``mnist.npz`` (the published file; its sha256 is checked);
- ``fashion_mnist``: the folder holding the four ``*-ubyte.gz`` files (each checked), or one of
  them;
- ``cifar10``: the published ``cifar-10-python.tar.gz`` (checked), or the extracted
  ``cifar-10-batches-py`` folder (there is no published hash of the extracted batches: each
  batch's structure is checked instead, and read without unpickling code).

``is_downloaded(name)`` says, without the network and without reading the files, whether
``load`` will find a copy on disk.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.data.errors import DataError
from engine.data.loaders import read_npz
from engine.datasets import cifar10, fashion_mnist, mnist
from engine.datasets.download import Progress, data_dir, hash_matches, keras_cache_dir

# progress of a download of several files: (file name, bytes done, bytes in that file or None)
FileProgress = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class KerasDataset:
    name: str                 # the data source's "name" and Keras's module name
    title: str
    description: str
    download_mb: float        # what a download transfers
    sample_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    local_copy: str           # what the user may point to instead of downloading


DATASETS: dict[str, KerasDataset] = {d.name: d for d in (
    KerasDataset("mnist", "MNIST (full)", "70,000 28×28 grayscale handwritten digits "
                 "(60,000 training + 10,000 test)", 11.5, (28, 28),
                 tuple(str(i) for i in range(10)), "mnist.npz"),
    KerasDataset("fashion_mnist", "Fashion-MNIST", "70,000 28×28 grayscale images of 10 kinds "
                 "of clothing (60,000 training + 10,000 test)", 30.9, (28, 28),
                 tuple(fashion_mnist.CLASS_NAMES),
                 "the fashion-mnist folder with its four *-ubyte.gz files"),
    KerasDataset("cifar10", "CIFAR-10", "60,000 32×32 colour images in 10 classes "
                 "(50,000 training + 10,000 test)", 170.5, (32, 32, 3),
                 tuple(cifar10.CLASS_NAMES),
                 "cifar-10-python.tar.gz, or its extracted cifar-10-batches-py folder"),
)}


def names() -> list[str]:
    return list(DATASETS)


def info(name: str) -> KerasDataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"no downloadable data set named {name!r}; data sets: "
                        f"{', '.join(DATASETS)}") from None


def is_downloaded(name: str) -> bool:
    """True when a copy is on disk (LayerLoom's cache or Keras's): ``load`` needs no network.
    Only looks for the files; ``load`` still checks them."""
    info(name)
    roots = (data_dir(), keras_cache_dir())
    if name == "mnist":
        return any((r / "mnist.npz").is_file() for r in roots)
    if name == "fashion_mnist":
        return any(all((r / fashion_mnist.CACHE_SUBDIR / f).is_file()
                       for f in fashion_mnist.FILE_HASHES) for r in roots)
    return ((data_dir() / cifar10.CACHE).is_file()
            or any((r / cifar10.ARCHIVE).is_file() for r in roots)
            or all((keras_cache_dir() / cifar10.FOLDER / b).is_file() for b in cifar10.BATCHES))


def load(name: str, path: str | Path | None = None, progress: FileProgress | None = None):
    """``(x_train, y_train), (x_test, y_test)`` as Keras's ``load_data()`` gives them: uint8
    images, integer labels (CIFAR-10's as (n, 1), like Keras). ``path``: the user's copy (see
    the module docstring). ``progress(file, done, total)`` reports a download."""
    info(name)
    if path is not None:
        return _load_local(name, Path(path).expanduser())

    def per_file(fname: str) -> Progress | None:
        if progress is None:
            return None
        return lambda done, total: progress(fname, done, total)
    if name == "mnist":
        return mnist.load_data(progress=per_file("mnist.npz"))
    if name == "fashion_mnist":
        return fashion_mnist.read_files(fashion_mnist.download_files(per_file))
    return cifar10.load_data(progress=per_file(cifar10.ARCHIVE))


def _checked(path: Path, expected: str, what: str) -> Path:
    if not path.is_file():
        raise DataError(f"no such file (expected {what})", path)
    if not hash_matches(path, expected):
        raise DataError(f"is not the published {what}: its sha256 differs from Keras's "
                        f"{expected[:12]}… (a damaged or different file)", path)
    return path


def _load_local(name: str, path: Path):
    if not path.exists():
        raise DataError(f"no such file or folder (expected {info(name).local_copy})", path)
    if name == "mnist":
        arrays = read_npz(_checked(path, mnist.SHA256, "mnist.npz"))
        try:
            x, y, xt, yt = (arrays[k] for k in ("x_train", "y_train", "x_test", "y_test"))
        except KeyError as e:
            raise DataError(f"has no array {e}", path) from None
        mnist.check_images("x_train", x, y, (28, 28), 10, path)
        mnist.check_images("x_test", xt, yt, (28, 28), 10, path)
        return (x, y), (xt, yt)
    if name == "fashion_mnist":
        return _fashion_folder(path if path.is_dir() else path.parent)
    if path.is_dir():
        folder = path / cifar10.FOLDER if (path / cifar10.FOLDER).is_dir() else path
        missing = [b for b in cifar10.BATCHES if not (folder / b).is_file()]
        if missing:
            raise DataError(f"is not an extracted CIFAR-10 folder: no {', '.join(missing)}",
                            folder)
        return cifar10.read_folder(folder)
    return cifar10.read_archive(_checked(path, cifar10.SHA256, "cifar-10-python.tar.gz"))


def _fashion_folder(folder: Path):
    return fashion_mnist.read_files({
        fname: _checked(folder / fname, sha, f"Fashion-MNIST file {fname}")
        for fname, sha in fashion_mnist.FILE_HASHES.items()})
