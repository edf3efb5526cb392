"""Exported scripts from hostile projects and .h5 files run nothing but the expected calls.

Each payload would create a marker file if any of its text were pasted into the script as code.
The tests read the generated source's syntax tree (tests/io/script_ast.py) and run the scripts
in a subprocess — the engine flavour for real, the Keras flavour against a stand-in ``keras``
package that accepts any call — and check the marker never appears.
"""
import ast
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine import Input
from engine.cli import main
from engine.graph import GraphDocument, graph_from_keras_file
from engine.io.codegen import ScriptValueError, keras_script
from engine.io.pysource import identifier, keyword_args, literal, variable_name
from engine.layers import Dense
from engine.models import Model
from engine.project import Project, TrainingConfig, load_project, save_project
from tests.io.script_ast import unexpected_in_script

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.loom"))
STUB_KERAS = '''
class _Any:
    def __call__(self, *a, **k):
        return self
    def __getattr__(self, name):
        return self
    def __getitem__(self, key):
        return self
def __getattr__(name):
    return _Any()
'''


def payloads(marker: Path) -> list[str]:
    """Text that breaks out of a string, a docstring, a call or a line, then runs code."""
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    return [f'x"""; {code}; """', f"x'''; {code}; '''", f"x'); {code}; ('",
            f'x"); {code}; ("', f"x\n{code}\n", f"x\\'; {code}; #", f"x\r{code}",
            f"x' + {code} + '", code]


def _graph(name: str, layer_name: str = "hidden") -> GraphDocument:
    g = GraphDocument(name)
    i = g.add_node("InputLayer", {"shape": [4]})
    h = g.add_node("Dense", {"units": 8, "activation": "relu"}, name=layer_name)
    o = g.add_node("Dense", {"units": 2, "activation": "softmax"}, name="out")
    g.connect(i.id, h.id)
    g.connect(h.id, o.id)
    return g


def _training(**kw) -> TrainingConfig:
    return TrainingConfig(loss="sparse_categorical_crossentropy", epochs=1, batch_size=16,
                          validation_split=0.0, **kw)


def _npz(tmp_path: Path) -> Path:
    x = np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=x, y_train=(x[:, 0] > 0).astype(np.int64))
    return path


def _run(script: str, tmp_path: Path, flavour: str) -> subprocess.CompletedProcess:
    path = tmp_path / f"exported_{flavour}.py"
    path.write_text(script, encoding="utf-8")
    env_path = [str(ROOT)]
    if flavour == "keras":
        stub = tmp_path / "stub"
        (stub / "keras").mkdir(parents=True, exist_ok=True)
        (stub / "keras" / "__init__.py").write_text(STUB_KERAS)
        env_path.insert(0, str(stub))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(env_path)}
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=False,
                          timeout=300, cwd=tmp_path, env=env)


def _assert_safe(script: str) -> None:
    assert unexpected_in_script(script) == [], script


# ------------------------------------------------------------------ the checker can fail
def test_the_checker_flags_a_pasted_payload(tmp_path):
    """The old exporter's templates with a payload pasted in: the checker sees the code."""
    p = payloads(tmp_path / "PWNED")
    pasted = [f'"""{p[0]}: exported"""\nimport keras\n',
              f'import keras\nmodel = keras.models.Model(name="{p[3]}")\n',
              f"import keras\nopt = keras.optimizers.Adam({p[8]}=1)\n".replace("=1)", ")")]
    for source in pasted:
        found = unexpected_in_script(source)
        assert any("'__import__'" in f for f in found) and \
            any("'touch'" in f for f in found), (source, found)


@pytest.mark.parametrize("project_file", EXAMPLES, ids=lambda p: p.stem)
def test_example_scripts_hold_only_expected_calls(project_file):
    project = load_project(project_file)
    for flavour in ("keras", "engine"):
        script = keras_script(project.graph, project.training, flavour=flavour,
                              weights_path="w.weights.h5", data_source=project.data_source)
        _assert_safe(script)


