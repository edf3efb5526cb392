"""Background prefetch of Sequence batches (engine/data/prefetch.py): same batches, same order,
same trained weights as fetching on the training thread."""
import threading
import time

import engine  # noqa: F401  (before numba: the threading policy sets numba's pool size)
import numba
import numpy as np
import pytest
from PIL import Image

from engine.data.prefetch import prefetch_settings, prefetched
from engine.data.streaming import ImageFolderSequence
from engine.layers import Dense, Flatten
from engine.models import Sequential
from engine.utils import Sequence


def test_results_come_in_key_order_whatever_finishes_first():
    rng = np.random.default_rng(0)
    delays = rng.uniform(0, 0.01, 40)

    def fetch(k):
        time.sleep(delays[k])
        return k * k
    assert list(prefetched(fetch, range(40), workers=4, depth=6)) == [k * k for k in range(40)]


def test_at_most_depth_fetches_run_ahead():
    started, consumed = [], []

    def fetch(k):
        started.append(k)
        return k
    for k in prefetched(fetch, range(30), workers=2, depth=3):
        time.sleep(0.002)
        consumed.append(k)
        assert max(started) <= k + 3
    assert consumed == list(range(30))


def test_an_error_is_raised_at_its_place():
    def fetch(k):
        if k == 5:
            raise ValueError("bad file 5")
        return k
    got = []
    with pytest.raises(ValueError, match="bad file 5"):
        for k in prefetched(fetch, range(10), workers=3, depth=4):
            got.append(k)
    assert got == [0, 1, 2, 3, 4]


def test_closing_stops_the_workers():
    calls = []
    gen = prefetched(lambda k: calls.append(k) or k, range(1000), workers=2, depth=4)
    assert next(gen) == 0
    gen.close()
    n = len(calls)
    time.sleep(0.05)
    assert len(calls) == n <= 6
    assert not any(t.name.startswith("layerloom-prefetch") for t in threading.enumerate())


def test_workers_run_numba_kernels_on_one_thread():
    seen = list(prefetched(lambda k: numba.get_num_threads(), range(4), workers=2, depth=2))
    assert seen == [1, 1, 1, 1]


def test_settings_follow_pydataset_arguments():
    assert prefetch_settings(Sequence()) == (0, 0)                  # workers=1: no threads
    assert prefetch_settings(Sequence(workers=3, max_queue_size=2)) == (3, 3)
    assert prefetch_settings(object()) == (0, 0)


class _Noisy(Sequence):
    """Random-length fetch times, a reshuffle at every epoch end: a stress for the order."""

    def __init__(self, workers):
        super().__init__(workers=workers, max_queue_size=5)
        rng = np.random.default_rng(1)
        self.x = rng.standard_normal((96, 4, 3)).astype(np.float32)
        self.y = rng.integers(0, 3, 96)
        self.order = np.arange(96)
        self.rng = np.random.default_rng(2)

    def __len__(self):
        return 12

    def __getitem__(self, i):
        time.sleep(float(np.random.default_rng(i).uniform(0, 0.003)))
        idx = self.order[i * 8:(i + 1) * 8]
        return self.x[idx], self.y[idx]

    def on_epoch_end(self):
        self.order = self.rng.permutation(96)


def test_training_with_prefetch_equals_training_without():
    weights = []
    for workers in (1, 3):
        np.random.seed(0)
        model = Sequential([Flatten(input_shape=(4, 3)), Dense(5, activation="relu",
                                                              kernel_initializer="ones"),
                            Dense(3, activation="softmax", kernel_initializer="ones")])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(_Noisy(workers), epochs=3, verbose=0, seed=7)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_image_folder_counts_the_first_pass(tmp_path):
    rng = np.random.default_rng(3)
    files = []
    for i in range(10):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(path)
        files.append((path, i % 2))
    seq = ImageFolderSequence(files, 2, batch_size=4, workers=2, max_queue_size=2)
    assert seq.first_pass == (0, 10)
    batches = list(prefetched(seq.__getitem__, range(len(seq)), 2, 2))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert seq.first_pass == (10, 10)
    list(prefetched(seq.__getitem__, range(len(seq)), 2, 2))
    assert seq.first_pass == (10, 10) and seq.decoded == 20
