"""The canvas as a view of the document: items, cards, connecting, selecting, moving, zooming."""
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QKeyEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.canvas.edge_item import EdgeItem
from app.canvas.node_item import NodeItem
from app.canvas.scene import GRID
from tests.app.conftest import node_id


def items_of(scene, cls):
    return [i for i in scene.items() if isinstance(i, cls) and getattr(i, "edge", True)]


def test_scene_has_one_item_per_node_and_edge_and_follows_undo(window):
    doc, scene = window.editor.doc, window.scene
    assert len(items_of(scene, NodeItem)) == len(doc.nodes) == 4
    assert len(items_of(scene, EdgeItem)) == len(doc.edges) == 3
    nid = window.editor.add_node("Dropout", (0, 300))
    assert nid in scene.node_items
    window.undo_stack.undo()
    assert nid not in scene.node_items and len(items_of(scene, NodeItem)) == 4


def test_node_card_shows_type_name_key_params_shape_and_param_count(window):
    window.scene.flush()
    card = window.scene.node_items[node_id(window, "dense")].card
    assert (card.type_name, card.name) == ("Dense", "dense")
    assert ("units", "64") in card.rows and ("activation", "relu") in card.rows
    assert card.shape_text == "64"
    assert card.params == 784 * 64 + 64
    assert card.inputs == (True,) and card.outputs == (True,)


def test_edges_are_labelled_with_the_tensor_shape(window):
    window.scene.flush()
    doc = window.editor.doc
    edge = doc.in_edges(node_id(window, "dense"))[0]          # flatten → dense
    assert window.scene.edge_items[edge].label == "784"
    window.editor.set_param(node_id(window, "input"), "shape", [14, 14])
    window.scene.flush()
    assert window.scene.edge_items[edge].label == "196"


def test_error_node_has_red_card_tooltip_and_problem_that_selects_it(window, qtbot):
    nid = window.editor.add_node("Dense", (0, 400), params={"units": 3}, name="lonely")
    window.scene.flush()
    item = window.scene.node_items[nid]
    assert item.card.error and "no input connected" in item.card.error
    assert "no input connected" in item.toolTip()
    window.problems.refresh()
    rows = [window.problems.list.item(i) for i in range(window.problems.list.count())]
    row = next(r for r in rows if r.data(Qt.UserRole) == nid)
    assert row.text().startswith("lonely:")
    window.scene.clearSelection()
    window.problems.list.itemClicked.emit(row)
    assert window.scene.selected_node_ids() == [nid]


def test_drag_from_output_port_to_input_port_connects(window, mouse):
    src = window.scene.node_items[node_id(window, "dense")]
    dst_id = window.editor.add_node("Dense", (480, 300), params={"units": 5}, name="extra")
    dst = window.scene.node_items[dst_id]
    mouse.drag(src.ports_out[0].scenePos(), dst.ports_in[0].scenePos())
    doc = window.editor.doc
    assert [e.src for e in doc.in_edges(dst_id)] == [src.node_id]
    assert "Connected dense → extra" in window.statusBar().currentMessage()
    window.undo_stack.undo()
    assert doc.in_edges(dst_id) == []


def test_drag_onto_a_node_body_uses_its_free_input(window, mouse):
    src = window.scene.node_items[node_id(window, "dense")]
    dst_id = window.editor.add_node("Dense", (480, 300), params={"units": 5}, name="extra")
    body = window.scene.node_items[dst_id].sceneBoundingRect().center()
    mouse.drag(src.ports_out[0].scenePos(), body)
    assert len(window.editor.doc.in_edges(dst_id)) == 1


def test_invalid_connection_is_refused_with_the_reason_in_the_status_bar(window, mouse):
    doc = window.editor.doc
    edges_before = list(doc.edges)
    src = window.scene.node_items[node_id(window, "dense_1")]
    taken = window.scene.node_items[node_id(window, "flatten")].ports_in[0]
    mouse.drag(src.ports_out[0].scenePos(), taken.scenePos())
    assert doc.edges == edges_before
    msg = window.statusBar().currentMessage()
    # the taken input would give way, but feeding dense_1 back into flatten is a cycle
    assert msg.startswith("Cannot connect:") and "cycle" in msg and "flatten" in msg
    # a cycle: dense_1's output back into a new merge fed by dense_1
    add_id = window.editor.add_node("Add", (900, 300))
    window.editor.connect(src.node_id, 0, add_id, None)
    assert window.editor.connect(add_id, 0, node_id(window, "dense"), None) is not None
    reason = window.editor.connect(add_id, 0, add_id, None)
    assert "cannot feed itself" in reason
    assert "cannot feed itself" in window.statusBar().currentMessage()


def test_rubber_band_selects_the_nodes_it_touches(window, mouse):
    scene = window.scene
    a = scene.node_items[node_id(window, "input")].sceneBoundingRect()
    b = scene.node_items[node_id(window, "flatten")].sceneBoundingRect()
    start = QPointF(a.left() - 30, a.top() - 30)
    end = QPointF(b.center().x(), b.bottom() + 30)
    mouse.drag(start, end)
    assert set(scene.selected_node_ids()) == {node_id(window, "input"), node_id(window, "flatten")}


def test_select_all_selects_every_node_and_edge(window):
    window.actions["select_all"].trigger()
    assert len(window.scene.selected_node_ids()) == 4
    assert len(window.scene.selected_edges()) == 3