# ------------------------------------------------------------------ written as literals
def test_text_vectors_become_string_literals_and_the_scripts_run(tmp_path):
    marker = tmp_path / "PWNED"
    data = _npz(tmp_path)
    for k, p in enumerate(payloads(marker)):
        g = _graph(name=p, layer_name=p)
        g.set_param(g.node_by_name("out").id, "activation", "softmax")
        training = _training(early_stopping={"monitor": p, "patience": 2},
                             reduce_lr={"monitor": p})
        for flavour in ("keras", "engine"):
            script = keras_script(g, training, flavour=flavour, weights_path=p,
                                  data_source={"kind": "npz", "path": str(data), "scale": 1.0})
            _assert_safe(script)
            tree = ast.parse(script)
            assert ast.get_docstring(tree).startswith(p)          # the name, as text
            names = [kw.value.value for n in ast.walk(tree) if isinstance(n, ast.Call)
                     for kw in n.keywords if kw.arg == "name"]
            assert p in names
    # run the last one without the weights file (which does not exist)
    g = _graph(name=payloads(marker)[0], layer_name=payloads(marker)[1])
    training = _training(early_stopping={"monitor": payloads(marker)[2], "patience": 2})
    for flavour in ("engine", "keras"):
        script = keras_script(g, training, flavour=flavour,
                              data_source={"kind": "npz", "path": str(data)})
        run = _run(script, tmp_path, flavour)
        assert run.returncode == 0, run.stderr[-3000:]
        assert not marker.exists()


def test_hostile_data_source_text_is_only_a_message(tmp_path):
    marker = tmp_path / "PWNED"
    g = _graph("m")
    for p in payloads(marker):
        for source in ({"kind": p}, {"kind": "npz", "path": p, "scale": p},
                       {"kind": "bundled", "name": p}, {"kind": "keras_dataset", "name": p},
                       {"kind": "keras_dataset", "name": [p]}, {"kind": "keras_dataset",
                                                                "name": "cifar10"},
                       {"kind": None}, p, [p]):
            script = keras_script(g, _training(), flavour="engine", data_source=source)
            _assert_safe(script)
    run = _run(keras_script(g, _training(), flavour="engine",
                            data_source={"kind": payloads(marker)[4]}), tmp_path, "engine")
    assert run.returncode == 1 and "load_data: this project reads its data from" in run.stderr
    assert "Traceback" not in run.stderr and not marker.exists()


def test_values_of_layer_arguments_are_literals(tmp_path):
    marker = tmp_path / "PWNED"
    g = _graph("m")
    hidden = g.node_by_name("hidden")
    for p in payloads(marker):
        # a file's params are stored as they are (from_dict does not coerce)
        hidden.params["activation"] = p
        hidden.params["kernel_initializer"] = p
        hidden.params["bias_initializer"] = {"class_name": "Constant", "config": {"value": p}}
        g.nodes[g.input_nodes()[0].id].params.update({"shape": [4, p], "dtype": p})
        for flavour in ("keras", "engine"):
            _assert_safe(keras_script(g, _training(), flavour=flavour))


# ------------------------------------------------------------------ refused names
@pytest.mark.parametrize("vector", [
    "initializer_class", "initializer_config_key", "regularizer_class", "optimizer_args_key",
    "early_stopping_key", "reduce_lr_key", "optimizer", "loss", "metric"])
def test_names_that_are_not_known_are_refused(vector, tmp_path):
    for p in payloads(tmp_path / "PWNED"):
        g = _graph("m")
        hidden = g.node_by_name("hidden").params
        training = _training()
        if vector == "initializer_class":
            hidden["kernel_initializer"] = {"class_name": p, "config": {}}
        elif vector == "initializer_config_key":
            hidden["kernel_initializer"] = {"class_name": "GlorotUniform", "config": {p: 1}}
        elif vector == "regularizer_class":
            hidden["kernel_regularizer"] = {"class_name": p, "config": {"l2": 0.01}}
        elif vector == "optimizer_args_key":
            training.optimizer_args = {"learning_rate": 0.01, p: 1}
        elif vector == "early_stopping_key":
            training.early_stopping = {"patience": 1, p: 1}
        elif vector == "reduce_lr_key":
            training.reduce_lr = {p: 0.5}
        elif vector == "optimizer":
            training.optimizer = p
        elif vector == "loss":
            training.loss = p
        else:
            training.metrics = ["accuracy", p]
        for flavour in ("keras", "engine"):
            with pytest.raises(ScriptValueError) as e:
                keras_script(g, training, flavour=flavour)
            assert "\n" not in str(e.value).replace(p, "")


