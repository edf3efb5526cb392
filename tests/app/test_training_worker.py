"""The training thread: signals, pause/resume/stop, divergence and failures (pytest-qt)."""
import numpy as np
import pytest
from PySide6.QtCore import QObject, QThread

from app.training.worker import (
    TrainingJob,
    TrainingWorker,
    batch_values,
    learning_rate,
    mean_log_keys,
)
from engine import optimizers
from engine.layers import Dense
from engine.models import Sequential


def _blobs(n=256, seed=0):
    r = np.random.default_rng(seed)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=np.float32)
    y = r.integers(0, 3, n)
    return (centers[y] + 0.4 * r.standard_normal((n, 4))).astype(np.float32), y


def _model(lr=0.01):
    m = Sequential([Dense(16, activation="relu", input_dim=4, name="hidden"),
                    Dense(3, activation="softmax", name="probs")])
    m.compile(optimizers.Adam(learning_rate=lr), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


class Recorder(QObject):
    """Runs a worker in a QThread and keeps everything it emits (slots run in the GUI thread,
    as the controller's do)."""

    def __init__(self, qtbot, job):
        super().__init__()
        self.batches, self.epochs, self.logs, self.results = [], [], [], []
        self.outcome = None
        self.thread = QThread()
        self.worker = TrainingWorker(job)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.batches.connect(self._batches)
        self.worker.epoch_end.connect(self._epoch)
        self.worker.log_line.connect(self._log)
        self.worker.evaluated.connect(self._evaluated)
        self.worker.finished.connect(self._done)
        self.worker.paused.connect(self._paused)
        self.paused = 0
        self.qtbot = qtbot

    def _batches(self, points):
        self.batches.extend(points)

    def _epoch(self, epoch, logs):
        self.epochs.append((epoch, logs))

    def _log(self, line):
        self.logs.append(line)

    def _evaluated(self, result):
        self.results.append(result)

    def _done(self, outcome):
        self.outcome = outcome
        self.thread.quit()

    def _paused(self):
        self.paused += 1

    def start(self):
        self.thread.start()

    def wait_done(self, timeout=60000):
        # waitUntil polls in the GUI thread; qtbot.waitSignal on a signal emitted in the
        # training thread would stop its timer from that thread
        self.qtbot.waitUntil(lambda: self.outcome is not None, timeout=timeout)
        self.thread.wait()
        return self.outcome

    def run(self, timeout=60000):
        self.start()
        return self.wait_done(timeout)


def test_full_run_reports_batches_epochs_and_evaluation(qtbot):
    x, y = _blobs()
    job = TrainingJob(_model(), x[:200], y[:200], validation=(x[200:], y[200:]),
                      evaluation=(x[200:], y[200:]), batch_size=32, epochs=3,
                      class_names=["a", "b", "c"])
    rec = Recorder(qtbot, job)
    out = rec.run()
    assert out.status == "completed" and out.epochs_done == 3
    assert len(rec.batches) == 3 * 7                     # ceil(200 / 32) batches per epoch
    p = rec.batches[-1]
    assert (p.epoch, p.step, p.steps) == (2, 7, 7) and p.lr == pytest.approx(0.01)
    assert [e for e, _ in rec.epochs] == [0, 1, 2]
    assert set(rec.epochs[-1][1]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert out.history["loss"] == [logs["loss"] for _, logs in rec.epochs]
    # per-batch values recombine into the epoch means (6 batches of 32, one of 8)
    sizes = np.array([32] * 6 + [8])
    for epoch in range(3):
        pts = [p for p in rec.batches if p.epoch == epoch]
        for key in ("loss", "accuracy"):
            mean = np.dot([p.values[key] for p in pts], sizes) / 200
            assert mean == pytest.approx(pts[-1].logs[key], rel=1e-6)
    assert all(p.values["accuracy"] in np.arange(33) / 32 or p.step == 7 for p in rec.batches)
    result = rec.results[0]
    assert result.kind == "multiclass" and result.confusion.sum() == 56
    assert result.class_names == ["a", "b", "c"]
    assert any("Epoch 3/3" in line for line in rec.logs)


def test_continuing_counts_epochs_from_initial_epoch(qtbot):
    x, y = _blobs()
    model = _model()
    Recorder(qtbot, TrainingJob(model, x, y, epochs=1)).run()
    rec = Recorder(qtbot, TrainingJob(model, x, y, epochs=3, initial_epoch=1))
    out = rec.run()
    assert out.epochs_done == 3 and [e for e, _ in rec.epochs] == [1, 2]


def test_pause_holds_training_until_resume_then_stop_keeps_weights(qtbot):
    x, y = _blobs(2048)
    model = _model()
    rec = Recorder(qtbot, TrainingJob(model, x, y, batch_size=16, epochs=200))
    rec.worker.pause()                      # takes effect at the end of the first batch
    rec.start()
    qtbot.waitUntil(lambda: rec.paused == 1, timeout=60000)
    assert rec.worker.is_paused
    steps = model.optimizer.iterations
    paused_weights = model.get_weights()
    qtbot.wait(150)
    assert model.optimizer.iterations == steps               # no batch ran while paused
    n = len(rec.batches)
    rec.worker.resume()
    qtbot.waitUntil(lambda: len(rec.batches) > n + 2, timeout=60000)
    rec.worker.stop()
    out = rec.wait_done()
    assert out.status == "stopped" and out.epochs_done < 200
    assert model.optimizer.iterations > steps
    trained = model.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(paused_weights, trained))
    assert all(np.isfinite(w).all() for w in trained)


def test_stop_while_paused_ends_the_run(qtbot):
    x, y = _blobs(1024)
    rec = Recorder(qtbot, TrainingJob(_model(), x, y, batch_size=8, epochs=100,
                                      evaluation=(x, y)))
    rec.worker.pause()
    rec.start()
    qtbot.waitUntil(lambda: rec.paused == 1, timeout=60000)
    rec.worker.stop(abort=True)
    assert rec.wait_done().status == "stopped" and rec.results == []  # abort: no evaluation


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_divergence_is_reported_with_the_layer(qtbot):
    r = np.random.default_rng(0)
    x = (r.standard_normal((256, 4)) * 10).astype(np.float32)
    y = r.standard_normal((256, 1)).astype(np.float32)
    model = Sequential([Dense(8, activation="relu", input_dim=4, name="hidden"),
                        Dense(1, name="out")])
    model.compile(optimizers.SGD(learning_rate=1e6), "mse")
    with pytest.warns(RuntimeWarning, match="not finite"):
        out = Recorder(qtbot, TrainingJob(model, x, y, epochs=3, evaluation=(x, y))).run()
    assert out.status == "diverged" and out.layer == "out"
    assert "Dense 'out'" in out.message and "not finite" in out.message


def test_an_exception_in_fit_becomes_a_failed_outcome(qtbot):
    x, _ = _blobs()
    rec = Recorder(qtbot, TrainingJob(_model(), x, np.zeros((len(x), 7)), epochs=1))
    out = rec.run()
    assert out.status == "failed" and out.message and "Traceback" in out.details


def test_learning_rate_reads_the_optimizer():
    assert learning_rate(optimizers.SGD(learning_rate=0.5)) == 0.5
    assert learning_rate(None) is None


def test_batch_values_undo_running_means_only_for_means():
    model = _model()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy", "auc"])
    x, y = _blobs(8)
    model.fit(x, y, epochs=1, verbose=0)            # resolves the metrics
    assert mean_log_keys(model) == {"loss", "probs_loss", "accuracy"}
    v = batch_values({"loss": 2.0, "auc": 0.5}, {"loss": 1.0, "auc": 0.9}, 20, 10,
                     {"loss"})
    assert v == {"loss": 3.0, "auc": 0.5}


def test_a_normalization_layer_is_adapted_to_the_training_data_first(qtbot):
    from engine.layers import Normalization
    x, y = _blobs()
    x = x * 50 + 300                                    # far from zero mean, unit variance
    model = Sequential([Normalization(input_shape=(4,), name="norm"),
                        Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    rec = Recorder(qtbot, TrainingJob(model, x[:200], y[:200], batch_size=32, epochs=2))
    assert rec.run().status == "completed"
    norm = model.layers[0]
    np.testing.assert_allclose(norm.mean.value, x[:200].mean(0), rtol=1e-5)
    assert any("Adapted norm to the training data" in line for line in rec.logs)
    rec = Recorder(qtbot, TrainingJob(model, x[:200], y[:200], batch_size=32, epochs=3,
                                      initial_epoch=2))
    rec.run()
    assert not any("Adapted" in line for line in rec.logs)   # once only
