"""Keras, JAX and ONNX are optional: the engine and the app import without them (and never
import them on their own), LayerLoom's own Keras file formats need none of them, and asking for
Keras where it is missing says how to install it."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = ("keras", "jax", "jaxlib", "onnx", "onnxruntime", "tensorflow", "torch")

# None in sys.modules is how Python marks a module as unavailable: import raises ImportError
# and importlib.util.find_spec answers None, exactly as when it is not installed
BLOCK = f"""
import sys
for name in {OPTIONAL!r}:
    sys.modules[name] = None
"""

WITHOUT = BLOCK + r"""
import importlib, pkgutil, engine
for m in pkgutil.walk_packages(engine.__path__, "engine."):
    importlib.import_module(m.name)
import numpy as np
from engine import layers as L
from engine.models import Sequential
from engine.saving import load_model
from engine.keras_backend import INSTALL_COMMAND, keras_installed
from engine.keras_backend.probe import probe
assert not keras_installed()
assert INSTALL_COMMAND in probe().error, probe()
m = Sequential([L.Input((3,)), L.Dense(2)], name="s")
m.compile(optimizer="adam", loss="mse")
m.save(sys.argv[1] + "/m.keras"); m.save_weights(sys.argv[1] + "/m.weights.h5")
back = load_model(sys.argv[1] + "/m.keras")
x = np.ones((2, 3), np.float32)
assert np.array_equal(back.predict(x, verbose=0), m.predict(x, verbose=0))
from engine.cli import main
from engine.graph import document_from_model
from engine.project import Project, save_project
p = Project(document_from_model(m))
p.data_source = {"kind": "bundled", "name": "mnist"}
save_project(p, sys.argv[1] + "/p.loom")
assert main(["train", sys.argv[1] + "/p.loom", "--backend", "keras"]) == 2
print("OK")
"""

UNTOUCHED = r"""
import importlib, pkgutil, sys, engine
for m in pkgutil.walk_packages(engine.__path__, "engine."):
    importlib.import_module(m.name)
from app.main_window import MainWindow
from PySide6.QtWidgets import QApplication
app = QApplication([])
w = MainWindow()
w.show()
app.processEvents()
loaded = sorted(k for k in sys.modules if k.split(".")[0] in %r)
assert not loaded, loaded
print("OK")
""" % (OPTIONAL,)


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False,
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})


def test_engine_works_without_keras_jax_onnx(tmp_path):
    run = _run(WITHOUT, str(tmp_path))
    assert run.returncode == 0 and run.stdout.strip().endswith("OK"), run.stderr[-3000:]
    assert 'pip install "layerloom[keras]"' in run.stderr


def test_engine_and_app_never_import_them_by_themselves():
    run = _run(UNTOUCHED)
    assert run.returncode == 0 and "OK" in run.stdout, run.stderr[-3000:]
