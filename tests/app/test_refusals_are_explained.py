"""Refused edits say why, where the user is looking: a value out of range names the range
(not "required"), a refused connection shows on the canvas, not only in the status bar."""
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.app.conftest import node_id


def _select(window, name: str) -> str:
    nid = node_id(window, name)
    window.scene.select_nodes([nid])
    QApplication.processEvents()
    return nid


def _type_into(spin, text: str) -> None:
    spin.lineEdit().selectAll()
    QTest.keyClicks(spin.lineEdit(), text)
    QTest.keyClick(spin.lineEdit(), Qt.Key_Return)
    QApplication.processEvents()


def test_typing_zero_units_says_it_must_be_at_least_one(window):
    nid = _select(window, "dense")
    editor = window.inspector.editors["units"]
    _type_into(editor.spin, "0")
    doc = window.editor.doc
    assert doc.node(nid).params["units"] == 64                  # refused, nothing changed
    assert doc.info[nid].error is None
    shown = window.inspector.message.text()
    assert window.inspector.message.isVisible()
    assert "units" in shown and ">= 1" in shown and "0" in shown and "required" not in shown
    assert "required" not in window.statusBar().currentMessage()
    _type_into(editor.spin, "32")
    assert doc.node(nid).params["units"] == 32
    assert not window.inspector.message.isVisible()


def test_a_kernel_size_of_zero_is_refused_with_its_range(window):
    nid = window.editor.add_node("Conv2D", (0, 300), params={"filters": 4, "kernel_size": 3})
    window.scene.select_nodes([nid])
    QApplication.processEvents()
    spins = window.inspector.editors["kernel_size"].spins
    _type_into(spins[0], "0")
    assert window.editor.doc.node(nid).params["kernel_size"] == [3, 3]
    assert ">= 1" in window.inspector.message.text()


def test_a_refused_cycle_is_shown_on_the_canvas(window, mouse):
    ed = window.editor
    add = ed.add_node("Add", (480, 300))
    tail = ed.add_node("Dense", (720, 300), params={"units": 64}, name="tail")
    ed.connect(node_id(window, "dense"), 0, add, None)
    ed.connect(add, 0, tail, None)
    window.scene.flush()
    src = window.scene.node_items[tail].ports_out[0].scenePos()
    free_port = window.scene.node_items[add].ports_in[1].scenePos()
    mouse.drag(src, free_port)
    notice = window.view.notice
    assert notice.isVisible() and "cycle" in notice.text()
    assert "cycle" in window.log_panel.toPlainText()
    assert len(window.editor.doc.in_edges(add)) == 1
