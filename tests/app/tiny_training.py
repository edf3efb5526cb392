"""Training the ``window`` fixture's graph (input 28×28 → … → 10 classes) on a few random
digits, for tests of what the window does around a run."""
from __future__ import annotations

import numpy as np

from app.training.run_setup import DataArrays


def tiny_digits(n: int = 96, seed: int = 0) -> DataArrays:
    r = np.random.default_rng(seed)
    x = r.random((n, 28, 28), dtype=np.float32)
    y = r.integers(0, 10, n)
    return DataArrays(x, y, class_names=[str(i) for i in range(10)])


def write_npz(folder, n: int = 96) -> dict:
    """``tiny_digits`` as an .npz file in ``folder`` (train and test part); returns the data
    source that reads it."""
    d = tiny_digits(n)
    path = folder / "tiny_digits.npz"
    np.savez(path, x_train=d.x[: n * 3 // 4], y_train=d.y[: n * 3 // 4],
             x_test=d.x[n * 3 // 4:], y_test=d.y[n * 3 // 4:])
    return {"kind": "npz", "path": str(path)}


def prepare(window, epochs: int = 1, batch_size: int = 16) -> None:
    """The window's project trains ``epochs`` epochs on ``tiny_digits`` with a 25% split."""
    t = window.project.training
    t.loss, t.metrics, t.epochs, t.batch_size = "sparse_categorical_crossentropy", \
        ["accuracy"], epochs, batch_size
    t.validation_split = 0.25
    window.training.use_data(tiny_digits())


def train(window, qtbot, timeout: int = 60000):
    """Press Train and wait for the run's outcome."""
    done = []

    def finished(outcome) -> None:
        done.append(outcome)

    window.training.run_finished.connect(finished)
    assert window.training.train_action.isEnabled()
    window.training.train_action.trigger()
    qtbot.waitUntil(lambda: bool(done), timeout=timeout)
    window.training.run_finished.disconnect(finished)
    return done[0]
