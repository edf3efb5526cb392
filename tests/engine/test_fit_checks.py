"""fit refuses NaN/inf data (naming the input, sample and feature), stops when an optimizer step
makes a weight non-finite (naming the layer), and refuses arguments that cannot work."""
import warnings

import numpy as np
import pytest

from engine import Input
from engine.layers import Dense
from engine.models import Model
from engine.optimizers import SGD


def _data(n=64):
    r = np.random.default_rng(0)
    x = r.standard_normal((n, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def _model(lr=0.01):
    i = Input(shape=(4,), name="features")
    h = Dense(4, activation="relu", name="hidden")(i)
    m = Model(i, Dense(2, activation="softmax", name="out")(h))
    m.compile(optimizer=SGD(learning_rate=lr), loss="sparse_categorical_crossentropy")
    return m


def test_one_nan_cell_is_refused_before_any_weight_changes():
    x, y = _data()
    x[5, 2] = np.nan
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match="input 'features': sample 5, feature 2 is NaN"):
        model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("where,message", [
    ("y", "targets of output 'out': sample 3, feature 0 is inf"),
    ("sw", "sample_weight: sample 7 is -inf"),
    ("val", "input 'features': sample 1, feature 0 is NaN"),
    ("image", r"input 'img': sample 2, feature \(1, 0, 2\) is NaN"),
])
def test_targets_weights_validation_data_and_images_are_checked(where, message):
    x, y = _data()
    model = _model()
    kwargs = {}
    if where == "y":
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
        y = np.eye(2, dtype=np.float32)[y]
        y[3, 0] = np.inf
    elif where == "sw":
        sw = np.ones(len(x))
        sw[7] = -np.inf
        kwargs["sample_weight"] = sw
    elif where == "val":
        xv = x[:8].copy()
        xv[1, 0] = np.nan
        kwargs["validation_data"] = (xv, y[:8])
    else:
        i = Input(shape=(3, 3, 3), name="img")
        from engine.layers import Flatten
        model = Model(i, Dense(2, activation="softmax")(Flatten()(i)))
        model.compile("sgd", "sparse_categorical_crossentropy")
        x = np.zeros((6, 3, 3, 3), np.float32)
        x[2, 1, 0, 2] = np.nan
        y = np.zeros(6, np.int64)
    with pytest.raises(ValueError, match=message):
        model.fit(x, y, epochs=1, verbose=0, **kwargs)


def test_batches_from_a_generator_are_checked():
    x, y = _data()
    x[10, 1] = np.inf

    def batches():
        while True:
            for k in range(0, 64, 16):
                yield x[k:k + 16], y[k:k + 16]
    with pytest.raises(ValueError, match="input 'features': sample 10, feature 1 is inf"):
        _model().fit(batches(), steps_per_epoch=4, epochs=1, verbose=0)


def test_a_step_that_makes_a_weight_non_finite_stops_training_naming_the_layer():
    x, y = _data()
    model = _model(lr=1e30)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x * 1e10, y, epochs=3, verbose=0)
    err = model.training_error
    assert err is not None and err.layer is model.get_layer("hidden")
    assert "epoch 1, batch 1" in str(err) and "weight 'kernel' of layer 'hidden' became" in str(err)
    assert any("layer 'hidden'" in str(w.message) for w in caught)


@pytest.mark.parametrize("kwargs,message", [
    ({"validation_split": 0.2, "validation_freq": 0}, "'validation_freq' expects a whole number"),
    ({"steps_per_epoch": 0}, "'steps_per_epoch' expects a whole number >= 1, got 0"),
    ({"class_weight": {9: 1.0}}, "class 9 does not exist; the model's classes are 0 to 1"),
    ({"class_weight": {0: float("nan")}}, "the weight of class 0 must be a finite number"),
])
def test_arguments_that_cannot_work_are_refused(kwargs, message):
    x, y = _data()
    with pytest.raises(ValueError, match=message):
        _model().fit(x, y, epochs=1, verbose=0, **kwargs)
