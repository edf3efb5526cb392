"""Exported Keras scripts that run: the data source read the way LayerLoom reads it (files by
path; bundled and parsed data written beside the script), the trained weights (and optimizer
state) loaded from beside it, --epochs and --distribute; the trained MNIST MLP's script runs on
real Keras (JAX) and starts where the project stopped."""
import ast
import gzip
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from engine.cli import main
from engine.data import DataSource
from engine.graph import GraphDocument
from engine.io.script_export import export_script
from engine.project import Project, TrainingConfig, load_project, save_project
from tests.io.script_ast import unexpected_in_script

ROOT = Path(__file__).resolve().parents[2]
HAVE_KERAS = importlib.util.find_spec("keras") is not None and \
    importlib.util.find_spec("jax") is not None


def _project(shape, data_source) -> Project:
    g = GraphDocument("tiny")
    i = g.add_node("InputLayer", {"shape": list(shape)})
    f = g.add_node("Flatten", {})
    o = g.add_node("Dense", {"units": 3, "activation": "softmax"})
    g.connect(i.id, f.id)
    g.connect(f.id, o.id)
    p = Project(g)
    p.data_source = data_source
    p.training = TrainingConfig(loss="categorical_crossentropy", epochs=1, batch_size=8)
    return p


def _idx(path: Path, array: np.ndarray, code: int) -> None:
    head = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(head + array.astype(array.dtype.newbyteorder(">")).tobytes()))


def _sources(tmp_path: Path) -> dict[str, tuple[tuple, dict]]:
    rng = np.random.default_rng(0)
    x = rng.random((30, 4, 3)).astype(np.float32)
    y = rng.integers(0, 3, 30)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["images"], f["labels"] = x, y
    pixels = rng.integers(0, 256, (30, 5, 4)).astype(np.uint8)
    _idx(tmp_path / "x.idx.gz", pixels, 8)
    _idx(tmp_path / "y.idx.gz", y.astype(np.uint8), 8)
    for k, cls in enumerate(("cat", "dog", "owl")):
        for i in range(4):
            folder = tmp_path / "img" / cls / ("nested" if i == 3 else "")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (7 + i, 9, 3), dtype=np.uint8)).save(
                folder / f"{i}.png")
    return {
        "npz": ((4, 3), {"kind": "npz", "path": str(tmp_path / "d.npz"), "one_hot": True,
                         "test_fraction": 0.2, "validation_fraction": 0.1, "seed": 3}),
        "npy": ((12,), {"kind": "npz", "path": str(tmp_path / "x.npy"), "one_hot": True,
                        "labels_path": str(tmp_path / "y.npy"), "shape": [12], "scale": 2.0}),
        "hdf5": ((4, 3), {"kind": "hdf5", "path": str(tmp_path / "d.h5"), "x_key": "/images",
                          "y_key": "/labels", "one_hot": True, "test_fraction": 0.3}),
        "idx": ((5, 4, 1), {"kind": "idx", "path": str(tmp_path / "x.idx.gz"), "one_hot": True,
                            "labels_path": str(tmp_path / "y.idx.gz"), "shape": [5, 4, 1],
                            "scale": 1 / 255}),
        "image_folder": ((6, 5, 1), {"kind": "image_folder", "path": str(tmp_path / "img"),
                                     "target_size": [6, 5], "color_mode": "grayscale",
                                     "interpolation": "bilinear", "one_hot": True,
                                     "scale": 1 / 255, "test_fraction": 0.25}),
    }


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("flavour", ["keras", "engine"])
@pytest.mark.parametrize("kind", ["npz", "npy", "hdf5", "idx", "image_folder"])
def test_the_script_reads_the_same_arrays_from_the_same_files(kind, flavour, tmp_path, keras):
    shape, source = _sources(tmp_path)[kind]
    project = _project(shape, source)
    written = export_script(project, tmp_path / f"{kind}_script.py", flavour=flavour)
    assert written == [tmp_path / f"{kind}_script.py"]            # no copy of the data
    text = written[0].read_text()
    assert unexpected_in_script(text) == [] and repr(source["path"]) in text
    (x, y), (xt, yt) = _import(written[0]).load_data()
    want = DataSource.from_dict(source).load()
    np.testing.assert_allclose(x, want.x_train, rtol=1e-6)
    np.testing.assert_array_equal(y, want.y_train)
    if want.x_test is None:
        assert len(xt) == 0
    else:
        np.testing.assert_allclose(xt, want.x_test, rtol=1e-6)
        np.testing.assert_array_equal(yt, want.y_test)


