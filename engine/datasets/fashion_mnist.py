"""Fashion-MNIST (Zalando), as ``keras.datasets.fashion_mnist``: 70,000 28×28 grayscale images of
10 kinds of clothing, from the four published IDX files (with Keras's sha256 hashes)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.data.errors import DataError
from engine.data.loaders import read_idx
from engine.datasets.download import Progress, fetch
from engine.datasets.mnist import check_images

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CACHE_SUBDIR = "fashion-mnist"
FILE_HASHES = {  # sha256, as published in Keras's fashion_mnist.py
    "train-labels-idx1-ubyte.gz":
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz":
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz":
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz":
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
OFFLINE_HINT = ("No copy of Fashion-MNIST ships with LayerLoom; offline, use the bundled real "
                "MNIST digits (engine.datasets.mnist.load_data(allow_bundled=True)).")


def download_files(progress_for: Callable[[str], Progress | None] = lambda fname: None
                   ) -> dict[str, Path]:
    """The four published files (cached, sha256-checked): file name → local path.
    ``progress_for(file name)`` gives each download's progress callback."""
    return {fname: fetch(fname, BASE + fname, sha, CACHE_SUBDIR, progress_for(fname),
                         OFFLINE_HINT) for fname, sha in FILE_HASHES.items()}


def read_files(paths: dict[str, Path]) -> tuple:
    """``(x_train, y_train), (x_test, y_test)`` from the four files (file name → path)."""
    out = []
    for split in ("train", "t10k"):
        images, labels = paths[f"{split}-images-idx3-ubyte.gz"], \
            paths[f"{split}-labels-idx1-ubyte.gz"]
        x, y = read_idx(images), read_idx(labels)
        if y.ndim != 1:
            raise DataError(f"expected a 1-D labels file, got shape {y.shape}", labels)
        check_images(split, x, y, (28, 28), 10, images)
        out.append((x, y))
    return tuple(out)


def load_data(progress: Progress | None = None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 (60000, 28, 28) / (60000,) and
    (10000, 28, 28) / (10000,); labels 0..9 index :data:`CLASS_NAMES`."""
    return read_files(download_files(lambda fname: progress))
