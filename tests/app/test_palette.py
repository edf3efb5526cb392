"""Palette: every registered layer, search, double-click, drag and drop, Tab quick-add."""
from PySide6.QtCore import QEvent, QMimeData, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import QApplication

from app.canvas.view import LAYER_MIME
from engine.registry import by_category


def test_palette_lists_every_registered_layer_grouped_by_category(window):
    tree = window.palette.tree
    groups = {tree.topLevelItem(i).text(0): [tree.topLevelItem(i).child(j).text(0)
                                             for j in range(tree.topLevelItem(i).childCount())]
              for i in range(tree.topLevelItemCount())}
    expected = {cat: [s.type_name for s in specs] for cat, specs in by_category().items()}
    assert groups == expected
    item = tree.topLevelItem(0).child(0)
    assert not item.icon(0).isNull() and item.toolTip(0)


def test_search_filters_by_name_and_help(window):
    window.palette.search.setText("conca")
    assert window.palette.visible_types() == ["Concatenate"]
    window.palette.search.setText("fully connected")
    assert "Dense" in window.palette.visible_types()
    window.palette.search.setText("")
    assert len(window.palette.visible_types()) == sum(len(v) for v in by_category().values())


def test_activating_a_layer_adds_it_at_the_view_centre_selected(window):
    tree = window.palette.tree
    item = next(i for i in window.palette.layer_items() if i.text(0) == "Dropout")
    tree.itemActivated.emit(item, 0)
    doc = window.editor.doc
    node = doc.node_by_name("dropout")
    assert node is not None and node.type_name == "Dropout"
    assert window.scene.selected_node_ids() == [node.id]
    rect = window.scene.node_items[node.id].sceneBoundingRect()
    assert window.view.visible_scene_rect().contains(rect.center())
    window.undo_stack.undo()
    assert doc.node_by_name("dropout") is None


def test_enter_in_search_adds_the_first_match(window):
    window.palette.search.setText("flat")
    window.palette.search.returnPressed.emit()
    assert window.editor.doc.node_by_name("flatten_1").type_name == "Flatten"


def test_dragging_a_layer_carries_its_type(window):
    item = next(i for i in window.palette.layer_items() if i.text(0) == "Dense")
    mime = window.palette.tree.mimeData([item])
    assert bytes(mime.data(LAYER_MIME)) == b"Dense"
    assert item.flags() & Qt.ItemIsDragEnabled
    group = window.palette.tree.topLevelItem(0)
    assert not group.flags() & Qt.ItemIsDragEnabled


def test_dropping_a_layer_on_the_canvas_adds_it_where_it_was_dropped(window):
    view = window.view
    mime = QMimeData()
    mime.setData(LAYER_MIME, b"Dense")
    at = QPointF(300, 420)
    enter = QDragEnterEvent(at.toPoint(), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(view.viewport(), enter)
    assert enter.isAccepted()
    drop = QDropEvent(at, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(view.viewport(), drop)
    node = window.editor.doc.node_by_name("dense_2")
    assert node is not None
    rect = window.scene.node_items[node.id].sceneBoundingRect()
    assert rect.adjusted(-25, -25, 25, 25).contains(view.mapToScene(at.toPoint()))


def test_tab_on_the_canvas_opens_quick_add_and_enter_adds(window, qtbot):
    view = window.view
    view.setFocus()
    QApplication.sendEvent(view, QKeyEvent(QEvent.KeyPress, Qt.Key_Tab, Qt.NoModifier))
    popup = view.quick_add
    assert popup.isVisible()
    qtbot.keyClicks(popup.search, "gaussian")
    visible = [popup.list.item(i).text() for i in range(popup.list.count())
               if not popup.list.item(i).isHidden()]
    assert visible == ["GaussianNoise"]
    qtbot.keyClick(popup.search, Qt.Key_Return)
    assert not popup.isVisible()
    node = window.editor.doc.node_by_name("gaussian_noise")
    assert node is not None and window.scene.selected_node_ids() == [node.id]


def test_repeated_adds_do_not_stack_exactly(window):
    a = window.add_layer_at("Dense", QPointF(0, 600))
    b = window.add_layer_at("Dense", QPointF(0, 600))
    doc = window.editor.doc
    assert doc.node(a).position != doc.node(b).position
