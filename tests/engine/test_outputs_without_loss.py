"""loss=[None, ...] / a loss dict naming only some outputs: those outputs get no loss and no
gradient, their targets may be left out (Keras 3's rules), and the rest trains as before."""
import numpy as np
import pytest

import engine as keras
from engine import layers


def _two_outputs():
    keras.backend.clear_session()
    inp = keras.Input((4,), name="x")
    h = layers.Dense(8, activation="tanh", name="h")(inp)
    score = layers.Dense(1, name="score_output")(h)
    cls = layers.Dense(3, activation="softmax", name="class_output")(h)
    side = layers.Dense(2, name="side")(inp)                 # feeds only the loss-less output
    return keras.Model(inp, [layers.Add(name="score_sum")([score, layers.Dense(1)(side)]), cls])


def _data(n=32):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (n, 4)).astype(np.float32)
    return x, rng.normal(0, 1, (n, 1)).astype(np.float32), \
        np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]


@pytest.mark.parametrize("loss", [[None, "categorical_crossentropy"],
                                  {"class_output": "categorical_crossentropy"}])
def test_loss_less_output_trains_nothing_and_needs_no_targets(loss):
    x, score, cls = _data()
    model = _two_outputs()
    model.compile(optimizer="sgd", loss=loss, metrics=[["mae"], ["accuracy"]]
                  if isinstance(loss, list) else None)
    side_before = [w.copy() for w in model.get_layer("side").get_weights()]
    hist = model.fit(x, [score, cls], epochs=2, batch_size=8, verbose=0)
    logs = hist.history
    assert "class_output_loss" in logs and "score_sum_loss" not in logs
    for a, b in zip(side_before, model.get_layer("side").get_weights()):
        np.testing.assert_array_equal(a, b)              # no gradient reached it
    # the targets of the loss-less output may be left out: a list of the needed ones, a dict
    model.fit(x, [cls], epochs=1, verbose=0)
    model.fit(x, {"class_output": cls}, epochs=1, verbose=0)
    res = model.evaluate(x, {"class_output": cls}, verbose=0, return_dict=True)
    assert res["loss"] == pytest.approx(res["class_output_loss"], rel=1e-6)


def test_same_loss_as_a_one_output_model():
    x, score, cls = _data()
    model = _two_outputs()
    model.compile(optimizer="sgd", loss=[None, "categorical_crossentropy"])
    single = keras.Model(model.inputs, model.outputs[1])
    single.compile(optimizer="sgd", loss="categorical_crossentropy")
    assert model.evaluate(x, [score, cls], verbose=0)[0] == pytest.approx(
        single.evaluate(x, cls, verbose=0), rel=1e-6)


def test_errors():
    model = _two_outputs()
    x, score, _ = _data()
    model.compile(optimizer="sgd", loss=[None, None])
    with pytest.raises(ValueError, match="has nothing to minimize"):
        model.fit(x, None, verbose=0)
    model.compile(optimizer="sgd", loss=[None, "mse"])
    with pytest.raises(ValueError, match=r"no data for \['class_output'\]"):
        model.fit(x, {"score_sum": score}, verbose=0)


def test_h5_keeps_the_none(tmp_path):
    x, _, cls = _data()
    model = _two_outputs()
    model.compile(optimizer="adam", loss=[None, "categorical_crossentropy"])
    model.save(tmp_path / "m.h5")
    again = keras.models.load_model(tmp_path / "m.h5")
    assert again._loss_arg == [None, "categorical_crossentropy"]
    again.fit(x, [cls], verbose=0)