def test_known_names_and_arguments_still_export():
    g = _graph("m")
    hidden = g.node_by_name("hidden").params
    hidden["kernel_initializer"] = {"class_name": "HeNormal", "config": {"seed": 3}}
    hidden["kernel_regularizer"] = {"class_name": "L2", "config": {"l2": 0.01}}
    training = _training(optimizer="sgd", optimizer_args={"learning_rate": 0.1,
                                                           "momentum": 0.9, "clipnorm": 1.0},
                         early_stopping={"monitor": "loss", "patience": 2},
                         reduce_lr={"factor": 0.5})
    script = keras_script(g, training, flavour="keras")
    _assert_safe(script)
    assert "keras.initializers.HeNormal(seed=3)" in script
    assert "keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, clipnorm=1.0)" in script
    assert "keras.callbacks.EarlyStopping(monitor='loss', patience=2)" in script


# ------------------------------------------------------------------ imported .h5 and the CLI
def _hostile_h5(path: Path, model_name: str, layer_name: str) -> None:
    x = Input(shape=(4,), name="x")
    model = Model(x, Dense(2, activation="softmax", name="d")(x), name="m")
    model.save(path)
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        cfg["config"]["name"] = model_name
        text = json.dumps(cfg).replace('"d"', json.dumps(layer_name))
        f.attrs["model_config"] = text
        f["model_weights"].attrs["layer_names"] = np.array(
            [b"x", layer_name.encode()], dtype="S")
        f["model_weights"].move("d", layer_name.replace("/", "_"))


def test_imported_h5_model_name_is_text(tmp_path):
    marker = tmp_path / "PWNED"
    h5 = tmp_path / "m.h5"
    for p in payloads(marker):
        _hostile_h5(h5, model_name=p, layer_name="d")
        g = graph_from_keras_file(h5)
        assert g.name == p
        for flavour in ("keras", "engine"):
            _assert_safe(keras_script(g, _training(), flavour=flavour))
    run = _run(keras_script(g, _training(), flavour="engine",
                            data_source={"kind": "npz", "path": str(_npz(tmp_path))}),
               tmp_path, "engine")
    assert run.returncode == 0, run.stderr[-3000:]
    assert not marker.exists()


def test_cli_export_refuses_with_one_line_and_writes_nothing(tmp_path, capsys):
    p = Project(_graph("m"))
    p.training = _training(optimizer_args={"learning_rate=0.1) or __import__('os').system('x'"
                                           "); (x": 1})
    path = save_project(p, tmp_path / "bad.loom")
    out = tmp_path / "out.py"
    assert main(["export", str(path), str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not one of the known names" in err
    assert not out.exists() and not list(tmp_path.glob(".out.py*"))


# ------------------------------------------------------------------ the writer itself
def test_literals_are_plain_and_round_trip():
    rng = np.random.default_rng(1)
    values = [None, True, 0, -7, 2 ** 70, 0.1, -1e-300, "a'\"\n\\\x00\u2028", [], (),
              [1, (2, 3), {"k": [None]}], {"a": 1, 2: "b"}, np.float32(0.5), np.int64(3)]
    values += [float(v) for v in rng.standard_normal(20)]
    for v in values:
        source = literal(v)
        expected = v.item() if isinstance(v, np.generic) else v
        assert ast.literal_eval(source) == expected, source
    assert literal([1, [2]], tuples=True) == "(1, (2,))"
    assert literal(math.nan) == "float('nan')" and literal(-math.inf) == "-float('inf')"
    for bad in (object(), {1, 2}, b"x", print, {(1, 2): 3}, [1, Path("x")]):
        with pytest.raises(ScriptValueError):
            literal(bad)
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ScriptValueError, match="nested"):
        literal(deep)
    with pytest.raises(ScriptValueError, match="digits"):
        literal(10 ** 5000)


def test_names_are_identifiers():
    for bad in ("a b", "import", "1x", "x;y", "", None, 3, "é", "a.b", "x\n"):
        with pytest.raises(ScriptValueError):
            identifier(bad, "argument")
    with pytest.raises(ScriptValueError):
        keyword_args({"ok": 1, "not ok": 2}, "callback")
    used: set[str] = set()
    assert [variable_name(t, used, {"model"}) for t in
            ("dense", "dense", "model", "1st", "a'); x", "for", "__class__", "ü")] == \
        ["dense", "dense_1", "t_model", "t_1st", "a____x", "t_for", "t___class__", "_"]
