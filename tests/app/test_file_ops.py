"""File menu: new, save/open round trip, recent files, autosave recovery, examples, errors."""
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from tests.app.conftest import node_id

project = pytest.importorskip("engine.project")


def flush():
    QApplication.processEvents()


def test_save_and_open_round_trip_keeps_graph_layout_and_view(window, tmp_path):
    path = tmp_path / "small.loom"
    window.editor.move_nodes({node_id(window, "dense"): ((480.0, 0.0), (500.0, 60.0))})
    window.editor.set_param(node_id(window, "dense"), "units", 33)
    window.view.set_zoom(0.8)
    window.view.center_on(QPointF(300, 50))
    window.file_ops.ask_save_path = lambda *a: str(path)
    assert window.file_ops.save()                    # no path yet: asks, then saves
    assert path.is_file() and not window.is_modified()
    assert window.windowTitle().startswith("small.loom")
    saved = window.editor.doc.to_dict()

    window.file_ops.new_project()
    assert window.editor.doc.nodes == {}
    assert window.file_ops.open_path(str(path))
    flush()
    doc = window.editor.doc
    assert doc.to_dict() == saved
    assert doc.node_by_name("dense").position == (500.0, 60.0)
    assert abs(window.view.zoom() - 0.8) < 1e-3
    c = window.view.view_center()        # scrolling is by whole pixels: ~2 px at 80%
    assert abs(c.x() - 300) < 4 and abs(c.y() - 50) < 4
    assert window.file_ops.recent_files()[0] == str(path.resolve())
    assert window.settings.value("last_project") == str(path.resolve())
    assert len(window.scene.node_items) == 4 and window.undo_stack.count() == 0


def test_save_again_writes_to_the_same_file(window, tmp_path):
    path = tmp_path / "again.loom"
    window.file_ops.ask_save_path = lambda *a: str(path)
    window.file_ops.save_as()
    window.editor.add_node("Dropout", (0, 300))
    window.file_ops.ask_save_path = lambda *a: pytest.fail("save must not ask again")
    assert window.file_ops.save()
    assert project.load_project(path).graph.node_by_name("dropout") is not None


def test_opening_a_broken_file_keeps_the_current_project_and_says_why(window, tmp_path):
    bad = tmp_path / "bad.loom"
    bad.write_text("not a zip")
    before = window.editor.doc
    assert not window.file_ops.open_path(str(bad))
    assert window.editor.doc is before
    assert "bad.loom" in window.statusBar().currentMessage()
    assert window._last_error_box.isVisible()
    window._last_error_box.close()


def test_modified_project_asks_before_it_is_replaced(window):
    window.editor.add_node("Dropout", (0, 300))
    window.file_ops.ask_save_changes = lambda: "cancel"
    window.file_ops.new_project()
    assert window.editor.doc.node_by_name("dropout") is not None
    window.file_ops.ask_save_changes = lambda: "discard"
    window.file_ops.new_project()
    assert window.editor.doc.nodes == {}


def test_close_guard_can_keep_the_project_open(window):
    window.close_guards.append(lambda: False)
    window.file_ops.new_project()
    assert len(window.editor.doc.nodes) == 4
    window.close_guards.clear()


def test_newer_autosave_is_offered_and_recovered(window, tmp_path):
    path = tmp_path / "work.loom"
    window.file_ops.ask_save_path = lambda *a: str(path)
    window.file_ops.save()
    window.editor.add_node("Dropout", (0, 300))
    assert window.file_ops.autosave() == str(project.autosave_path(path))
    window.file_ops.new_project()
    asked = []
    window.file_ops.ask_restore_autosave = lambda p: asked.append(p) or True
    assert window.file_ops.open_path(str(path))
    assert asked == [str(path)]
    assert window.editor.doc.node_by_name("dropout") is not None
    assert window.is_modified() and window.project.path == path


