"""Real MNIST for benchmarks: ../shared/data/mnist when present, else the bundled subset."""
from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = [ROOT.parent / "shared" / "data" / "mnist" / "mnist_24k.npz",
              ROOT / "resources" / "data" / "mnist_subset.npz"]


def load_mnist(n_train: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_train`` images scaled to [0, 1] (float32, (n, 28, 28)) and integer labels."""
    for path in CANDIDATES:
        if path.is_file():
            with np.load(path) as d:
                x, y = d["x_train"][:n_train], d["y_train"][:n_train]
            return x.astype(np.float32) / 255.0, y.astype(np.int64)
    raise FileNotFoundError("no MNIST data found in " + ", ".join(map(str, CANDIDATES)))
