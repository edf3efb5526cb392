"""Ops on symbolic tensors while building a Functional model (``x * 2``, ``x[:, :3]``,
``ops.mean(x, axis=1)``): each becomes an op step that trains, saves its op by name and loads
without running any stored code."""
import json

import numpy as np
import pytest

import engine as keras
from engine import layers, ops
from tests.modelcheck import check_model

rng = np.random.default_rng(5)


def make():
    inp = keras.Input((4,))
    x = layers.Dense(3, activation="tanh")(inp)
    y = ops.mean(x * 2 + inp[:, :3] ** 2, axis=-1, keepdims=True)
    z = ops.nn.relu(1.0 - y) + ops.concatenate([x, -x], axis=-1)[:, 2:3]
    return keras.Model(inp, layers.Dense(2)(ops.concatenate([z, x], axis=-1)))


def test_op_steps_train_with_correct_gradients():
    check_model(make, rng.standard_normal((5, 4)), rng.standard_normal((5, 2)))


def test_op_steps_round_trip_through_json_and_h5(tmp_path):
    model = make()
    text = model.to_json()
    ops_used = {e["config"].get("function") for e in json.loads(text)["config"]["layers"]
                if e["class_name"] == "OpCall"}
    assert {"multiply", "get_item", "power", "mean", "relu", "concatenate"} <= ops_used
    x = rng.standard_normal((3, 4)).astype("float32")
    for again in (keras.models.model_from_json(text),):
        again.set_weights(model.get_weights())
        np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                                   rtol=1e-6)
    model.save(tmp_path / "m.h5")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "m.h5").predict(x, verbose=0),
                               model.predict(x, verbose=0), rtol=1e-6)


def test_an_op_step_names_only_engine_ops():
    from engine.layers.op_call import OpCall
    with pytest.raises(ValueError, match="not an engine.ops function"):
        OpCall(function="__import__")
    with pytest.raises(ValueError, match="not an engine.ops function"):
        OpCall(function="Tape")
