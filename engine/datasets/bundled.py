"""The real data bundled with LayerLoom in ``resources/data`` (no network needed).

``mnist_subset()``: the first 24,000 MNIST training images and the official 10,000 test images,
uint8 (N, 28, 28), with Keras's ``mnist.load_data()`` return structure.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

RESOURCES = Path(__file__).resolve().parents[2] / "resources" / "data"


def mnist_subset():
    path = RESOURCES / "mnist_subset.npz"
    if not path.is_file():
        raise FileNotFoundError(f"the bundled MNIST subset is missing: {path}")
    with np.load(path, allow_pickle=False) as d:
        return (d["x_train"], d["y_train"]), (d["x_test"], d["y_test"])


NAMES = {"mnist": mnist_subset}
