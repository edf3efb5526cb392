"""The Training menu of the main window after a run: exports through the real menu actions,
and what is enabled once a project is opened."""
from PySide6.QtWidgets import QFileDialog

from engine.project import save_project
from tests.app import tiny_training


def _answer_save_dialog(monkeypatch, path) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))


def test_export_actions_of_the_training_menu_write_files(window, qtbot, tmp_path, monkeypatch):
    tiny_training.prepare(window)
    assert tiny_training.train(window, qtbot).status == "completed"
    c = window.training
    assert c.export_h5_action.isEnabled() and c.export_script_action.isEnabled()
    _answer_save_dialog(monkeypatch, tmp_path / "trained.h5")
    c.export_h5_action.trigger()              # triggered(bool): the bool is not a path
    assert (tmp_path / "trained.h5").stat().st_size > 0
    _answer_save_dialog(monkeypatch, tmp_path / "train_small.py")
    c.export_script_action.trigger()
    text = (tmp_path / "train_small.py").read_text()
    assert "train_small.weights.h5" in text and (tmp_path / "train_small.weights.h5").exists()


def test_export_script_is_enabled_after_opening_a_project(window, tmp_path):
    path = tmp_path / "small.loom"
    save_project(window.project, path)
    assert window.file_ops.open_path(str(path))
    assert window.training.export_script_action.isEnabled()
