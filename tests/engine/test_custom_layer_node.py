"""The canvas's CustomLayer (a Keras Layer class body as source) and Lambda node in the engine:
the source's form checked with ast, errors with their line, gradients equal to the built-in
Dense's, code from files inert until trusted, .h5/JSON round trips as a registered class."""
import json
import re

import numpy as np
import pytest

import engine as keras
from engine import backend, layers
from engine.graph import GraphDocument, build_model
from engine.layers.custom_layer import CustomLayer
from engine.project import Project, UnsafeProjectError, load_project, save_project
from engine.saving.layer_source import (
    CodeError,
    check_class_name,
    class_source,
    code_in_model_config,
    expression_of,
    lambda_source,
    parse_layer_source,
)
from engine.saving.safe_mode import UnsafeCodeError
from tests.gradcheck import check_layer
from tests.modelcheck import check_model

rng = np.random.default_rng(3)

DENSE_SOURCE = '''\
def build(self, input_shape):
    self.kernel = self.add_weight(shape=(input_shape[-1], 3), initializer="glorot_uniform",
                                  name="kernel")
    self.bias = self.add_weight(shape=(3,), initializer="zeros", name="bias")


def call(self, x):
    return ops.tanh(ops.matmul(x, self.kernel) + self.bias)
'''


def marker_source(path) -> str:
    """A Custom layer whose code leaves a file behind when it runs."""
    return (f"def call(self, x):\n    open({str(path)!r}, 'w').write('ran')\n"
            f"    return x\n")


def graph_with(type_name: str, params: dict, shape=(4,)) -> tuple[GraphDocument, str]:
    doc = GraphDocument(name="g")
    i = doc.add_node("InputLayer", {"shape": list(shape)}, "input").id
    c = doc.add_node(type_name, params, "code").id
    d = doc.add_node("Dense", {"units": 2}, "out").id
    doc.connect(i, c)
    doc.connect(c, d)
    return doc, c


# ------------------------------------------------------------------------------ the source
def test_the_example_source_is_a_working_dense_layer():
    layer = CustomLayer(name="c")
    y = layer(np.ones((2, 5), np.float32))
    assert y.shape == (2, 32) and [w.name for w in layer.weights] == ["kernel", "bias"]
    assert layer.count_params() == 5 * 32 + 32


@pytest.mark.parametrize("source,line,words", [
    ("def call(self, x)\n    return x\n", 1, "expected ':'"),
    ("def call(self, x):\n    return x\n\nimport os\n", 4, "only the functions"),
    ("def call(self, x):\n    return x\n\nscale = 2\n", 4, "found assign"),
    ("def helper(x):\n    return x\n", 1, "found def helper"),
    ("def build(self, shape):\n    pass\n\ndef call(self, x):\n    return x\n", 1,
     "build() must take (self, input_shape)"),
    ("def call(self):\n    return 1\n", 1, "call() must take (self, x)"),
    ("@staticmethod\ndef call(self, x):\n    return x\n", 2, "decorators"),
    ("def call(self, x):\n    return x\n\ndef call(self, x):\n    return x\n", 4, "twice"),
    ("def build(self, input_shape):\n    pass\n", None, "must define call"),
])
def test_the_source_form_is_checked_with_its_line(source, line, words):
    with pytest.raises(CodeError, match=re.escape(words)) as info:
        parse_layer_source(source, "CustomLayer 'c'")
    assert info.value.line == line


def test_class_names_are_checked():
    assert check_class_name("Scale2", "w") == "Scale2"
    for bad in ("2x", "my layer", "class", "_Hidden", "keras", "print", "Layer", "ä"):
        with pytest.raises(CodeError, match="class_name"):
            check_class_name(bad, "w")


def test_lambda_expression_becomes_a_lambda_and_back():
    assert lambda_source("x * 2", "w") == "lambda x: x * 2"
    assert lambda_source("lambda t: t + 1", "w") == "lambda t: t + 1"
    assert expression_of("lambda x: ops.mean(x, axis=-1, keepdims=True)") == \
        "ops.mean(x, axis=-1, keepdims=True)"
    assert expression_of("lambda t: t + 1") == "lambda t: t + 1"
    with pytest.raises(CodeError) as info:
        lambda_source("x *", "w")
    assert info.value.line == 1
    with pytest.raises(CodeError, match="one expression"):
        lambda_source("  ", "w")


