"""keras.saving: registering custom classes and functions, scopes, Keras 3's serialized form
of any object (compared with what real Keras writes), and custom objects through .h5 files,
JSON configs and model_from_config — in both directions with real Keras's files."""
import json
import threading
from pathlib import Path

import numpy as np
import pytest

import engine as keras
from engine import saving
from engine.io.keras_h5 import KerasFileError
from engine.saving import object_registration

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras"


@pytest.fixture(autouse=True)
def _clean_registry():
    saved = dict(object_registration.GLOBAL_CUSTOM_OBJECTS)
    names = dict(object_registration.GLOBAL_CUSTOM_NAMES)
    yield
    object_registration.GLOBAL_CUSTOM_OBJECTS.clear()
    object_registration.GLOBAL_CUSTOM_OBJECTS.update(saved)
    object_registration.GLOBAL_CUSTOM_NAMES.clear()
    object_registration.GLOBAL_CUSTOM_NAMES.update(names)


def _register_fixture_objects():
    """The classes and functions of make_saving_fixtures.py, written for this engine."""
    @saving.register_keras_serializable(package="MyLayers")
    class ScaledDense(keras.layers.Dense):
        def __init__(self, units, scale=1.0, **kwargs):
            super().__init__(units, **kwargs)
            self.scale = scale

        def forward(self, x, training=False):
            return super().forward(x, training) * np.float32(self.scale)

        def backward(self, dy):
            return super().backward(dy * np.float32(self.scale))

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}

    @saving.register_keras_serializable(package="my_package")
    def cube(x):
        return x * x * x

    @saving.register_keras_serializable(package="my_package")
    class SumAbs(keras.regularizers.Regularizer):
        def __init__(self, factor=0.01):
            self.factor = factor

        def __call__(self, w):
            return self.factor * float(np.sum(np.abs(w)))

        def gradient(self, w):
            return (self.factor * np.sign(w)).astype(w.dtype)

        def get_config(self):
            return {"factor": self.factor}

    return ScaledDense, cube, SumAbs


# ------------------------------------------------------------------------------ registration
def test_register_names_and_lookup():
    @saving.register_keras_serializable("pkg")
    class Thing:
        def get_config(self):
            return {}

    @saving.register_keras_serializable(package="fns", name="squared")
    def sq(x):
        return x * x

    assert saving.get_registered_name(Thing) == "pkg>Thing"
    assert saving.get_registered_object("pkg>Thing") is Thing
    assert saving.get_registered_name(sq) == "fns>squared"
    assert saving.get_custom_objects()["fns>squared"] is sq
    assert saving.get_registered_name(len) == "len"          # not registered: its own name
    assert saving.get_registered_object("nothing") is None
    assert saving.get_registered_object("x", custom_objects={"x": 1}) == 1
    assert saving.get_registered_object("x", module_objects={"x": 2}) == 2
    assert keras.utils.register_keras_serializable is saving.register_keras_serializable


def test_register_errors():
    with pytest.raises(ValueError, match="has no get_config"):
        saving.register_keras_serializable("pkg")(type("NoConfig", (), {}))
    with pytest.raises(ValueError, match="without '>'"):
        saving.register_keras_serializable("a>b")
    with pytest.raises(ValueError, match="non-empty string"):
        saving.register_keras_serializable("pkg", name="")


def test_scopes_nest_restore_and_stay_in_their_thread():
    a, b = object(), object()
    with saving.custom_object_scope({"A": a}):
        assert saving.get_registered_object("A") is a
        with saving.custom_object_scope({"B": b}):
            assert saving.get_registered_object("B") is b
            assert saving.get_registered_object("A") is None     # inner replaces, as Keras
        seen = []
        t = threading.Thread(target=lambda: seen.append(saving.get_registered_object("A")))
        t.start()
        t.join()
        assert seen == [None]
        with pytest.raises(RuntimeError), saving.custom_object_scope({"C": 1}):
            raise RuntimeError
        assert saving.get_registered_object("A") is a and saving.get_registered_object("C") is None
    assert saving.get_registered_object("A") is None
    with pytest.raises(TypeError, match="expected a dict"):
        saving.custom_object_scope([("A", a)])


