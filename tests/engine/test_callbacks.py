"""Callbacks: Keras semantics checked hook by hook on a tiny fake model, then on real runs
(early stopping, checkpoints, LR changes, CSV, lambdas)."""
import csv

import numpy as np
import pytest

from engine import callbacks as C
from engine.layers import Dense
from engine.models import Sequential


class FakeOptimizer:
    def __init__(self, lr):
        self.learning_rate = lr


class FakeModel:
    """What callbacks may touch: stop_training, weights, save_weights/save, optimizer."""

    def __init__(self, lr=0.1, can_save=True):
        self.stop_training = False
        self.weights = [np.zeros(2)]
        self.optimizer = FakeOptimizer(lr)
        self.saved: list[tuple[str, str]] = []
        if can_save:
            self.save = lambda path: self.saved.append(("model", path))

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save_weights(self, path):
        self.saved.append(("weights", path))


def run(callback, values, model=None, key="val_loss", extra=None):
    """Drive ``callback`` through epochs whose logs carry ``values``; the fake model's weights
    record the epoch (so restored weights show which epoch they came from). Returns the model
    and the number of epochs run."""
    model = model or FakeModel()
    callback.set_model(model)
    callback.set_params({"epochs": len(values), "steps": 1, "verbose": 0})
    callback.on_train_begin({})
    epochs = 0
    for epoch, v in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        model.weights = [np.full(2, float(epoch))]
        callback.on_train_batch_end(0, {"loss": 1.0})
        logs = {key: v, **(extra or {})}
        callback.on_epoch_end(epoch, logs)
        epochs += 1
        if model.stop_training:
            break
    callback.on_train_end({})
    return model, epochs


# ---------------------------------------------------------------- EarlyStopping
def test_early_stopping_patience_and_min_delta():
    es = C.EarlyStopping(patience=2)
    _, epochs = run(es, [1.0, 0.9, 0.95, 0.92, 0.5])
    assert epochs == 4 and es.stopped_epoch == 3 and es.best == 0.9
    es = C.EarlyStopping(patience=1, min_delta=0.2)
    _, epochs = run(es, [1.0, 0.85, 0.7])  # 0.85 is not better by more than 0.2
    assert epochs == 2


def test_early_stopping_mode_auto_for_accuracy_and_baseline():
    es = C.EarlyStopping(monitor="val_accuracy", patience=1)
    _, epochs = run(es, [0.5, 0.7, 0.6, 0.9], key="val_accuracy")
    assert epochs == 3 and es.mode == "max"
    # Keras 3 (checked against keras 3.15.1): an epoch that improves on the best never stops
    # training, but the wait is reset only when the baseline is beaten too
    es = C.EarlyStopping(monitor="val_loss", patience=2, baseline=0.5)
    _, epochs = run(es, [0.9, 0.8, 0.7, 0.6])
    assert epochs == 4
    es = C.EarlyStopping(monitor="val_loss", patience=2, baseline=0.5)
    _, epochs = run(es, [0.9, 0.9, 0.9, 0.9, 0.9])
    assert epochs == 2
    es = C.EarlyStopping(monitor="val_loss", patience=2)
    _, epochs = run(es, [0.9, 0.9, 0.9, 0.9, 0.9])
    assert epochs == 3


def test_early_stopping_restores_best_weights_even_without_stopping():
    """Keras 3 restores at the end of training whenever restore_best_weights is set."""
    model, epochs = run(C.EarlyStopping(patience=5, restore_best_weights=True),
                        [1.0, 0.4, 0.6, 0.7])
    assert epochs == 4 and model.weights[0][0] == 1.0
    model, _ = run(C.EarlyStopping(patience=1, restore_best_weights=True), [1.0, 0.4, 0.6, 0.7])
    assert model.weights[0][0] == 1.0


def test_early_stopping_start_from_epoch_and_missing_metric():
    es = C.EarlyStopping(monitor="loss", patience=0, start_from_epoch=2)
    _, epochs = run(es, [1.0, 2.0, 3.0, 4.0], key="loss")
    assert epochs == 4  # epochs 0-1 ignored; epoch 2 sets best, epoch 3 worsens → stop
    assert es.stopped_epoch == 3
    with pytest.warns(RuntimeWarning, match="'val_auc' is not in the logs"):
        run(C.EarlyStopping(monitor="val_auc"), [1.0])
    with pytest.raises(ValueError, match="mode must be"):
        C.EarlyStopping(mode="lowest")


# ---------------------------------------------------------------- ModelCheckpoint
def test_checkpoint_formats_paths_and_creates_folders(tmp_path):
    path = tmp_path / "ckpt" / "w-{epoch:02d}-{val_loss:.2f}.h5"
    model, _ = run(C.ModelCheckpoint(str(path), save_weights_only=True), [0.5, 0.25])
    assert model.saved == [("weights", str(tmp_path / "ckpt" / "w-01-0.50.h5")),
                           ("weights", str(tmp_path / "ckpt" / "w-02-0.25.h5"))]
    assert (tmp_path / "ckpt").is_dir()


