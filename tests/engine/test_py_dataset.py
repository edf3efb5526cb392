"""keras.utils.PyDataset (= Sequence) in fit/evaluate/predict: epoch hooks, shuffling of
batch order, endless datasets with steps_per_epoch, and workers reading batches ahead in
threads in the right order."""
import threading
import time

import numpy as np
import pytest

import engine as keras
from engine import layers, models
from engine.utils import PyDataset, Sequence


class Batches(PyDataset):
    def __init__(self, x, y, batch_size, delay=0.0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size, self.delay = x, y, batch_size, delay
        self.calls, self.events, self.threads = [], [], set()
        self.lock = threading.Lock()

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, idx):
        time.sleep(self.delay)
        with self.lock:
            self.calls.append(idx)
            self.threads.add(threading.get_ident())
        sl = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        return self.x[sl], self.y[sl]

    def on_epoch_begin(self):
        self.events.append("begin")

    def on_epoch_end(self):
        self.events.append("end")


def _data(n=40):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (n, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], np.float32))


def _model():
    m = models.Sequential([layers.Input((3,)), layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    return m


def test_names_and_arguments():
    assert keras.utils.PyDataset is PyDataset and Sequence is PyDataset
    ds = Batches(*_data(), 8, workers=3, use_multiprocessing=False, max_queue_size=4)
    assert (ds.workers, ds.use_multiprocessing, ds.max_queue_size, ds.num_batches) == \
        (3, False, 4, 5)

    class Old(Sequence):       # Keras 2 style: no super().__init__
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.zeros((1, 3)), np.zeros((1, 1))
    assert (Old().workers, Old().max_queue_size) == (1, 10)
    with pytest.raises(ValueError, match="workers must be a whole number >= 1"):
        Batches(*_data(), 8, workers=0)


def test_fit_evaluate_predict_with_epoch_hooks_and_shuffled_order():
    x, y = _data()
    ds = Batches(x, y, 8)
    model = _model()
    hist = model.fit(ds, epochs=2, verbose=0, validation_data=Batches(x, y, 10))
    assert len(hist.history["val_loss"]) == 2
    assert ds.events == ["begin", "end"] * 2
    assert sorted(ds.calls[:5]) == sorted(ds.calls[5:10]) == list(range(5))
    ds.calls.clear()
    model.fit(ds, epochs=3, verbose=0, shuffle=False)
    assert ds.calls == list(range(5)) * 3
    assert model.evaluate(ds, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0),
                                                          rel=1e-5)
    class XOnly(Batches):
        def __getitem__(self, i):
            return super().__getitem__(i)[0]
    xs_only = XOnly(x, y, 8)
    np.testing.assert_allclose(model.predict(xs_only, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_shuffle_permutes_batches_each_epoch():
    x, y = _data(80)
    ds = Batches(x, y, 8)
    _model().fit(ds, epochs=4, verbose=0, shuffle=True)
    passes = [ds.calls[i * 10:(i + 1) * 10] for i in range(4)]
    assert all(sorted(p) == list(range(10)) for p in passes)
    assert len({tuple(p) for p in passes}) > 1


def test_workers_read_ahead_in_threads_and_keep_the_order():
    x, y = _data(64)
    plain, threaded = Batches(x, y, 8), Batches(x, y, 8, delay=0.01, workers=4,
                                                max_queue_size=3)
    m1, m2 = _model(), _model()
    m2.set_weights(m1.get_weights())
    m1.fit(plain, epochs=2, verbose=0, shuffle=False)
    m2.fit(threaded, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)     # same batches in the same order
    assert len(threaded.threads) > 1
    assert threaded.events == ["begin", "end"] * 2     # hooks between passes, not inside
    with pytest.warns(RuntimeWarning, match="runs the workers as threads"):
        _model().fit(Batches(x, y, 8, workers=2, use_multiprocessing=True), verbose=0)


def test_endless_dataset_needs_steps_per_epoch():
    class Endless(PyDataset):
        def __getitem__(self, i):
            rng = np.random.default_rng(i)
            x = rng.normal(0, 1, (4, 3)).astype(np.float32)
            return x, x[:, :1]
    assert Endless().num_batches is None
    model = _model()
    hist = model.fit(Endless(), steps_per_epoch=3, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(Endless(), epochs=1, verbose=0)