# ------------------------------------------------------------------------------ serialization
def test_builtin_objects_serialize_as_real_keras():
    keras_cfg = json.loads((FIX / "saving_configs.json").read_text())
    ours = {"l1": keras.regularizers.L1(0.005), "l1l2": keras.regularizers.L1L2(1e-5, 1e-4),
            "max_norm": keras.constraints.MaxNorm(2.0), "relu_fn": keras.activations.relu,
            "array": np.arange(6, dtype="float32").reshape(2, 3),
            "exp_decay": keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5),
            "adam": keras.optimizers.Adam(0.01), "glorot": keras.initializers.GlorotUniform(3)}
    for key, obj in ours.items():
        got = saving.serialize_keras_object(obj)
        want = keras_cfg[key]
        for field in ("module", "class_name", "registered_name"):
            assert got.get(field) == want.get(field), (key, field)
        if key in ("l1", "l1l2", "max_norm", "array", "relu_fn"):
            assert json.loads(json.dumps(got)) == pytest.approx(want) if key == "relu_fn" \
                else got["config"] == pytest.approx(want["config"]) if key != "array" \
                else got["config"] == want["config"], key
        again = saving.deserialize_keras_object(want)           # Keras's own form reads back
        if key == "array":
            np.testing.assert_array_equal(again, obj)
        elif key == "relu_fn":
            assert again is keras.activations.relu
        else:
            assert type(again) is type(obj), key


def test_custom_objects_serialize_as_real_keras_and_read_back():
    _, cube, SumAbs = _register_fixture_objects()
    keras_cfg = json.loads((FIX / "saving_configs.json").read_text())
    assert saving.serialize_keras_object(cube) == keras_cfg["cube_fn"]
    got = saving.serialize_keras_object(SumAbs(0.5))
    assert {k: got[k] for k in ("class_name", "config", "registered_name")} == {
        k: keras_cfg["sum_abs"][k] for k in ("class_name", "config", "registered_name")}
    assert saving.deserialize_keras_object(keras_cfg["cube_fn"]) is cube
    reg = saving.deserialize_keras_object(keras_cfg["sum_abs"])
    assert isinstance(reg, SumAbs) and reg.factor == 0.5


def test_plain_values_containers_and_specials():
    cfg = saving.serialize_keras_object({"a": [1, (2.5, None)], "b": b"hi", "c": np.float32(2)})
    assert cfg == {"a": [1, (2.5, None)], "b": {"class_name": "__bytes__",
                                                 "config": {"value": "hi"}}, "c": 2.0}
    assert saving.deserialize_keras_object(cfg) == {"a": [1, [2.5, None]], "b": b"hi", "c": 2.0}
    assert saving.deserialize_keras_object({"class_name": "__slice__", "config": {
        "start": 1, "stop": 5, "step": None}}) == slice(1, 5)
    with pytest.raises(ValueError, match="a lambda cannot be saved"):
        saving.serialize_keras_object(lambda x: x)
    with pytest.raises(ValueError, match="never runs code stored that way"):
        saving.deserialize_keras_object({"class_name": "__lambda__", "config": {"value": "x"}})
    with pytest.raises(TypeError, match="needs a get_config"):
        saving.serialize_keras_object(object())


def test_unknown_classes_name_themselves_and_the_way_out():
    with pytest.raises(ValueError, match=r"unknown class 'Mystery' \(registered as "
                                         r"'pkg>Mystery'\).*register_keras_serializable"):
        saving.deserialize_keras_object({"module": "somewhere", "class_name": "Mystery",
                                         "config": {}, "registered_name": "pkg>Mystery"})
    with pytest.raises(ValueError, match="unknown function 'nope'.*custom_objects"):
        saving.deserialize_keras_object({"module": "builtins", "class_name": "function",
                                         "config": "nope", "registered_name": "function"})
    # the file never makes us import a module it names
    with pytest.raises(ValueError, match="unknown class 'system'"):
        saving.deserialize_keras_object({"module": "os", "class_name": "system",
                                         "config": {}, "registered_name": None})