def test_checkpoint_best_only_and_mode(tmp_path):
    cb = C.ModelCheckpoint(str(tmp_path / "m{epoch}.h5"), save_best_only=True)
    model, _ = run(cb, [1.0, 0.5, 0.7, 0.4])
    assert [p.rsplit("/", 1)[-1] for _, p in model.saved] == ["m1.h5", "m2.h5", "m4.h5"]
    cb = C.ModelCheckpoint(str(tmp_path / "a{epoch}.h5"), monitor="val_auc", mode="max",
                           save_best_only=True, initial_value_threshold=0.6)
    model, _ = run(cb, [0.5, 0.7, 0.65], key="val_auc")
    assert [p.rsplit("/", 1)[-1] for _, p in model.saved] == ["a2.h5"]


def test_checkpoint_missing_monitor_saves_with_a_warning(tmp_path):
    cb = C.ModelCheckpoint(str(tmp_path / "m.h5"), monitor="val_acc", save_best_only=True)
    with pytest.warns(RuntimeWarning, match="'val_acc' is in the logs"):
        model, _ = run(cb, [1.0])
    assert len(model.saved) == 1


def test_checkpoint_every_n_batches(tmp_path):
    cb = C.ModelCheckpoint(str(tmp_path / "e{epoch}b{batch}.h5"), save_freq=2)
    model = FakeModel()
    cb.set_model(model)
    cb.on_train_begin({})
    cb.on_epoch_begin(0, {})
    for b in range(5):
        cb.on_train_batch_end(b, {"loss": 1.0})
    cb.on_epoch_end(0, {"loss": 1.0})
    assert [p.rsplit("/", 1)[-1] for _, p in model.saved] == ["e1b2.h5", "e1b4.h5"]
    with pytest.raises(ValueError, match="save_freq"):
        C.ModelCheckpoint("x.h5", save_freq="batch")


def test_checkpoint_errors_name_the_problem(tmp_path):
    with pytest.raises(KeyError, match="uses 'val_acc'"):
        run(C.ModelCheckpoint(str(tmp_path / "{val_acc}.h5")), [1.0])
    with pytest.raises(AttributeError, match="save_weights_only=True"):
        run(C.ModelCheckpoint(str(tmp_path / "m.h5")), [1.0], model=FakeModel(can_save=False))
    with pytest.raises(IsADirectoryError, match="is a folder"):
        run(C.ModelCheckpoint(str(tmp_path)), [1.0])


# ---------------------------------------------------------------- learning rate
def test_reduce_lr_on_plateau_patience_cooldown_and_floor():
    cb = C.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=1, min_lr=0.02)
    model = FakeModel(lr=0.1)
    lrs = []
    cb.set_model(model)
    cb.on_train_begin({})
    for epoch, v in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"val_loss": v}
        cb.on_epoch_end(epoch, logs)
        lrs.append(model.optimizer.learning_rate)
        assert "learning_rate" in logs
    # plateau from epoch 1: reduce; the cooldown epoch only resets the wait, so with patience 1
    # the next epoch reduces again; never below min_lr (the same list as keras 3.15.1)
    assert lrs == pytest.approx([0.1, 0.05, 0.025, 0.02, 0.02, 0.02, 0.02])
    with pytest.raises(ValueError, match="factor must be < 1"):
        C.ReduceLROnPlateau(factor=1.0)


def test_learning_rate_scheduler_old_and_new_signatures():
    model, _ = run(C.LearningRateScheduler(lambda epoch, lr: lr * 0.5), [1.0, 1.0, 1.0])
    assert model.optimizer.learning_rate == pytest.approx(0.1 / 8)
    model, _ = run(C.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1)), [1.0, 1.0])
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    with pytest.raises(ValueError, match="must return a number"):
        run(C.LearningRateScheduler(lambda epoch: "fast"), [1.0])
    with pytest.raises(ValueError, match="returned nan"):
        run(C.LearningRateScheduler(lambda epoch: float("nan")), [1.0])


# ---------------------------------------------------------------- the rest
def test_history_records_epochs_and_attaches_to_the_model():
    h = C.History()
    model, _ = run(h, [0.5, 0.25], extra={"loss": 1.0})
    assert h.history == {"val_loss": [0.5, 0.25], "loss": [1.0, 1.0]} and h.epoch == [0, 1]
    assert model.history is h and h.params["epochs"] == 2


def test_terminate_on_nan():
    cb = C.TerminateOnNaN()
    cb.set_model(FakeModel())
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert not cb.model.stop_training
    cb.on_train_batch_end(1, {"loss": float("inf")})
    assert cb.model.stop_training


def test_lambda_callback_and_batch_aliases():
    seen = []
    cb = C.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(("epoch", e)),
                          on_batch_end=lambda b, logs: seen.append(("batch", b)))
    run(cb, [1.0])
    assert seen == [("batch", 0), ("epoch", 0)]
    with pytest.raises(TypeError, match="unknown hook"):
        C.LambdaCallback(on_epoch_finish=print)


