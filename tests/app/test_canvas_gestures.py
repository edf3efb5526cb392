"""Drag gestures that wire new layers: a port dragged into empty canvas opens quick-add and
the chosen layer comes connected; a palette layer dropped onto a connection is inserted into
it; a connection dropped onto an occupied input replaces the one there. Each is one undo step."""
from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.canvas.view import LAYER_MIME
from tests.app.conftest import node_id


def _sources(doc, nid):
    return [doc.node(e.src).name for e in doc.in_edges(nid)]


def _pick(qtbot, popup, text: str) -> None:
    assert popup.isVisible()
    qtbot.keyClicks(popup.search, text)
    qtbot.keyClick(popup.search, Qt.Key_Return)


def test_output_port_dragged_into_empty_canvas_adds_a_connected_layer(window, mouse, qtbot):
    doc = window.editor.doc
    port = window.scene.node_items[node_id(window, "dense_1")].ports_out[0].scenePos()
    drop = window.view.mapToScene(window.view.viewport().rect().bottomRight()) - QPointF(20, 40)
    mouse.drag(port, drop)
    popup = window.view.quick_add
    listed = [popup.list.item(i).text() for i in range(popup.list.count())
              if not popup.list.item(i).isHidden()]
    assert "InputLayer" not in listed and "Dense" in listed       # what can follow
    _pick(qtbot, popup, "dropout")
    new = doc.node_by_name("dropout")
    assert _sources(doc, new.id) == ["dense_1"]
    item = window.scene.node_items[new.id]
    assert (item.ports_in[0].scenePos() - drop).manhattanLength() < 40   # wired where dropped
    assert window.scene.selected_node_ids() == [new.id]
    assert window.view.visible_scene_rect().contains(item.sceneBoundingRect())
    assert window.undo_stack.undoText() == "Add Dropout after dense_1"
    window.undo_stack.undo()
    assert doc.node_by_name("dropout") is None and len(doc.edges) == 3


def test_input_port_dragged_out_feeds_it_from_a_new_layer(window, mouse, qtbot):
    doc = window.editor.doc
    dense = node_id(window, "dense")
    port = window.scene.node_items[dense].ports_in[0].scenePos()
    mouse.drag(port, port + QPointF(-40, 260))
    _pick(qtbot, window.view.quick_add, "inputlayer")
    new = doc.node_by_name("input_1")
    assert _sources(doc, dense) == ["input_1"] and new.type_name == "InputLayer"
    assert doc.out_edges(node_id(window, "flatten")) == []       # it took flatten's place
    window.undo_stack.undo()
    assert _sources(doc, dense) == ["flatten"] and doc.node_by_name("input_1") is None


def test_a_click_on_a_port_opens_nothing(window, mouse):
    port = window.scene.node_items[node_id(window, "dense_1")].ports_out[0].scenePos()
    mouse.drag(port, port + QPointF(3, 2), steps=1)
    assert not window.view.quick_add.isVisible()


def test_escape_in_quick_add_adds_nothing(window, mouse, qtbot):
    port = window.scene.node_items[node_id(window, "dense_1")].ports_out[0].scenePos()
    mouse.drag(port, port + QPointF(200, 200))
    n, depth = len(window.editor.doc.nodes), window.undo_stack.count()
    qtbot.keyClick(window.view.quick_add.search, Qt.Key_Escape)
    assert not window.view.quick_add.isVisible()
    assert len(window.editor.doc.nodes) == n and window.undo_stack.count() == depth


def _drop_layer(window, type_name: bytes, scene_pos: QPointF) -> None:
    vp = window.view.viewport()
    at = QPointF(window.view.mapFromScene(scene_pos))
    mime = QMimeData()
    mime.setData(LAYER_MIME, type_name)
    for cls in (QDragEnterEvent, QDragMoveEvent):
        ev = cls(at.toPoint(), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
        QApplication.sendEvent(vp, ev)
        assert ev.isAccepted()
    QApplication.sendEvent(vp, QDropEvent(at, Qt.CopyAction, mime, Qt.LeftButton,
                                          Qt.NoModifier))
    QApplication.processEvents()


def _edge_item(window, src, dst):
    doc = window.editor.doc
    edge = next(e for e in doc.edges if (e.src, e.dst) == (node_id(window, src),
                                                          node_id(window, dst)))
    return window.scene.edge_items[edge]


def test_palette_layer_dropped_on_a_connection_is_inserted(window):
    doc = window.editor.doc
    item = _edge_item(window, "flatten", "dense")
    at = item.label_rect().center()
    before = {n.name: n.position for n in doc.nodes.values()}
    _drop_layer(window, b"Dropout", at)
    new = doc.node_by_name("dropout")
    assert _sources(doc, new.id) == ["flatten"]
    assert _sources(doc, node_id(window, "dense")) == ["dropout"]
    assert doc.info[node_id(window, "dense")].error is None
    assert item.state is None                                   # highlight gone
    window.scene.flush()
    cards = {n.name: window.scene.node_items[n.id].sceneBoundingRect().adjusted(8, 4, -8, -4)
             for n in doc.nodes.values()}
    assert not any(cards["dropout"].intersects(r) for k, r in cards.items() if k != "dropout")
    assert doc.node_by_name("dense_1").position[0] > before["dense_1"][0]   # made room
    assert window.undo_stack.undoText() == "Insert Dropout between flatten and dense"
    window.undo_stack.undo()
    assert _sources(doc, node_id(window, "dense")) == ["flatten"]
    assert doc.node_by_name("dropout") is None
    assert {n.name: n.position for n in doc.nodes.values()} == before


def test_dragging_over_a_connection_highlights_it(window):
    item = _edge_item(window, "dense", "dense_1")
    vp = window.view.viewport()
    at = window.view.mapFromScene(item.label_rect().center())
    mime = QMimeData()
    mime.setData(LAYER_MIME, b"Dense")
    QApplication.sendEvent(vp, QDragEnterEvent(at, Qt.CopyAction, mime, Qt.LeftButton,
                                               Qt.NoModifier))
    QApplication.sendEvent(vp, QDragMoveEvent(at, Qt.CopyAction, mime, Qt.LeftButton,
                                              Qt.NoModifier))
    assert item.state == "drop"


def test_an_input_layer_is_not_inserted_into_a_connection(window):
    doc = window.editor.doc
    edges = list(doc.edges)
    _drop_layer(window, b"InputLayer", _edge_item(window, "flatten", "dense")
                .label_rect().center())
    assert doc.edges == edges and doc.node_by_name("input_1") is None
    assert "takes no input" in window.view.notice.text() and window.view.notice.isVisible()


def test_connection_dropped_on_an_occupied_input_replaces_it(window, mouse):
    doc = window.editor.doc
    extra = window.editor.add_node("Dense", (240, 300), params={"units": 20}, name="extra")
    window.editor.connect(node_id(window, "flatten"), 0, extra, None)
    window.scene.flush()
    src = window.scene.node_items[extra].ports_out[0].scenePos()
    taken = window.scene.node_items[node_id(window, "dense")].ports_in[0].scenePos()
    mouse.drag(src, taken)
    assert _sources(doc, node_id(window, "dense")) == ["extra"]
    assert doc.out_edges(node_id(window, "flatten")) == [doc.in_edges(extra)[0]]
    assert window.undo_stack.undoText() == "Reconnect extra → dense"
    window.undo_stack.undo()
    assert _sources(doc, node_id(window, "dense")) == ["flatten"]
    window.undo_stack.redo()
    assert _sources(doc, node_id(window, "dense")) == ["extra"]