def test_custom_objects_argument_and_loose_names_do_not_hide_builtins():
    class Doubler(keras.regularizers.Regularizer):
        def __init__(self, k=2):
            self.k = k

        def get_config(self):
            return {"k": self.k}
    cfg = saving.serialize_keras_object(Doubler(3))
    assert cfg["registered_name"] == "Doubler"       # unregistered: its own name
    obj = saving.deserialize_keras_object(cfg, custom_objects={"Doubler": Doubler})
    assert isinstance(obj, Doubler) and obj.k == 3
    with saving.custom_object_scope({"Doubler": Doubler}):
        assert saving.deserialize_keras_object(cfg).k == 3
    # a registered "pkg>L1" never stands in for the built-in L1
    saving.register_keras_serializable("pkg", name="L1")(Doubler)
    assert type(saving.deserialize_keras_object(
        {"class_name": "L1", "config": {"l1": 0.1}})) is keras.regularizers.L1
    assert isinstance(saving.deserialize_keras_object(
        {"class_name": "L1", "config": {"k": 5}, "registered_name": "pkg>L1"}), Doubler)


def test_layers_serialize_and_deserialize():
    layer = keras.layers.Dense(3, activation="relu", kernel_regularizer="l2", name="d")
    cfg = keras.layers.serialize(layer)
    assert cfg["module"] == "keras.layers" and cfg["registered_name"] is None
    assert cfg["config"]["kernel_regularizer"]["module"] == "keras.regularizers"
    again = keras.layers.deserialize(cfg)
    assert type(again) is keras.layers.Dense and again.units == 3 and again.name == "d"
    assert again.get_config() == layer.get_config()


# ------------------------------------------------------------------------------ files
def _model(ScaledDense, cube, SumAbs):
    inp = keras.Input((4,))
    h = ScaledDense(3, scale=0.5, activation=cube, kernel_regularizer=SumAbs(0.1),
                    name="scaled")(inp)
    return keras.Model(inp, keras.layers.Dense(2, name="out")(h))


def test_real_keras_h5_with_registered_custom_objects_loads_and_predicts():
    ScaledDense, _cube, SumAbs = _register_fixture_objects()
    model = keras.models.load_model(FIX / "custom_objects.h5")
    layer = model.get_layer("scaled")
    assert type(layer) is ScaledDense and layer.scale == 0.5
    assert isinstance(layer.kernel_regularizer, SumAbs) and layer.kernel_regularizer.factor == 0.1
    io = np.load(FIX / "custom_objects_io.npz")
    np.testing.assert_allclose(model.predict(io["x0"], verbose=0), io["y0"], atol=1e-5)


def test_h5_round_trip_via_registry_custom_objects_and_scope(tmp_path):
    ScaledDense, cube, SumAbs = _register_fixture_objects()
    model = _model(ScaledDense, cube, SumAbs)
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(0, 1, (6, 4)).astype(np.float32)
    want = model.predict(x, verbose=0)
    path = tmp_path / "m.h5"
    model.save(path)
    entry = json.loads(__import__("h5py").File(path).attrs["model_config"])["config"][
        "layers"][1]
    assert entry["class_name"] == "MyLayers>ScaledDense"          # as Keras's legacy writer
    assert entry["config"]["activation"]["config"] == "my_package>cube"
    np.testing.assert_allclose(keras.models.load_model(path).predict(x, verbose=0), want,
                               atol=1e-6)
    # unregistered: custom_objects= or a scope supply the names
    object_registration.GLOBAL_CUSTOM_OBJECTS.clear()
    object_registration.GLOBAL_CUSTOM_NAMES.clear()
    with pytest.raises(KerasFileError, match="'MyLayers>ScaledDense'.*custom_objects"):
        keras.models.load_model(path)
    objs = {"MyLayers>ScaledDense": ScaledDense, "my_package>cube": cube,
            "my_package>SumAbs": SumAbs}
    loaded = keras.models.load_model(path, custom_objects=objs)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, atol=1e-6)
    with saving.custom_object_scope(objs):
        loaded = keras.models.load_model(path, custom_objects={})   # keeps the outer scope
    assert type(loaded.get_layer("scaled")) is ScaledDense