# ------------------------------------------------------------------------------ gradients
def test_custom_node_gradients_match_the_builtin_dense():
    """A Custom layer written with ops = Dense(3, tanh): same forward, input and weight
    gradients; and its own gradients against finite differences."""
    with backend.floatx_scope("float64"):
        x = rng.standard_normal((6, 5))
        dense = layers.Dense(3, activation="tanh")
        dense.maybe_build((None, 5))
        mine = CustomLayer(class_name="MyDense", source=DENSE_SOURCE, name="mine")
        mine.maybe_build((None, 5))
        mine.set_weights(dense.get_weights())
        y_builtin = dense.forward(x, training=True)
        g = rng.standard_normal(y_builtin.shape)
        dx_builtin = dense.backward(g)
        y = mine.forward(x, training=True)
        np.testing.assert_allclose(y, y_builtin, rtol=1e-12)
        dx = mine.backward(g)
        np.testing.assert_allclose(dx, dx_builtin, rtol=1e-10)
        np.testing.assert_allclose(mine.weights[0].grad, dense.kernel.grad, rtol=1e-10)
        np.testing.assert_allclose(mine.weights[1].grad, dense.bias.grad, rtol=1e-10)
    check_layer(CustomLayer(class_name="MyDense", source=DENSE_SOURCE, name="fd"),
                rng.standard_normal((4, 5)), training=True)


def test_custom_node_in_a_graph_model_gradients():
    doc, _ = graph_with("CustomLayer", {"class_name": "MyDense", "source": DENSE_SOURCE},
                        shape=(5,))
    check_model(lambda: build_model(doc), rng.standard_normal((4, 5)),
                rng.standard_normal((4, 2)))


def test_custom_node_trains_and_matches_a_dense_model_step_for_step():
    doc, _c = graph_with("CustomLayer", {"class_name": "MyDense", "source": DENSE_SOURCE},
                        shape=(5,))
    mine = build_model(doc)
    inp = keras.Input((5,))
    ref = keras.Model(inp, layers.Dense(2)(layers.Dense(3, activation="tanh")(inp)))
    ref.set_weights(mine.get_weights())
    x, y = rng.standard_normal((32, 5)).astype("float32"), rng.random((32, 2)).astype("float32")
    for model in (mine, ref):
        model.compile(optimizer="adam", loss="mse")
    h1 = mine.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    h2 = ref.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h1, h2, rtol=1e-5)
    assert h1[1] < h1[0]


# ------------------------------------------------------------------------------ errors
def test_runtime_and_syntax_errors_are_node_errors_with_the_line():
    doc, c = graph_with("CustomLayer", {"source": "def call(self, x):\n    y = x * 2\n"
                                                  "    return foo(y)\n"})
    info = doc.info[c]
    assert info.error_line == 3 and "NameError" in info.error and "line 3 in call()" in info.error
    assert (c, info.error) in doc.problems()
    doc.set_param(c, "source", "def call(self, x):\n    return x +\n")
    assert doc.info[c].error_line == 2 and doc.info[c].error.startswith("line 2")
    doc.set_param(c, "source", "def build(self, input_shape):\n    self.w = self.add_weight("
                               "shape=(3, 4))\n\ndef call(self, x):\n    return ops.matmul(x, "
                               "self.w)\n")
    assert doc.info[c].error_line == 5 and "matmul" in doc.info[c].error
    doc.set_param(c, "source", "def call(self, x):\n    return x[:, :2] * 3\n")
    assert doc.info[c].error is None and doc.info[c].output_shapes == [(None, 2)]


def test_lambda_node_takes_an_expression():
    doc, c = graph_with("Lambda", {"function": lambda_source("ops.mean(x, axis=-1, "
                                                             "keepdims=True) * 2", "w")})
    assert doc.info[c].output_shapes == [(None, 1)]
    model = build_model(doc)
    x = rng.standard_normal((3, 4)).astype("float32")
    inner = keras.Model(model.inputs, model.get_layer("code").output)
    np.testing.assert_allclose(inner.predict(x, verbose=0), x.mean(-1, keepdims=True) * 2,
                               rtol=1e-6)
    doc.set_param(c, "function", "lambda x: x * y")
    assert doc.info[c].error == "line 1: NameError: name 'y' is not defined"


# ------------------------------------------------------------------------------ consent
def test_project_code_is_inert_until_trusted(tmp_path):
    marker = tmp_path / "ran.txt"
    doc, c = graph_with("CustomLayer", {"source": marker_source(marker)})
    assert marker.exists()                      # (code made on the canvas runs)
    marker.unlink()
    path = save_project(Project(doc), tmp_path / "p.loom")
    with pytest.raises(UnsafeProjectError) as info:
        load_project(path)
    assert "open(" in info.value.code["code"] and not marker.exists()
    project = load_project(path, inert_code=True)
    g = project.graph
    assert g.untrusted == {c} and "not been trusted" in g.info[c].error
    g.set_param(c, "class_name", "Other")       # edits do not run it either
    assert "not been trusted" in g.info[c].error
    with pytest.raises(Exception, match="not been trusted"):
        build_model(g)
    assert not marker.exists()
    g.trust_code()
    assert g.info[c].output_shapes == [(None, 4)] and marker.exists()
    marker.unlink()
    assert load_project(path, safe_mode=False).graph.untrusted == set() and marker.exists()


