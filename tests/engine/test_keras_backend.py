"""Training an engine model on real Keras 3 (JAX, CPU): the same layers and initial weights,
engine callbacks fed per batch and able to stop it, weights/optimizer/history back in the
engine model; what Keras cannot run is named before any batch."""
import numpy as np
import pytest

from engine import layers as L
from engine.callbacks import Callback, EarlyStopping
from engine.keras_backend import KerasBackendError
from engine.keras_backend.convert import to_keras
from engine.keras_backend.fit import even_for_devices, fit
from engine.models import Model, Sequential
from tests.model_zoo import perturb


def _mlp(name="mlp"):
    model = Sequential([L.Input((4,)), L.Dense(8, activation="relu", name="hidden"),
                        L.BatchNormalization(name="bn"),
                        L.Dense(3, activation="softmax", name="out")], name=name)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _blobs(n=96, seed=0):
    r = np.random.default_rng(seed)
    y = r.integers(0, 3, n)
    x = (np.eye(4, dtype=np.float32)[y] * 2 + 0.3 * r.standard_normal((n, 4))).astype(np.float32)
    return x, y


class Recorder(Callback):
    def __init__(self, stop_after=None):
        super().__init__()
        self.batches, self.rates, self.stop_after = [], [], stop_after

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(dict(logs))
        self.rates.append(self.model.optimizer.learning_rate)
        if self.stop_after is not None and len(self.batches) >= self.stop_after:
            self.model.stop_training = True


def test_the_keras_model_has_the_same_layers_and_weights(keras):
    """(Every palette layer goes the same way: test_keras_interop.py loads the zoo model.)"""
    tok = L.Input((6,), dtype="int32", name="tok")
    h = L.Bidirectional(L.GRU(3, return_sequences=True))(L.Embedding(12, 4)(tok))
    h = L.Dense(2)(L.BatchNormalization()(L.GlobalAveragePooling1D()(h)))
    model = Model(tok, h, name="small")
    perturb(model)
    kmodel = to_keras(keras, model)
    assert sorted((lyr.name, type(lyr).__name__) for lyr in kmodel.layers) == \
        sorted((lyr.name, type(lyr).__name__) for lyr in model.layers)
    x = np.random.default_rng(0).integers(0, 12, (5, 6)).astype(np.int32)
    assert np.abs(model.predict(x, verbose=0) - np.asarray(kmodel(x, training=False))).max() \
        <= 1e-5


def test_fit_feeds_engine_callbacks_and_brings_everything_back(keras):
    model = _mlp()
    x, y = _blobs()
    rec = Recorder()
    hist = fit(model, x, y, batch_size=16, epochs=3, validation_split=0.25, callbacks=[rec],
               seed=3)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(hist.history["loss"]) == 3 and model.history is hist
    assert len(rec.batches) == 3 * 5                           # 72 samples / 16 per batch
    assert set(rec.batches[0]) == {"loss", "accuracy"}
    assert rec.rates[0] == pytest.approx(0.001)
    assert model.optimizer.iterations == 15 and np.abs(model.optimizer.m).sum() > 0
    kmodel = to_keras(keras, model)                            # the engine has the trained
    np.testing.assert_allclose(model.predict(x, verbose=0),    # weights (BN statistics too)
                               np.asarray(kmodel(x, training=False)), atol=1e-5)


def test_engine_callbacks_stop_and_restore_as_on_the_engine(keras):
    model = _mlp()
    x, y = _blobs()
    rec = Recorder(stop_after=2)
    hist = fit(model, x, y, batch_size=16, epochs=5, callbacks=[rec])
    assert len(rec.batches) == 2 and len(hist.history["loss"]) == 1
    model = _mlp("m2")
    stop = EarlyStopping(monitor="loss", patience=0, min_delta=10.0, restore_best_weights=True)
    hist = fit(model, x, y, batch_size=16, epochs=6, callbacks=[stop])
    assert len(hist.history["loss"]) == 2                      # no epoch improves by 10


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_nan_loss_stops_training_and_names_a_layer(keras):
    model = _mlp()
    x, y = _blobs()
    x[40] = np.inf
    before = model.get_layer("hidden").get_weights()[0].copy()
    fit(model, x, y, batch_size=16, epochs=3, shuffle=False)
    err = model.training_error
    assert err is not None and "epoch 1, batch 3" in str(err) and err.layer is not None
    np.testing.assert_array_equal(model.get_layer("hidden").get_weights()[0], before)


def test_a_layer_keras_lacks_is_named_before_training(keras):
    class Doubled(L.Dense):
        def forward(self, x, training=False):
            return 2 * super().forward(x, training)
    model = Sequential([L.Input((4,)), Doubled(3, name="twice")], name="custom")
    model.compile(optimizer="adam", loss="mse")
    rec = Recorder()
    with pytest.raises(KerasBackendError, match="layer 'twice' \\(Doubled\\)"):
        fit(model, *_blobs(), callbacks=[rec])
    assert rec.batches == []


def test_more_devices_than_exist_are_named(keras):
    with pytest.raises(KerasBackendError, match=r"8 devices were asked for.*sees 1: cpu:0"):
        fit(_mlp(), *_blobs(), devices=8)


def test_batches_split_evenly_over_devices():
    x, y = np.arange(101.0), np.arange(101)
    xs, ys, dropped = even_for_devices(x, y, batch_size=32, devices=2)
    assert (len(xs), len(ys), dropped) == (100, 100, 1)             # last batch 5 -> 4
    assert even_for_devices([x, x], y, 32, 1)[2] == 0
    with pytest.raises(KerasBackendError, match="batch size 33 does not split over 2"):
        even_for_devices(x, y, 33, 2)


@pytest.mark.parametrize("optimizer", [
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9}},
    {"class_name": "RMSprop", "config": {"momentum": 0.5, "centered": True}},
    {"class_name": "Adagrad", "config": {"learning_rate": 0.1}},
    {"class_name": "Adam", "config": {"amsgrad": True}},
    {"class_name": "AdamW", "config": {}}, {"class_name": "Nadam", "config": {}},
    {"class_name": "Adadelta", "config": {"learning_rate": 1.0}},
    {"class_name": "Adamax", "config": {}}, {"class_name": "Lion", "config": {}},
    {"class_name": "Ftrl", "config": {"learning_rate": 0.1}}])
def test_optimizer_state_carries_over_to_keras_and_back(keras, optimizer):
    from engine.keras_backend.convert import compile_keras, copy_weights_back, optimizer_back
    x, y = _blobs(32)
    model = Sequential([L.Input((4,)), L.Dense(5, activation="tanh", name="h"),
                        L.Dense(3, activation="softmax", name="out")], name="opt")
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    for _ in range(3):
        model.train_on_batch(x, y)
    kmodel = to_keras(keras, model)
    compile_keras(keras, model, kmodel)
    kmodel.train_on_batch(x, y)          # the 4th step on Keras, from the engine's state
    model.train_on_batch(x, y)           # and on the engine
    ours = model.get_weights()
    copy_weights_back(kmodel, model)
    for a, b in zip(ours, model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6)
    optimizer_back(kmodel, model)
    assert model.optimizer.iterations == 4