def test_json_and_config_round_trip_with_custom_objects():
    ScaledDense, cube, SumAbs = _register_fixture_objects()
    model = _model(ScaledDense, cube, SumAbs)
    again = keras.models.model_from_json(model.to_json())
    assert type(again.get_layer("scaled")) is ScaledDense
    assert again.get_layer("scaled").activation is cube
    config = model.get_config()
    object_registration.GLOBAL_CUSTOM_OBJECTS.clear()
    object_registration.GLOBAL_CUSTOM_NAMES.clear()
    rebuilt = keras.Model.from_config(config, custom_objects={
        "MyLayers>ScaledDense": ScaledDense, "my_package>cube": cube,
        "my_package>SumAbs": SumAbs})
    assert type(rebuilt.get_layer("scaled")) is ScaledDense
    assert isinstance(rebuilt.get_layer("scaled").kernel_regularizer, SumAbs)
    # a Keras 2 style entry (no registered_name) is found by its class name
    keras2 = {**config, "layers": [{**e, "registered_name": None} for e in config["layers"]]}
    with pytest.raises(KeyError, match="unknown layer type 'ScaledDense'"):
        keras.models.model_from_config({"class_name": "Functional", "config": keras2})
    with saving.custom_object_scope({"ScaledDense": ScaledDense, "my_package>cube": cube,
                                     "my_package>SumAbs": SumAbs}):
        again = keras.models.model_from_config({"class_name": "Functional", "config": keras2})
    assert type(again.get_layer("scaled")) is ScaledDense


def test_real_keras_loads_our_h5_with_custom_objects(tmp_path):
    from tests.real_keras import run_real_keras
    ScaledDense, cube, SumAbs = _register_fixture_objects()
    model = _model(ScaledDense, cube, SumAbs)
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(1).normal(0, 1, (5, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "want.npy", model.predict(x, verbose=0))
    model.save(tmp_path / "ours.h5")
    out = run_real_keras(
        "import numpy as np, keras, make_saving_fixtures as defs\n"
        "m = keras.models.load_model('ours.h5')\n"
        "assert type(m.get_layer('scaled')) is defs.ScaledDense\n"
        "assert m.get_layer('scaled').scale == 0.5\n"
        "np.testing.assert_allclose(m.predict(np.load('x.npy'), verbose=0),"
        " np.load('want.npy'), atol=1e-5)\n"
        "print('ok')\n", tmp_path)
    assert out.strip().endswith("ok")


def test_loom_project_keeps_registered_custom_functions_and_classes(tmp_path):
    from engine.project import Project, load_project, save_project
    _, cube, SumAbs = _register_fixture_objects()

    @saving.register_keras_serializable(package="my_package")
    def halved_mse(y_true, y_pred):
        return 0.5 * np.mean((y_true - y_pred) ** 2, axis=-1)

    project = Project.new()
    doc = project.graph
    inp = doc.add_node("InputLayer", {"shape": (4,)})
    dense = doc.add_node("Dense", {"units": 2, "activation": cube,
                                   "kernel_regularizer": SumAbs(0.25)})
    doc.connect(inp.id, dense.id)
    project.training.loss = "my_package>halved_mse"
    path = save_project(project, tmp_path / "p.loom")
    again = load_project(path)
    params = again.graph.node(dense.id).params
    assert params["activation"]["config"] == "my_package>cube"
    assert params["kernel_regularizer"]["registered_name"] == "my_package>SumAbs"
    model = again.build_model()
    layer = model.layers[-1]
    assert layer.activation is cube
    assert isinstance(layer.kernel_regularizer, SumAbs) and layer.kernel_regularizer.factor == 0.25
    x = np.ones((2, 4), np.float32)
    w, b = layer.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), (x @ w + b) ** 3, rtol=1e-5)
    assert again.training.loss == "my_package>halved_mse"