def test_callback_list_dispatches_and_adds_history():
    seen = []
    lst = C.CallbackList([C.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))],
                         add_history=True, model=FakeModel(), epochs=3)
    lst.on_epoch_end(3, {"loss": 0.5})
    assert seen == [3]
    history = lst.callbacks[-1]
    assert isinstance(history, C.History) and history.history == {"loss": [0.5]}
    assert history.params == {"epochs": 3}


def test_csv_logger_append_and_late_validation_columns(tmp_path):
    log = tmp_path / "log.csv"
    cb = C.CSVLogger(str(log), separator=";")
    run(cb, [1.0, 2.0], key="loss")  # no val_ keys in the first logs: columns reserved
    cb = C.CSVLogger(str(log), separator=";", append=True)
    run(cb, [3.0], key="loss")
    rows = list(csv.reader(open(log), delimiter=";"))
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [r[1] for r in rows[1:]] == ["1.0", "2.0", "3.0"] and rows[1][2] == "NA"
    assert len(rows) == 4  # one header only


# ---------------------------------------------------------------- on real training runs
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
    h = model.fit(x, y, epochs=50, verbose=0,
                  callbacks=[C.LambdaCallback(on_epoch_end=remember), es])
    assert len(h.history["loss"]) < 50 and es.stopped_epoch > 0
    for a, b in zip(model.get_weights(), best["weights"]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_best_only(tmp_path):
    x, y = _data()
    model = _model()
    path = tmp_path / "w-{epoch:02d}.h5"
    model.fit(x, y, epochs=3, verbose=0, validation_split=0.25,
              callbacks=[C.ModelCheckpoint(str(path), save_best_only=True,
                                           save_weights_only=True)])
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


class Recorder(C.Callback):
    """Every hook call as (name, batch or epoch, sorted log keys)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_") and name not in ("on_batch_begin", "on_batch_end"):
            calls = object.__getattribute__(self, "calls")

            def hook(*args):
                logs = args[-1]
                assert isinstance(logs, dict), name
                calls.append((name, *args[:-1], tuple(sorted(logs))))
            return hook
        return object.__getattribute__(self, name)


def _small_model():
    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(0, 1, (10, 3)).astype(np.float32)
    return model, x, x.sum(1, keepdims=True)


def test_evaluate_and_predict_call_their_callbacks():
    model, x, y = _small_model()
    rec = Recorder()
    model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[rec])
    assert rec.model is model
    assert rec.calls == [("on_test_begin", ()),
                         ("on_test_batch_begin", 0, ()), ("on_test_batch_end", 0, ("loss", "mae")),
                         ("on_test_batch_begin", 1, ()), ("on_test_batch_end", 1, ("loss", "mae")),
                         ("on_test_batch_begin", 2, ()), ("on_test_batch_end", 2, ("loss", "mae")),
                         ("on_test_end", ("loss", "mae"))]
    rec = Recorder()
    seen = []
    lam = C.LambdaCallback()
    lam.on_predict_batch_end = lambda batch, logs: seen.append(logs["outputs"].shape)
    out = model.predict(x, batch_size=4, verbose=0, callbacks=[rec, lam])
    assert [c[0] for c in rec.calls] == ["on_predict_begin"] + [
        "on_predict_batch_begin", "on_predict_batch_end"] * 3 + ["on_predict_end"]
    assert rec.calls[2] == ("on_predict_batch_end", 0, ("outputs",))
    assert seen == [(4, 1), (4, 1), (2, 1)] and out.shape == (10, 1)


def test_validation_inside_fit_fires_on_test_hooks():
    model, x, y = _small_model()
    rec = Recorder()
    model.fit(x, y, batch_size=5, epochs=2, verbose=0, validation_split=0.4, callbacks=[rec])
    names = [c[0] for c in rec.calls]
    epoch = (["on_epoch_begin"] + ["on_train_batch_begin", "on_train_batch_end"] * 2
             + ["on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end",
                "on_epoch_end"])
    assert names == ["on_train_begin"] + epoch * 2 + ["on_train_end"]
    end = next(c for c in rec.calls if c[0] == "on_epoch_end")
    assert end[2] == ("loss", "mae", "val_loss", "val_mae")


def test_batch_logs_only_for_callbacks_that_read_them(monkeypatch):
    """fit builds each batch's logs only for a progress bar or a callback with a batch-end hook
    of its own (subclass, Keras 2 alias, LambdaCallback); those still get them every batch."""
    x, y = _data(64)
    m = _model()
    built = []
    logs_of = m._logs

    def counting_logs():
        built.append(1)
        return logs_of()

    monkeypatch.setattr(m, "_logs", counting_logs)
    m.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[C.Callback(), C.EarlyStopping()])
    assert len(built) == 2                    # one per epoch, none per batch

    class Alias(C.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(("alias", batch, sorted(logs)))

    seen = []
    for cb in (Alias(), C.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(
            ("lambda", b, sorted(logs))))):
        built.clear()
        m.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[cb])
        assert len(built) == 4 + 1
    assert seen == [(kind, b, ["loss"]) for kind in ("alias", "lambda") for b in range(4)]