def test_bundled_data_and_trained_weights_are_written_beside_the_script(tmp_path):
    project = load_project(ROOT / "examples" / "imdb_lstm.loom")
    project.store_weights(project.build_model())
    script, weights, data = export_script(project, tmp_path / "imdb.py")
    assert (weights.name, data.name) == ("imdb.weights.h5", "imdb_data.npz")
    with h5py.File(weights, "r") as f:                          # Keras 3's layout
        assert "layers/lstm/cell/vars/0" in f
    want = DataSource.from_dict(project.data_source).load()
    with np.load(data) as d:
        np.testing.assert_array_equal(d["x_train"], want.x_train)
    text = script.read_text()
    assert unexpected_in_script(text) == []
    tree = ast.parse(text)
    assigned = {t.id: n.value for n in tree.body if isinstance(n, ast.Assign)
                for t in n.targets if isinstance(t, ast.Name)}
    assert ast.literal_eval(assigned["WEIGHTS"]) == "imdb.weights.h5"
    assert "TF_CONFIG=" in text and "--distribute" in text


def test_fit_and_evaluate_keep_batch_logs_on_the_training_thread_when_distributed(tmp_path):
    """Keras reads batch logs on helper threads unless a callback has batch-end hooks; on JAX
    over two CPU devices that stalled XLA's all-reduce (3 of 8 runs of the script below). The
    script passes the hooks to fit and evaluate."""
    project = load_project(ROOT / "examples" / "mnist_mlp.loom")
    project.training.early_stopping = {"patience": 2}
    script, *_ = export_script(project, tmp_path / "mlp.py")
    calls = {n.func.attr: {k.arg: ast.unparse(k.value) for k in n.keywords}
             for n in ast.walk(ast.parse(script.read_text()))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert calls["fit"]["callbacks"].endswith("+ in_order")
    assert "EarlyStopping" in calls["fit"]["callbacks"]
    assert calls["evaluate"]["callbacks"] == "in_order"
    assert calls["LambdaCallback"] == {"on_train_batch_end": "logs_on_this_thread",
                                       "on_test_batch_end": "logs_on_this_thread"}


def _run(script: Path, *args: str, devices: int = 1) -> subprocess.CompletedProcess:
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": "",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    return subprocess.run([sys.executable, str(script), *args], cwd=script.parent, env=env,
                          capture_output=True, text=True, timeout=900, check=False)


def _history(run: subprocess.CompletedProcess) -> dict:
    line = next(s for s in run.stdout.splitlines() if s.startswith("history: "))
    return ast.literal_eval(line.removeprefix("history: "))


@pytest.mark.skipif(not HAVE_KERAS, reason="the [keras] extra (keras, jax) is not installed")
def test_trained_mnist_mlp_script_runs_on_keras_from_the_trained_weights(tmp_path):
    project = load_project(ROOT / "examples" / "mnist_mlp.loom")
    project.training.seed = 0
    save_project(project, tmp_path / "mlp.loom")
    assert main(["train", str(tmp_path / "mlp.loom"), "--epochs", "2"]) == 0
    trained = load_project(tmp_path / "mlp.loom")
    last = trained.runs[-1].history["accuracy"][-1]
    assert main(["export", str(tmp_path / "mlp.loom"), str(tmp_path / "mlp.py")]) == 0
    run = _run(tmp_path / "mlp.py", "--epochs", "1")
    assert run.returncode == 0, run.stderr[-3000:]
    history = _history(run)
    assert len(history["accuracy"]) == 1 and history["accuracy"][0] >= last, (history, last)
    test = json.loads(next(s for s in run.stdout.splitlines() if s.startswith("test: "))
                      .removeprefix("test: ").replace("'", '"'))
    assert test["accuracy"] > 0.9
    print(f"project's last epoch accuracy {last:.4f}, the script's first {history['accuracy'][0]:.4f}")
    run = _run(tmp_path / "mlp.py", "--epochs", "1", "--distribute", devices=2)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _history(run)["accuracy"][0] >= last