def test_startup_project_falls_back_to_the_mnist_cnn(window, monkeypatch, tmp_path):
    from engine.registry import LAYERS
    if "Conv2D" not in LAYERS:
        pytest.skip("the engine has no Conv2D yet")
    from app import file_ops
    monkeypatch.setattr(file_ops, "DEFAULT_EXAMPLE", tmp_path / "missing.loom")
    window.settings.setValue("last_project", str(tmp_path / "gone.loom"))
    p = window.file_ops.startup_project()
    types = [n.type_name for n in p.graph.nodes.values()]
    assert types == ["InputLayer", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D",
                     "Flatten", "Dropout", "Dense"]
    assert p.graph.problems() == [] and p.path is None
    assert p.graph.info[p.graph.node_by_name("dense").id].params == 16010


def test_examples_menu_lists_bundled_projects(window, monkeypatch, tmp_path):
    from app import file_ops
    ex = tmp_path / "examples"
    ex.mkdir()
    p = project.Project.new()
    p.graph = window.editor.doc
    project.save_project(p, ex / "mnist_mlp.loom")
    monkeypatch.setattr(file_ops, "EXAMPLES_DIR", ex)
    assert window.file_ops.examples() == [("MNIST MLP", ex / "mnist_mlp.loom")]
    window.actions.menus["examples"].aboutToShow.emit()
    titles = [a.text() for a in window.actions.menus["examples"].actions()]
    assert titles == ["MNIST MLP"]
    window.file_ops.new_project()
    assert window.file_ops.open_example(ex / "mnist_mlp.loom")
    assert window.project.path is None and len(window.editor.doc.nodes) == 4


def test_recent_files_menu(window, tmp_path):
    for k in range(12):
        window.file_ops.add_recent(str(tmp_path / f"p{k}.loom"))
    recent = window.file_ops.recent_files()
    assert len(recent) == 10 and recent[0].endswith("p11.loom")
    window.actions.menus["recent"].aboutToShow.emit()
    texts = [a.text() for a in window.actions.menus["recent"].actions()]
    assert texts[0].endswith("p11.loom") and texts[-1] == "Clear List"
    window.file_ops.clear_recent()
    assert window.file_ops.recent_files() == []


def test_export_keras_h5_and_import_it_back_as_a_graph(window, tmp_path):
    keras_h5 = pytest.importorskip("engine.io.keras_h5")
    path = tmp_path / "model.h5"
    window.file_ops.ask_save_path = lambda *a: str(path)
    window.file_ops.export_h5_dialog()
    model = keras_h5.load_model(path, compile=False)
    assert [layer.name for layer in model.layers][-2:] == ["dense", "dense_1"]
    window.file_ops.new_project()
    assert window.file_ops.import_h5(str(path))
    doc = window.editor.doc
    assert {n.name for n in doc.nodes.values()} >= {"flatten", "dense", "dense_1"}
    assert doc.problems() == [] and window.is_modified() and window.project.path is None
    xs = [doc.node_by_name(n).position[0] for n in ("flatten", "dense", "dense_1")]
    assert xs == sorted(xs) and len(set(xs)) == 3            # laid out left to right
    assert len(window.scene.node_items) == len(doc.nodes)


def test_export_keras_script(window, tmp_path):
    pytest.importorskip("engine.io.codegen")
    path = tmp_path / "model.py"
    assert window.file_ops.export_script(str(path))
    text = path.read_text()
    compile(text, str(path), "exec")
    assert "Dense(" in text and "dense_1" in text


def test_export_of_a_broken_graph_says_why(window, tmp_path):
    pytest.importorskip("engine.io.keras_h5")
    window.editor.add_node("Dense", (0, 300), params={"units": 2}, name="lonely")
    assert not window.file_ops.export_h5(str(tmp_path / "m.h5"))
    assert "lonely" in window.statusBar().currentMessage()
    assert not (tmp_path / "m.h5").exists()
    window._last_error_box.close()


def test_import_of_a_file_that_is_not_keras_says_why(window, tmp_path):
    pytest.importorskip("engine.io.keras_h5")
    bad = tmp_path / "notes.h5"
    bad.write_text("not hdf5")
    before = window.editor.doc
    assert not window.file_ops.import_h5(str(bad))
    assert window.editor.doc is before
    assert "notes.h5" in window.statusBar().currentMessage()
    window._last_error_box.close()
