"""The Runs panel: a sortable table of every run (name, start, epochs, stop reason, final loss and
metrics, duration, backend, note), selection overlaid on the plots, rename, note, delete; run
records of older project files."""
import json
import zipfile

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from app.training.runs_panel import RunsPanel
from engine.project import Project, RunRecord, load_project, save_project
from tests.app.test_training_controller import Harness, new_project


def three_runs() -> Project:
    p = Project.new()
    for started, loss, acc, status, msg, secs in (
            (1764000000.0, [0.9, 0.5], [0.6, 0.8], "completed", "finished 2 epochs", 12.0),
            (1764000500.0, [0.7, 0.3, 0.2], [0.7, 0.9, 0.95], "stopped",
             "stopped by the user after 3 epochs", 95.0),
            (1764001000.0, [float("nan")], [0.1], "diverged", "loss is NaN", 1.5)):
        p.add_run(RunRecord(started=started, finished=started + secs, status=status,
                            message=msg, duration=secs,
                            history={"loss": loss, "accuracy": acc,
                                     "val_loss": [v + 0.1 for v in loss]}))
    return p


@pytest.fixture
def panel(qtbot):
    w = RunsPanel()
    qtbot.addWidget(w)
    w.resize(1100, 300)
    w.show()
    w.set_project(three_runs())
    return w


def column(panel, title):
    m = panel.proxy
    c = next(i for i in range(m.columnCount()) if m.headerData(i, Qt.Horizontal) == title)
    return [m.index(r, c).data() for r in range(m.rowCount())]


def test_table_shows_every_run_with_its_results(panel):
    headers = [panel.proxy.headerData(i, Qt.Horizontal) for i in range(panel.proxy.columnCount())]
    assert headers == ["Name", "Started", "Epochs", "Stop reason", "loss", "val_loss",
                       "accuracy", "Duration", "Backend", "Note"]
    assert column(panel, "Name") == ["run 3", "run 2", "run 1"]          # newest first
    assert column(panel, "Epochs") == ["1", "3", "2"]
    assert column(panel, "Stop reason")[1] == "stopped by the user after 3 epochs"
    assert column(panel, "loss") == ["—", "0.2", "0.5"]                  # NaN has no value
    assert column(panel, "Duration") == ["0:02", "1:35", "0:12"]
    assert set(column(panel, "Backend")) == {"LayerLoom engine"}
    assert not panel.empty.isVisible()


def test_columns_sort_by_value_and_missing_values_go_last(panel):
    loss = next(i for i in range(panel.proxy.columnCount())
                if panel.proxy.headerData(i, Qt.Horizontal) == "loss")
    panel.table.sortByColumn(loss, Qt.AscendingOrder)
    assert column(panel, "Name") == ["run 2", "run 1", "run 3"]
    duration = next(i for i in range(panel.proxy.columnCount())
                    if panel.proxy.headerData(i, Qt.Horizontal) == "Duration")
    panel.table.sortByColumn(duration, Qt.DescendingOrder)
    assert column(panel, "Duration") == ["1:35", "0:12", "0:02"]


def test_rename_and_note_in_the_table(panel, qtbot):
    changed = []
    panel.runs_changed.connect(lambda: changed.append(1))
    panel.table.selectRow(1)                                            # run 2
    panel.rename_btn.click()
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit) and editor.text() == "run 2"
    editor.selectAll()
    QTest.keyClicks(editor, "  lr 0.01 ")
    QTest.keyClick(editor, Qt.Key_Return)
    QApplication.processEvents()                     # the delegate commits on the next turn
    run = panel.project.runs[1]
    assert run.name == "lr 0.01" and changed
    assert "lr 0.01" in column(panel, "Name")
    panel.table.selectRow(column(panel, "Name").index("lr 0.01"))
    panel.note_btn.click()
    editor = QApplication.focusWidget()
    QTest.keyClicks(editor, "best so far")
    QTest.keyClick(editor, Qt.Key_Return)
    QApplication.processEvents()
    assert run.note == "best so far" and "best so far" in column(panel, "Note")


def test_delete_asks_then_removes_runs(panel, qtbot):
    asked = []
    panel.confirm_delete = lambda runs: asked.append([r.name for r in runs]) or True
    panel.table.setFocus()
    panel.table.selectRow(2)                                            # run 1
    QTest.keyClick(panel.table, Qt.Key_Delete)
    assert asked == [["run 1"]] and [r.name for r in panel.project.runs] == ["run 2", "run 3"]
    panel.confirm_delete = lambda runs: False
    panel.table.selectRow(0)
    assert panel.delete_selected() == 0 and len(panel.project.runs) == 2
    panel.project.add_run(RunRecord(status="completed", history={"loss": [1.0]}))
    assert panel.project.runs[-1].name == "run 4"              # not a second "run 3"


def test_selected_runs_are_overlaid_and_the_compare_menu_follows(qtbot):
    h = Harness(qtbot, new_project(epochs=2))
    c = h.controller
    h.train_and_wait()
    h.train_and_wait()
    runs = h.project.runs
    assert [r.name for r in runs] == ["run 1", "run 2"]
    assert all(r.backend == "engine" and r.duration and r.duration > 0 for r in runs)
    panel = c.runs_panel
    assert panel.proxy.rowCount() == 2 and "Runs" in [d.windowTitle() for d in c.docks.values()]
    panel.table.selectRow(column(panel, "Name").index("run 1"))
    loss_plot = c.dashboard.plots["loss"]
    assert [o.name() for o in loss_plot._overlays][:1] == ["run 1"]
    menu = {a.data(): a for a in c.dashboard.compare_menu.actions()}
    assert menu[str(runs[0].id)].isChecked() and not menu[str(runs[1].id)].isChecked()
    menu[str(runs[1].id)].setChecked(True)                   # from the dashboard's menu
    assert panel.selected_ids() == {str(runs[0].id), str(runs[1].id)}
    modified = []
    c.project_modified.connect(lambda: modified.append(1))
    panel.confirm_delete = lambda _runs: True
    panel.delete_selected()
    assert h.project.runs == [] and loss_plot._overlays == [] and modified
    assert not c.dashboard.compare_btn.isEnabled()
    c.stop_and_wait()


def test_run_records_of_older_files_open_and_new_fields_round_trip(tmp_path):
    old = {"schema_version": 1, "graph": Project.new().graph.to_dict(), "runs": [
        {"id": "abc", "started": 1764000000.0, "finished": 1764000060.0, "settings": {},
         "history": {"loss": [0.5]}, "batch_history": {}, "status": "completed",
         "message": ""}]}
    path = tmp_path / "old.loom"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("project.json", json.dumps(old))
    p = load_project(path)
    run = p.runs[0]
    assert (run.name, run.note, run.backend, run.duration) == ("", "", "engine", None)
    assert run.display_name(1) == "run 1"
    p.add_run(RunRecord(status="completed", history={"loss": [0.4]}))
    assert p.runs[1].name == "run 2"
    run.name, run.note, run.duration = "baseline", "first try\nlr 1e-3", 60.5
    save_project(p, path)
    back = load_project(path).runs[0]
    assert (back.name, back.note, back.duration) == ("baseline", "first try\nlr 1e-3", 60.5)
    data = json.loads(zipfile.ZipFile(path).read("project.json"))
    data["runs"][0]["duration"] = "long"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("project.json", json.dumps(data))
    with pytest.raises(ValueError, match="training run field 'duration' has the wrong type"):
        load_project(path)
