"""Training inside the real main window: docks and menu, title status, canvas selection drives
the activation preview, divergence highlights the node, closing while training stops it."""
import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from app.training.run_setup import DataArrays
from tests.app.test_training_controller import blobs, blobs_graph, new_project


@pytest.fixture
def win(qtbot, settings):
    from app.main_window import MainWindow
    w = MainWindow(settings=settings, theme="light", restore_state=False,
                   catch_exceptions=False)
    w.file_ops.ask_save_changes = lambda: "discard"
    qtbot.addWidget(w)
    w.set_project(new_project())
    x, y = blobs()
    w.training.use_data(DataArrays(x, y, class_names=["red", "green", "blue"]))
    w.resize(1400, 900)
    w.show()
    yield w
    w.training.stop_and_wait()


def _wait_idle(qtbot, c, n_runs, project):
    qtbot.waitUntil(lambda: not c.is_running and len(project.runs) >= n_runs, timeout=60000)


def test_window_has_training_menu_docks_and_trains(win, qtbot):
    c = win.training
    assert set(c.docks) >= {"data", "settings", "dashboard", "evaluation", "activations"}
    menus = [a.text().replace("&", "") for a in win.menuBar().actions()]
    assert "Training" in menus and menus[-1] == "Help"
    titles = []
    c.status_changed.connect(lambda text: titles.append(win.windowTitle()))
    assert c.train()
    _wait_idle(qtbot, c, 1, win.project)
    assert any("training" in t for t in titles)
    assert "training" not in win.windowTitle() and win.isWindowModified()
    assert win.project.runs[0].status == "completed" and win.project.weights


def test_canvas_selection_drives_the_activation_preview(win, qtbot):
    c = win.training
    assert c.train()
    _wait_idle(qtbot, c, 1, win.project)
    win.scene.select_nodes([win.editor.doc.node_by_name("hidden").id])
    assert c.activations.layer_box.currentText() == "hidden"
    assert c.activations.bars.opts["height"].shape == (16,)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_highlights_the_layer_on_the_canvas(win, qtbot):
    project = new_project(optimizer="sgd", optimizer_args={"learning_rate": 1e6},
                          loss="mean_squared_error", metrics=[])
    project.graph = blobs_graph(out_activation="linear")
    win.set_project(project)
    x, _ = blobs()
    win.training.use_data(DataArrays(x * 10, np.ones((len(x), 3), np.float32)))
    assert win.training.train()
    _wait_idle(qtbot, win.training, 1, project)
    run = project.runs[0]
    assert run.status == "diverged"
    layer = run.message.split("'")[-2]
    node = win.editor.doc.node_by_name(layer)
    assert node is not None and win.scene.selected_node_ids() == [node.id]


def test_closing_the_window_while_training_stops_the_thread(win, qtbot, monkeypatch):
    c = win.training
    win.project.training.epochs = 100000       # a run that cannot end before the close below
    assert c.train()
    qtbot.waitUntil(lambda: c.dashboard.buffer.version > 0, timeout=60000)
    thread = c.thread
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert win.close()
    assert c.thread is None and thread.isFinished()
    assert win.project.runs[-1].status == "stopped"
