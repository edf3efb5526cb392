"""The main window: panels, themes, remembered state, error handling, canvas export."""
import logging
import sys
import xml.etree.ElementTree as ET

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QMessageBox, QTableWidget

from app.panels.log import LOGGER_NAME
from tests.app.conftest import node_id


def test_panels_are_docked_around_the_canvas(window):
    area = window.dockWidgetArea
    assert area(window.docks["palette"]) == Qt.LeftDockWidgetArea
    assert area(window.docks["inspector"]) == Qt.RightDockWidgetArea
    assert area(window.docks["summary"]) == Qt.RightDockWidgetArea
    assert area(window.docks["problems"]) == Qt.BottomDockWidgetArea
    assert window.centralWidget().currentWidget() is window.view      # start page hidden
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus[:4] == ["File", "Edit", "Graph", "View"] and menus[-1] == "Help"


def test_summary_table_is_keras_like_and_live(window):
    table = window.summary.table
    rows = [[table.item(r, c).text() for c in range(4)] for r in range(table.rowCount())]
    assert rows[2] == ["dense (Dense)", "(None, 64)", "50,240", "flatten"]
    assert table.isColumnHidden(3)                   # a plain chain: no "Connected to"
    window.editor.add_node("Dense", (0, 300), params={"units": 1})
    window.editor.connect(node_id(window, "flatten"), 0, node_id(window, "dense_2"), None)
    QApplication.processEvents()
    assert not table.isColumnHidden(3)
    window.undo_stack.undo()
    window.undo_stack.undo()
    QApplication.processEvents()
    assert "Total params: 50,890" in window.summary.totals.text()
    window.editor.set_param(node_id(window, "dense"), "units", 10)
    QApplication.processEvents()
    assert table.item(2, 1).text() == "(None, 10)"
    assert "Total params: 7,960" in window.summary.totals.text()
    table.cellClicked.emit(3, 0)
    assert window.scene.selected_node_ids() == [node_id(window, "dense_1")]


def test_problems_panel_counts_and_clears(window):
    QApplication.processEvents()
    assert window.docks["problems"].windowTitle() == "Problems"
    nid = window.editor.add_node("Dense", (0, 300), params={"units": 2})
    QApplication.processEvents()
    assert window.docks["problems"].windowTitle() == "Problems (1)"
    window.undo_stack.undo()
    QApplication.processEvents()
    assert "No problems" in window.problems.list.item(0).text()
    assert nid not in window.editor.doc.nodes


def test_dark_theme_recolours_canvas_and_is_remembered(window, settings):
    window.actions["theme_dark"].trigger()
    assert window.scene.theme.name == "dark" and window.theme.is_dark
    assert QApplication.instance().palette().window().color().lightness() < 128
    assert settings.value("theme") == "dark"
    window.actions["theme_light"].trigger()
    assert settings.value("theme") == "light"


def test_window_state_and_snap_are_saved_and_restored(window, settings, qtbot):
    from app.main_window import MainWindow
    window.actions["snap"].setChecked(False)
    window.docks["summary"].hide()
    window.setAttribute(Qt.WA_DeleteOnClose, False)     # pytest-qt closes it again later
    window.close()
    assert settings.value("window/state") is not None and settings.value("window/geometry")
    again = MainWindow(settings=settings, catch_exceptions=False)
    qtbot.addWidget(again)
    assert again.scene.snap_enabled is False and not again.actions["snap"].isChecked()
    assert again.docks["summary"].isHidden()
    assert again.saveState(1) == window.saveState(1)   # docks where they were


def test_unexpected_exception_is_logged_autosaved_and_shown(window, monkeypatch):
    saved = []
    window.exception_hook.save_work = lambda: saved.append(1) or "/tmp/work.loom.autosave"
    window.exception_hook.install()
    try:
        try:
            raise ZeroDivisionError("boom")
        except ZeroDivisionError:
            sys.excepthook(*sys.exc_info())
    finally:
        window.exception_hook.uninstall()
    assert saved == [1]
    box = window.exception_hook.dialogs[-1]
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert box.text() == "Something went wrong: ZeroDivisionError: boom"
    assert "Traceback" in box.detailedText() and "/tmp/work.loom.autosave" in \
        box.informativeText()
    assert "ZeroDivisionError: boom" in window.log_panel.toPlainText()
    box.close()