def test_dragging_a_node_moves_it_on_the_grid_and_undo_moves_it_back(window, mouse):
    nid = node_id(window, "flatten")
    item = window.scene.node_items[nid]
    grab = item.sceneBoundingRect().topLeft() + QPointF(60, 12)     # the header
    mouse.drag(grab, grab + QPointF(47, 93))
    doc = window.editor.doc
    x, y = doc.node(nid).position
    assert (x, y) != (240.0, 0.0)
    assert x % GRID == 0 and y % GRID == 0
    assert (item.pos().x(), item.pos().y()) == (x, y)
    assert window.undo_stack.undoText() == "Move flatten"
    window.undo_stack.undo()
    assert doc.node(nid).position == (240.0, 0.0)
    assert (item.pos().x(), item.pos().y()) == (240.0, 0.0)


def test_moved_node_drags_its_edges_along(window, mouse):
    nid = node_id(window, "flatten")
    edge = window.editor.doc.in_edges(nid)[0]
    edge_item = window.scene.edge_items[edge]
    before = edge_item.boundingRect()
    window.editor.move_nodes({nid: ((240.0, 0.0), (240.0, 200.0))})
    assert edge_item.boundingRect() != before
    assert edge_item.boundingRect().bottom() > before.bottom() + 100


def test_zoom_in_out_reset_fit_and_wheel(window):
    view = window.view
    view.reset_zoom()
    view.zoom_in()
    assert view.zoom() > 1.0
    view.zoom_out()
    view.zoom_out()
    assert view.zoom() < 1.0
    window.actions["zoom_reset"].trigger()
    assert abs(view.zoom() - 1.0) < 1e-9
    window.editor.add_node("Dense", (3000, 1500), params={"units": 2})
    window.actions["fit"].trigger()
    assert view.visible_scene_rect().contains(window.scene.nodes_rect())
    zoom = view.zoom()
    center = QPointF(view.viewport().rect().center())
    wheel = QWheelEvent(center, view.viewport().mapToGlobal(center.toPoint()).toPointF(),
                        QPoint(), QPoint(0, 120), Qt.NoButton, Qt.NoModifier,
                        Qt.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom() > zoom
    assert window.zoom_label.text() == f"{view.zoom() * 100:.0f}%"


def test_middle_drag_pans_the_view(window, mouse):
    view = window.view
    before = view.view_center()
    start = view.view_center()
    mouse.drag(start, start + QPointF(150, 80), button=Qt.MiddleButton)
    after = view.view_center()
    assert after.x() < before.x() - 100 and after.y() < before.y() - 50
    assert window.editor.doc.node(node_id(window, "input")).position == (0.0, 0.0)


def test_space_and_drag_pans_without_selecting(window, mouse):
    view = window.view
    before = view.view_center()
    QApplication.sendEvent(view, QKeyEvent(QEvent.KeyPress, Qt.Key_Space, Qt.NoModifier))
    mouse.drag(before, before + QPointF(-120, 0))
    QApplication.sendEvent(view, QKeyEvent(QEvent.KeyRelease, Qt.Key_Space, Qt.NoModifier))
    assert view.view_center().x() > before.x() + 100
    assert window.scene.selected_node_ids() == []


def test_minimap_click_centres_the_view_there(window, qtbot):
    mini = window.view.minimap
    assert mini.isVisible()
    window.view.set_zoom(2.0)
    QApplication.processEvents()
    mini.repaint()
    target = mini.rect().bottomRight() - QPoint(10, 10)
    qtbot.mouseClick(mini, Qt.LeftButton, pos=target)
    expected = mini._to_scene(QPointF(target))
    center = window.view.view_center()
    assert abs(center.x() - expected.x()) < 5 and abs(center.y() - expected.y()) < 5


def test_auto_layout_is_one_undo_step(window):
    doc = window.editor.doc
    for k, nid in enumerate(doc.nodes):
        window.editor.move_nodes({nid: (doc.node(nid).position, (k * 7.0, k * 300.0))})
    scattered = {nid: n.position for nid, n in doc.nodes.items()}
    window.actions["auto_layout"].trigger()
    laid_out = {nid: n.position for nid, n in doc.nodes.items()}
    assert laid_out != scattered
    xs = [laid_out[node_id(window, n)][0] for n in ("input", "flatten", "dense", "dense_1")]
    assert xs == sorted(xs) and len(set(xs)) == 4                # left to right
    window.undo_stack.undo()
    assert {nid: n.position for nid, n in doc.nodes.items()} == scattered


def test_escape_cancels_a_connection_drag(window, mouse):
    scene = window.scene
    port = scene.node_items[node_id(window, "dense_1")].ports_out[0]
    mouse._send(QEvent.MouseButtonPress, port.scenePos(), Qt.LeftButton, Qt.LeftButton)
    mouse._send(QEvent.MouseMove, port.scenePos() + QPointF(80, 40), Qt.NoButton, Qt.LeftButton)
    rubber = [i for i in scene.items() if isinstance(i, EdgeItem) and i.edge is None]
    assert len(rubber) == 1
    QApplication.sendEvent(window.view, QKeyEvent(QEvent.KeyPress, Qt.Key_Escape, Qt.NoModifier))
    assert not [i for i in scene.items() if isinstance(i, EdgeItem) and i.edge is None]
    mouse._send(QEvent.MouseButtonRelease, port.scenePos(), Qt.LeftButton, Qt.NoButton)
