"""Render the README's screenshots of the Custom layer node (offscreen, no display needed):

    .venv/bin/python docs/make_custom_layer_screenshots.py

``custom_layer.png``: a Custom layer node between Flatten and the classifier, selected, its
source in the inspector's code editor with a runtime error marked on its line — also on the
node and in Problems; ``custom_layer_consent.png``: the dialog shown when a project holding
code is opened.
"""
from __future__ import annotations

import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = (1600, 1000)

SOURCE = '''\
# A dense layer with a learned temperature, written with ops.

def build(self, input_shape):
    units = 64
    self.kernel = self.add_weight(shape=(input_shape[-1], units),
                                  initializer="glorot_uniform", name="kernel")
    self.bias = self.add_weight(shape=(units,), initializer="zeros", name="bias")
    self.temperature = self.add_weight(shape=(), initializer="ones", name="temperature")


def call(self, x):
    z = ops.matmul(x, self.kernel) + self.bias
    return ops.relu(z / self.temprature)
'''


def settle(app, window=None, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while window is not None and window.code_shapes.busy() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    for _ in range(5):
        app.processEvents()


def graph():
    from engine.graph import GraphDocument
    doc = GraphDocument(name="mnist_custom")
    nodes = [("InputLayer", {"shape": [28, 28]}, "input"), ("Flatten", {}, "flatten"),
             ("CustomLayer", {"class_name": "TemperedDense", "source": SOURCE}, "tempered"),
             ("Dropout", {"rate": 0.2}, "dropout"),
             ("Dense", {"units": 10, "activation": "softmax"}, "classes")]
    ids = [doc.add_node(t, p, n, (k * 250.0, 0.0)).id for k, (t, p, n) in enumerate(nodes)]
    for a, b in itertools.pairwise(ids):
        doc.connect(a, b)
    return doc


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QSettings, Qt

    from app.code_consent import CodeConsentDialog
    from app.main import create_window, make_application, parse_args
    from engine.project import Project
    out = ROOT / "docs"
    tmp = Path(tempfile.mkdtemp())
    app = make_application()
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    window = create_window(parse_args(["--theme", "light"]), settings=settings)
    window.file_ops.ask_save_changes = lambda: "discard"
    window.resize(*SIZE)
    window.show()
    project = Project(graph())
    window.set_project(project)
    settle(app, window)
    window.resizeDocks([window.docks["inspector"]], [600], Qt.Orientation.Horizontal)
    window.resizeDocks([window.docks["inspector"], window.docks["summary"]], [720, 150],
                       Qt.Orientation.Vertical)
    settle(app, window)
    window.scene.flush()
    window.view.show_graph()
    window.select_node(project.graph.node_by_name("tempered").id)
    window.problems.refresh()
    settle(app, window)
    window.grab().save(str(out / "custom_layer.png"))
    print("wrote docs/custom_layer.png")

    code = {"tempered": SOURCE, "scale": "lambda x: x * 2.0"}
    dialog = CodeConsentDialog("mnist_custom.loom", code, parent=window)
    dialog.resize(860, 520)
    dialog.show()
    settle(app)
    dialog.grab().save(str(out / "custom_layer_consent.png"))
    print("wrote docs/custom_layer_consent.png")
    dialog.close()
    window.code_shapes.close()


if __name__ == "__main__":
    main()
