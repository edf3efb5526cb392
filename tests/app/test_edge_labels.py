"""An edge's shape label stays visible: it moves along its curve off any node in the way, and
is drawn above the nodes when the whole curve is covered."""
from PySide6.QtCore import QRectF

from tests.app.conftest import node_id


def _edge_item(window, src: str, dst: str):
    doc = window.editor.doc
    edge = next(e for e in doc.edges if e.src == node_id(window, src)
                and e.dst == node_id(window, dst))
    return window.scene.edge_items[edge]


def _label_rect(window, src: str, dst: str) -> QRectF:
    item = _edge_item(window, src, dst)
    assert item.label
    return item.label_rect()


def _stretch(window, name: str, x: float) -> None:
    """Move ``name`` right so that its incoming edge is long."""
    window.editor.move_nodes({node_id(window, name): (
        window.editor.doc.node(node_id(window, name)).position, (x, 0.0))})
    window.scene.flush()


def test_label_avoids_a_node_on_its_midpoint(window):
    _stretch(window, "dense_1", 1300)
    rect = _label_rect(window, "dense", "dense_1")
    window.editor.add_node("Dropout", (rect.center().x() - 84, rect.center().y() - 40),
                           name="in_the_way")
    window.scene.flush()
    blocker = window.scene.node_items[node_id(window, "in_the_way")].sceneBoundingRect()
    assert blocker.intersects(rect)                        # where the label used to sit
    assert not _label_rect(window, "dense", "dense_1").intersects(blocker)


def test_label_moves_off_a_node_dragged_over_it(window, mouse):
    _stretch(window, "dense_1", 1700)
    _stretch(window, "dense", 1300)
    rect = _label_rect(window, "flatten", "dense")
    nid = window.editor.add_node("Dropout", (0, 400), name="mover")
    window.scene.flush()
    item = window.scene.node_items[nid]
    grab = item.sceneBoundingRect().center()
    mouse.drag(grab, grab + (rect.center() - grab))     # drop the card onto the label
    window.scene.flush()
    blocker = item.sceneBoundingRect()
    assert blocker.contains(rect.center())
    assert not _label_rect(window, "flatten", "dense").intersects(blocker)


def test_a_label_with_no_free_spot_is_drawn_above_the_nodes(window):
    rect = _label_rect(window, "dense", "dense_1")         # a 72 px gap
    window.editor.add_node("Dropout", (rect.center().x() - 84, rect.center().y() - 40),
                           name="covering")
    window.scene.flush()
    covering = window.scene.node_items[node_id(window, "covering")]
    assert _edge_item(window, "dense", "dense_1").zValue() > covering.zValue()
    window.undo_stack.undo()
    window.scene.flush()
    assert _edge_item(window, "dense", "dense_1").zValue() < 1
