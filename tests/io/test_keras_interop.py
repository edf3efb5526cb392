"""Files shared with real Keras 3 (JAX on the CPU): it opens our .keras, .weights.h5 and .h5
files with the same predictions (<= 1e-5), and we open its own. One Keras model of every palette
layer is built once for the module (building it is the slow part)."""
import warnings

import numpy as np
import pytest

from engine.io.keras3_weights import keras_layer_order
from engine.saving import load_model
from tests.model_zoo import every_layer_inputs, every_layer_model, perturb, trained_mlp

X = every_layer_inputs()


@pytest.fixture(scope="module")
def zoo(keras, tmp_path_factory):
    """(engine model, the Keras model loaded from the engine's .keras file, a folder)."""
    folder = tmp_path_factory.mktemp("zoo")
    model = every_layer_model()
    model.compile(optimizer="adam", loss=["mse", "mse"])
    model.save(folder / "zoo.keras")
    return model, keras.saving.load_model(folder / "zoo.keras"), folder


def _max_diff(ours, theirs) -> float:
    return max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(ours, theirs))


def test_keras_opens_our_archive_with_the_same_predictions(zoo):
    model, km, _ = zoo
    assert _max_diff(model.predict(X, verbose=0), km(X, training=False)) <= 1e-5


def test_keras_orders_the_layers_as_we_do(zoo):
    model, km, _ = zoo
    assert [lyr.name for lyr in keras_layer_order(model)] == [lyr.name for lyr in km.layers]


def test_weights_h5_goes_both_ways(zoo):
    model, km, folder = zoo
    other = every_layer_model()
    perturb(other, seed=7)
    other.compile(optimizer="adam", loss=["mse", "mse"])
    other.save_weights(folder / "ours.weights.h5")
    _, caught = _load_recording_warnings(km.load_weights, folder / "ours.weights.h5")
    assert not [m for m in caught if "Skipping" in m]
    assert _max_diff(other.predict(X, verbose=0), km(X, training=False)) <= 1e-5
    for layer in km.layers:                          # now let Keras write new values
        layer.set_weights([w * 1.25 for w in layer.get_weights()])
    km.save_weights(folder / "theirs.weights.h5")
    model.load_weights(folder / "theirs.weights.h5")
    assert _max_diff(model.predict(X, verbose=0), km(X, training=False)) <= 1e-5


def _load_recording_warnings(load, path):
    """(what ``load(path)`` returns, the warning messages it gave)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = load(path)
    return value, [str(w.message) for w in caught]


def test_keras_gets_our_optimizer_state_without_warnings(tmp_path, keras):
    model, x, _ = trained_mlp(batch_norm=True)
    model.save(tmp_path / "m.keras")
    km, caught = _load_recording_warnings(keras.saving.load_model, tmp_path / "m.keras")
    assert not [m for m in caught if "optimizer" in m.lower()], caught
    assert int(km.optimizer.iterations.numpy()) == 8
    names = [v.path.split("/")[-1] for v in km.optimizer.variables]
    assert names[2:4] == ["mlp_hidden_kernel_momentum", "mlp_hidden_kernel_velocity"]
    np.testing.assert_allclose(np.asarray(km.optimizer.variables[2]).reshape(-1),
                               model.optimizer.m[:20], rtol=1e-6)
    assert np.abs(km.predict(x, verbose=0) - model.predict(x, verbose=0)).max() <= 1e-5


def test_legacy_h5_carries_the_training_configuration(tmp_path, keras):
    model, x, _ = trained_mlp(batch_norm=True)
    model.save(tmp_path / "m.h5")
    km, caught = _load_recording_warnings(keras.models.load_model, tmp_path / "m.h5")
    assert not [m for m in caught if "training configuration" in m]
    assert type(km.optimizer).__name__ == "Adam"
    assert getattr(km.loss, "__name__", km.loss) == "categorical_crossentropy"
    assert np.abs(km.predict(x, verbose=0) - model.predict(x, verbose=0)).max() <= 1e-5


def test_we_open_an_archive_keras_wrote_with_its_optimizer_state(tmp_path, keras):
    kl = keras.layers
    inp = keras.Input((6,), name="x")
    h = kl.LayerNormalization()(kl.BatchNormalization()(kl.Dense(5, activation="relu")(inp)))
    km = keras.Model(inp, kl.Dense(2, activation="softmax")(h), name="k")
    km.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6)).astype(np.float32)
    km.fit(x, rng.integers(0, 2, 16), epochs=2, batch_size=8, verbose=0)
    km.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    assert np.abs(ours.predict(x, verbose=0) - km.predict(x, verbose=0)).max() <= 1e-5
    assert type(ours.optimizer).__name__ == "RMSprop" and ours.optimizer.iterations == 4
    np.testing.assert_allclose(ours.optimizer.v[:30],
                               np.asarray(km.optimizer.variables[2]).reshape(-1), rtol=1e-6)