def test_h5_and_json_keep_the_custom_layer_as_a_registered_class(tmp_path):
    doc, _c = graph_with("CustomLayer", {"class_name": "MyDense", "source": DENSE_SOURCE},
                        shape=(5,))
    model = build_model(doc)
    x = rng.standard_normal((3, 5)).astype("float32")
    model.save(tmp_path / "m.h5")
    with pytest.raises(UnsafeCodeError, match="CustomLayer 'code'.*safe_mode=False"):
        keras.models.load_model(tmp_path / "m.h5")
    from engine.io.keras_h5 import code_in_file, keras_model_config
    assert code_in_file(tmp_path / "m.h5") == {"code": DENSE_SOURCE}
    entry = keras_model_config(model)["config"]["layers"][1]
    assert (entry["class_name"], entry["registered_name"]) == ("LayerLoom>MyDense",
                                                               "LayerLoom>MyDense")
    assert set(entry["config"]) == {"name", "trainable", "dtype"}
    again = keras.models.load_model(tmp_path / "m.h5", safe_mode=False)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    doc2 = keras.models.model_from_json(model.to_json(), safe_mode=False)
    assert type(doc2.get_layer("code")) is CustomLayer
    from engine.graph import graph_from_keras_file
    with pytest.raises(UnsafeCodeError):
        graph_from_keras_file(tmp_path / "m.h5")
    g = graph_from_keras_file(tmp_path / "m.h5", safe_mode=False)
    node = g.node_by_name("code")
    assert node.type_name == "CustomLayer" and node.params["source"] == DENSE_SOURCE
    assert code_in_model_config(json.loads(model.to_json())) == {"code": DENSE_SOURCE}



def test_keras_archives_hold_the_custom_layer_and_ask_like_h5(tmp_path):
    doc, _c = graph_with("CustomLayer", {"class_name": "MyDense", "source": DENSE_SOURCE},
                        shape=(5,))
    model = build_model(doc)
    x = rng.standard_normal((3, 5)).astype("float32")
    model.save(tmp_path / "m.keras")
    with pytest.raises(UnsafeCodeError, match="CustomLayer 'code'.*safe_mode=False"):
        keras.models.load_model(tmp_path / "m.keras")      # nothing ran: the caller may ask
    from engine.io.keras_h5 import code_in_file
    assert code_in_file(tmp_path / "m.keras") == {"code": DENSE_SOURCE}
    again = keras.models.load_model(tmp_path / "m.keras", safe_mode=False)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)

# ------------------------------------------------------------------------------ scripts
def test_class_source_is_the_checked_body_in_a_registered_class():
    text = class_source("MyDense", DENSE_SOURCE, "w")
    assert text.startswith("@keras.saving.register_keras_serializable(package='LayerLoom')\n"
                           "class MyDense(keras.layers.Layer):\n    def build(")
    # a string whose lines would change when indented: rewritten from the checked tree
    tricky = 'def call(self, x):\n    s = """a\nb"""\n    return x\n'
    text = class_source("T", tricky, "w")
    import ast
    body = ast.parse(text).body[0].body
    assert body[0].body[0].value.value == "a\nb"
    for hostile in ("def call(self, x):\n    return x\nimport os\n",
                    "def call(self, x):\n    return x\nclass X: pass\n"):
        with pytest.raises(CodeError):
            class_source("T", hostile, "w")
    with pytest.raises(CodeError):
        class_source("T(object): pass\nimport os\nclass U", DENSE_SOURCE, "w")


def test_cli_runs_code_in_a_project_only_with_trust_code(tmp_path, capsys):
    from engine.cli import main
    marker = tmp_path / "ran.txt"
    doc, _ = graph_with("CustomLayer", {"source": marker_source(marker)})
    marker.unlink()
    path = save_project(Project(doc), tmp_path / "p.loom")
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "hold Python code" in err and "--trust-code info" in err and len(err.splitlines()) == 1
    assert not marker.exists()
    assert main(["--trust-code", "info", str(path)]) == 0
    assert "(None, 4)" in capsys.readouterr().out and marker.exists()
    with pytest.raises(UnsafeProjectError):       # (the permission ended with the command)
        load_project(path)
