"""Callbacks on real training runs: early stopping, checkpoints, LR changes, CSV, lambdas."""
import csv

import numpy as np
import pytest

from engine import callbacks as C
from engine.layers import Dense
from engine.models import Sequential


def _model(lr=0.01):
    from engine.optimizers import SGD
    m = Sequential([Dense(1, input_dim=2)])
    m.compile(SGD(lr), "mse")
    return m


def _data(n=64):
    r = np.random.default_rng(0)
    x = r.standard_normal((n, 2)).astype(np.float32)
    return x, x @ np.array([[1.0], [-2.0]], dtype=np.float32)


def test_early_stopping_restores_best_weights():
    x, y = _data()
    model = _model(lr=5.0)  # diverges after the first epochs, so val_loss stops improving
    es = C.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    best = {}

    def remember(epoch, logs):
        if logs["loss"] < best.get("loss", np.inf):
            best.update(loss=logs["loss"], weights=model.get_weights())
    h = model.fit(x, y, epochs=50, verbose=0, callbacks=[C.LambdaCallback(on_epoch_end=remember), es])
    assert len(h.history["loss"]) < 50 and es.stopped_epoch > 0
    for a, b in zip(model.get_weights(), best["weights"]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_best_only(tmp_path):
    x, y = _data()
    model = _model()
    path = tmp_path / "w-{epoch:02d}.h5"
    model.fit(x, y, epochs=3, verbose=0, validation_split=0.25,
              callbacks=[C.ModelCheckpoint(str(path), save_best_only=True, save_weights_only=True)])
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved and saved[0] == "w-01.h5"


def test_reduce_lr_on_plateau_and_scheduler():
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=3, verbose=0,
              callbacks=[C.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    assert model.optimizer.learning_rate == pytest.approx(0.1 / 3)
    model = _model(lr=1e-12)  # no visible progress → a plateau from epoch 2 on
    r = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)
    h = model.fit(x, y, epochs=3, verbose=0, callbacks=[r])
    assert model.optimizer.learning_rate == pytest.approx(2.5e-13)
    assert h.history["learning_rate"][0] == pytest.approx(1e-12)


def test_csv_logger_and_history(tmp_path):
    x, y = _data()
    model = _model()
    log = tmp_path / "log.csv"
    h = model.fit(x, y, epochs=2, verbose=0, callbacks=[C.CSVLogger(str(log))])
    rows = list(csv.DictReader(open(log)))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert float(rows[1]["loss"]) == pytest.approx(h.history["loss"][1])


def test_terminate_on_nan():
    cb = C.TerminateOnNaN()

    class M:
        stop_training = False
    cb.set_model(M())
    cb.on_train_batch_end(0, {"loss": float("nan")})
    assert cb.model.stop_training


def test_callback_list_dispatches():
    seen = []
    lst = C.CallbackList([C.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))])
    lst.on_epoch_end(3, {})
    assert seen == [3]
    with pytest.raises(TypeError, match="unknown hook"):
        C.LambdaCallback(on_epoch_finish=print)
