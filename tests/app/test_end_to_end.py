"""A new user's first network, end to end, through the real main window with the mouse and
the keyboard (QTest, offscreen): new project → Input, Flatten, Dense, Dense dragged from the
palette → wired by dragging ports → units set → bundled MNIST → train → stop → save → reopen →
evaluate → export .h5 and a Keras script. Each step checks the model, the files and what the
window shows.

Offscreen Qt has no drag-and-drop loop (its QDrag returns at once), so for palette drags the
test plays the platform's part: the mouse presses and moves on the palette item for real (the
palette starts its drag and packs the layer into mime data), and that mime data is carried to
the canvas as the drag-enter, drag-move and drop events a desktop would deliver.
"""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog

from app.panels.palette import LayerTree
from tests.app.conftest import Mouse

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def settle(n: int = 3) -> None:
    for _ in range(n):
        QApplication.processEvents()


def key(window, k, mod=Qt.NoModifier) -> None:
    QTest.keyClick(window, k, mod)
    settle()


class PaletteDrag:
    """Press and drag a palette entry; the drag it starts is delivered to the canvas."""

    def __init__(self, window, monkeypatch):
        self.w = window
        self.mime: QMimeData | None = None

        def start_drag(tree: LayerTree, _actions) -> None:
            self.mime = tree.mimeData(tree.selectedItems())
        monkeypatch.setattr(LayerTree, "startDrag", start_drag)

    def drag(self, type_name: str, scene_pos: QPointF) -> None:
        palette = self.w.palette
        item = next(i for i in palette.layer_items() if i.text(0) == type_name)
        palette.tree.scrollToItem(item)
        vp = palette.tree.viewport()
        start = palette.tree.visualItemRect(item).center()
        QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, start)
        self.mime = None
        for k in range(1, 5):
            QTest.mouseMove(vp, start + QPoint(10 * k, 0))
        assert self.mime is not None, f"dragging {type_name} did not start a drag"
        QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, start + QPoint(40, 0))
        canvas = self.w.view.viewport()
        at = QPointF(self.w.view.mapFromScene(scene_pos))
        for cls in (QDragEnterEvent, QDragMoveEvent):
            ev = cls(at.toPoint(), Qt.CopyAction, self.mime, Qt.LeftButton, Qt.NoModifier)
            QApplication.sendEvent(canvas, ev)
            assert ev.isAccepted()
        QApplication.sendEvent(canvas, QDropEvent(at, Qt.CopyAction, self.mime, Qt.LeftButton,
                                                  Qt.NoModifier))
        settle()


def click_node(window, mouse: Mouse, name: str) -> str:
    nid = window.editor.doc.node_by_name(name).id
    rect = window.scene.node_items[nid].sceneBoundingRect()
    mouse.click(QPointF(rect.center().x(), rect.top() + 40))      # on the name, not a port
    settle()
    assert window.inspector.node_id == nid
    return nid


def type_and_enter(widget, text: str) -> None:
    widget.setFocus()
    widget.selectAll()
    QTest.keyClicks(widget, text)
    QTest.keyClick(widget, Qt.Key_Return)
    settle()


def wait_run(window, qtbot, start) -> object:
    done = []
    window.training.run_finished.connect(done.append)
    start()
    qtbot.waitUntil(lambda: bool(done), timeout=180000)
    window.training.run_finished.disconnect(done.append)
    return done[0]


