"""Code in files runs only with consent (Keras's safe_mode): a Lambda in a JSON config, an .h5
file or a .loom project refuses by default, naming the layer and how to allow it; with
safe_mode=False the model comes back and computes the same. Shared layers, nested models and
RNN initial states survive the .h5 round trip."""
import json

import numpy as np
import pytest

import engine as keras
from engine import layers, ops
from engine.graph import GraphDocument, build_model
from engine.project import Project, UnsafeProjectError, load_project, save_project
from engine.saving.safe_mode import UnsafeCodeError

rng = np.random.default_rng(4)
OFFSET = 0.25


def lambda_model():
    inp = keras.Input((4,))
    h = layers.Lambda(lambda t: ops.tanh(t) + OFFSET, name="shift")(inp)
    return keras.Model(inp, layers.Dense(2)(h))


def test_lambda_json_refused_in_safe_mode_and_loaded_with_consent():
    model = lambda_model()
    text = model.to_json()
    fn = json.loads(text)["config"]["layers"][1]["config"]["function"]
    assert fn["config"]["source"] == "lambda t: ops.tanh(t) + OFFSET"
    assert fn["config"]["values"] == {"OFFSET": 0.25} and "code" in fn["config"]
    with pytest.raises(UnsafeCodeError, match=r"Lambda 'shift'.*safe_mode=False") as info:
        keras.models.model_from_json(text)
    assert "ops.tanh" in info.value.source
    again = keras.models.model_from_json(text, safe_mode=False)
    again.set_weights(model.get_weights())
    x = rng.standard_normal((3, 4)).astype("float32")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_lambda_h5_refused_in_safe_mode(tmp_path):
    model = lambda_model()
    model.save(tmp_path / "m.h5")
    with pytest.raises(UnsafeCodeError, match="Lambda 'shift'"):
        keras.models.load_model(tmp_path / "m.h5")
    again = keras.models.load_model(tmp_path / "m.h5", safe_mode=False)
    x = rng.standard_normal((2, 4)).astype("float32")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_project_with_a_lambda_node_needs_consent(tmp_path):
    doc = GraphDocument(name="m")
    i = doc.add_node("InputLayer", params={"shape": [3]}).id
    lam = doc.add_node("Lambda", params={"function": "lambda x: x * 2"}).id
    d = doc.add_node("Dense", params={"units": 2}).id
    doc.connect(i, lam)
    doc.connect(lam, d)
    assert build_model(doc).predict(np.ones((1, 3), "float32"), verbose=0).shape == (1, 2)
    path = save_project(Project(doc), tmp_path / "p.loom")
    with pytest.raises(UnsafeProjectError, match="lambda.*safe_mode=False") as info:
        load_project(path)
    assert "x * 2" in info.value.code[doc.nodes[lam].name]
    project = load_project(path, safe_mode=False)
    assert build_model(project.graph).count_params() == 8


def test_shared_nested_and_initial_state_models_round_trip_through_h5(tmp_path):
    shared = layers.Dense(3, name="shared")
    ia, ib = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    inner_in = keras.Input((3,))
    inner = keras.Model(inner_in, layers.Dense(3)(inner_in), name="inner")
    merged = layers.Add()([inner(shared(ia)), inner(shared(ib))])
    seq = layers.Reshape((1, 3))(merged)
    _, h = layers.GRU(3, return_state=True)(seq)
    out = layers.SimpleRNN(3)(seq, initial_state=[h])
    model = keras.Model([ia, ib], out)
    model.save(tmp_path / "m.h5")
    again = keras.models.load_model(tmp_path / "m.h5")
    x = [rng.standard_normal((2, 4)).astype("float32") for _ in range(2)]
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5)
    assert len(again.weights) == len(model.weights)