def test_log_panel_shows_app_log_records(window):
    logging.getLogger(LOGGER_NAME).info("hello from a test")
    QApplication.processEvents()
    assert "hello from a test" in window.log_panel.toPlainText()


def test_export_canvas_png_and_svg(window, tmp_path):
    png, svg = tmp_path / "g.png", tmp_path / "g.svg"
    window.scene.select_nodes([node_id(window, "dense")])
    assert window.file_ops.export_picture(str(png))
    image = QImage(str(png))
    rect = window.scene.nodes_rect()
    assert image.width() > 2.5 * rect.width() and image.height() > 2.5 * rect.height()
    assert window.scene.selected_node_ids() == [node_id(window, "dense")]   # left as it was
    assert window.file_ops.export_picture(str(svg))
    root = ET.parse(svg).getroot()
    text = svg.read_text()
    assert root.tag.endswith("svg") and "dense_1" in text and "<image" not in text


def test_highlight_node_marks_selects_and_clears(window):
    window.highlight_node("dense", "output became NaN in epoch 2")
    item = window.scene.node_items[node_id(window, "dense")]
    assert item.alert == "output became NaN in epoch 2"
    assert "NaN" in item.toolTip()
    assert window.scene.selected_node_ids() == [item.node_id]
    window.highlight_node(None, "")
    assert item.alert is None


def test_title_shows_unsaved_changes(window):
    assert not window.isWindowModified()
    window.editor.add_node("Dropout", (0, 300))
    assert window.isWindowModified() and window.is_modified()
    window.undo_stack.undo()
    assert not window.is_modified()
    assert window.windowTitle().endswith("— LayerLoom")


def test_shortcuts_dialog_lists_the_actions(window):
    from app.help_dialogs import shortcut_rows
    rows = {what: keys for keys, what in shortcut_rows(window.actions.actions)}
    assert rows["Duplicate"] == "Ctrl+D"
    assert rows["Auto-layout"] == "Ctrl+L"
    assert "Tab (on the canvas)" in [keys for keys, _ in shortcut_rows(window.actions.actions)]
    rows = {what: keys for keys, what in shortcut_rows(window.all_actions())}
    assert rows["Train"] == "F5" and rows["Stop"] == "Shift+F5" and rows["Evaluate"] == "F7"
    assert rows["Pause"] == "F6" and rows["Duplicate"] == "Ctrl+D"
    window.show_shortcuts()
    table = window._shortcuts_dialog.findChild(QTableWidget)
    assert "Train" in [table.item(r, 1).text() for r in range(table.rowCount())]
    assert window._shortcuts_dialog.isVisible()
    window._shortcuts_dialog.close()


def test_no_left_over_tab_bars_after_the_docks_are_grouped(window, qtbot):
    from PySide6.QtWidgets import QTabBar
    qtbot.wait(10)
    bars = [b for b in window.findChildren(QTabBar) if b.parentWidget() is window
            and b.isVisible()]
    sets = [frozenset(b.tabText(i) for i in range(b.count())) for b in bars]
    assert frozenset({"Problems", "Log"}) <= next(s for s in sets if "Problems" in s)
    assert all(not (a <= b) for i, a in enumerate(sets) for j, b in enumerate(sets) if i != j)


def test_the_undo_history_tab_says_what_it_holds(window):
    from PySide6.QtWidgets import QTabBar
    assert window.docks["history"].windowTitle() == "Undo history"
    tabs = {b.tabText(i) for b in window.findChildren(QTabBar) if b.isVisible()
            for i in range(b.count())}
    assert "Undo history" in tabs and "History" not in tabs