def test_first_network_from_new_project_to_exported_script(window, qtbot, tmp_path,
                                                          monkeypatch):
    w, doc_of = window, (lambda: window.editor.doc)
    mouse = Mouse(w.view)
    w.resize(1600, 1000)
    w.activateWindow()
    QTest.qWaitForWindowActive(w)
    settle()

    # ---- File → New (Ctrl+N): an empty, unsaved project
    key(w, Qt.Key_N, Qt.ControlModifier)
    assert len(doc_of().nodes) == 0 and w.project.path is None
    assert "untitled" in w.windowTitle() or "(unsaved)" in w.windowTitle()
    assert w.view.isVisible()

    # ---- four layers dragged from the palette, left to right
    w.view.reset_zoom()
    origin = w.view.mapToScene(QPoint(60, w.view.viewport().height() // 3))
    palette = PaletteDrag(w, monkeypatch)
    for k, type_name in enumerate(("InputLayer", "Flatten", "Dense", "Dense")):
        palette.drag(type_name, origin + QPointF(100 + 215 * k, 60))
    doc = doc_of()
    names = [n.name for n in sorted(doc.nodes.values(), key=lambda n: n.position[0])]
    assert names == ["input", "flatten", "dense", "dense_1"]
    assert [doc.node_by_name(n).type_name for n in names] == \
        ["InputLayer", "Flatten", "Dense", "Dense"]
    assert all(w.view.visible_scene_rect().contains(w.scene.node_items[n.id]
                                                    .sceneBoundingRect()) for n in
               doc.nodes.values())
    assert w.undo_stack.count() == 4

    # ---- the Input's shape, typed into the inspector
    click_node(w, mouse, "input")
    type_and_enter(w.inspector.editors["shape"].line, "28, 28")
    assert doc.node_by_name("input").params["shape"] == [28, 28]

    # ---- wire output ports to input ports with the mouse
    def port(name: str, out: bool) -> QPointF:
        item = w.scene.node_items[doc.node_by_name(name).id]
        return (item.ports_out if out else item.ports_in)[0].scenePos()
    for a, b in (("input", "flatten"), ("flatten", "dense"), ("dense", "dense_1")):
        mouse.drag(port(a, True), port(b, False))
    w.scene.flush()
    assert [(doc.node(e.src).name, doc.node(e.dst).name) for e in doc.edges] == \
        [("input", "flatten"), ("flatten", "dense"), ("dense", "dense_1")]
    edge_labels = {w.scene.edge_items[e].label for e in doc.edges}
    assert edge_labels == {"28×28", "784", "64"}

    # ---- units: 32 hidden, 10 softmax outputs
    click_node(w, mouse, "dense")
    type_and_enter(w.inspector.editors["units"].spin.lineEdit(), "32")
    click_node(w, mouse, "dense_1")
    type_and_enter(w.inspector.editors["units"].spin.lineEdit(), "10")
    combo = w.inspector.editors["activation"].combo
    combo.setFocus()
    QTest.keyClicks(combo, "softmax")
    settle()
    assert doc.node_by_name("dense").params["units"] == 32
    assert doc.node_by_name("dense_1").params["activation"] == "softmax"
    assert doc.info[doc.node_by_name("dense_1").id].output_shapes == [(None, 10)]
    assert not doc.problems() and "No problems" in w.problems.list.item(0).text()
    assert "25,450" in w.summary.totals.text()           # 784·32+32 + 32·10+10

    # ---- data: the bundled MNIST, from the Data panel
    t = w.training
    t.docks["data"].show()
    t.docks["data"].raise_()
    panel = t.data_panel
    panel.kind_box.setCurrentIndex(panel.kind_box.findData("bundled"))
    panel.dataset_box.setCurrentText("mnist")
    QTest.mouseClick(panel.load_btn, Qt.LeftButton)
    settle()
    assert w.project.data_source["name"] == "mnist" and w.project.data_source.get("one_hot")
    settings = t.settings_panel
    settings.epochs_box.setValue(2)
    settings.batch_box.setValue(256)
    settings.split_box.setValue(0.5)
    assert (w.project.training.epochs, w.project.training.batch_size) == (2, 256)

    # ---- train (F5); stop (Shift+F5) once the first epoch is in
    epochs = []
    outcome = []
    t.run_finished.connect(outcome.append)
    key(w, Qt.Key_F5)
    assert t.is_running and not t.train_action.isEnabled() and t.stop_action.isEnabled()
    t.worker.epoch_end.connect(lambda e, logs: epochs.append(e))
    qtbot.waitUntil(lambda: bool(epochs) or bool(outcome), timeout=180000)
    key(w, Qt.Key_F5, Qt.ShiftModifier)
    qtbot.waitUntil(lambda: bool(outcome), timeout=180000)
    run = w.project.runs[-1]
    assert outcome[0].status in ("stopped", "completed")
    assert len(run.history["loss"]) >= 1 and w.project.weights is not None
    assert t.docks["dashboard"].isVisible()
    assert len(t.dashboard.plots["loss"].epoch_train.yData) == len(run.history["loss"])
    assert t.dashboard.status_label.text() in ("Stopped", "Finished")
    assert run.history["val_accuracy"][0] > 0.5            # it learned something
    trained = t.session.model
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    expected = trained.predict(x, verbose=0)

    # ---- save (Ctrl+S asks where: a new project)
    path = tmp_path / "first.loom"
    w.file_ops.ask_save_path = lambda *a: str(path)
    key(w, Qt.Key_S, Qt.ControlModifier)
    assert path.is_file() and w.project.path == path and not w.isWindowModified()
    assert "first.loom" in w.windowTitle()

    # ---- reopen: a new project first, then File → Open (Ctrl+O)
    key(w, Qt.Key_N, Qt.ControlModifier)
    assert len(doc_of().nodes) == 0
    w.file_ops.ask_open_path = lambda *a: str(path)
    key(w, Qt.Key_O, Qt.ControlModifier)
    doc = doc_of()
    assert sorted(n.name for n in doc.nodes.values()) == ["dense", "dense_1", "flatten",
                                                          "input"]
    assert len(doc.edges) == 3 and len(w.project.runs) == 1
    assert t.evaluate_action.isEnabled()
    assert len(t.dashboard.plots["loss"].epoch_train.yData) == len(run.history["loss"])

    # ---- evaluate (F7) on the 10,000 test images
    out = wait_run(w, qtbot, lambda: key(w, Qt.Key_F7))
    assert out.status == "completed"
    result = t.evaluation.result
    assert result.n_samples == 10000 and "test set" in t.evaluation.header.text()
    assert t.docks["evaluation"].isVisible()
    np.testing.assert_allclose(t.session.model.predict(x, verbose=0), expected, rtol=1e-5)

    # ---- export the trained model (Ctrl+E) and a Keras script (Training menu)
    h5 = tmp_path / "first.h5"
    w.file_ops.ask_save_path = lambda *a: str(h5)
    key(w, Qt.Key_E, Qt.ControlModifier)
    assert h5.stat().st_size > 0
    from engine.saving import load_model
    np.testing.assert_allclose(load_model(str(h5)).predict(x, verbose=0), expected,
                               rtol=1e-4, atol=1e-6)
    script = tmp_path / "first.py"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(script), "")))
    t.export_script_action.trigger()
    text = script.read_text()
    compile(text, str(script), "exec")
    assert "first.weights.h5" in text and (tmp_path / "first.weights.h5").is_file()
    assert "layers.Dense(units=32, name='dense')" in text
    assert "keras.Input(shape=(28, 28), name='input')" in text
