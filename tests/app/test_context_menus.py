"""Right-click menus of the canvas, a node and a connection: what they offer, and that what
they do is one undo step."""
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication

from tests.app import tiny_training
from tests.app.conftest import node_id


def right_click(window, scene_pos: QPointF):
    """A real context-menu event on the canvas; returns the menu that opened."""
    vp = window.view.viewport()
    local = window.view.mapFromScene(scene_pos)
    QApplication.sendEvent(vp, QContextMenuEvent(QContextMenuEvent.Mouse, local,
                                                 vp.mapToGlobal(local)))
    QApplication.processEvents()
    menu = window.canvas_interactions.menu
    assert menu is not None and menu.isVisible()
    return menu


def entries(menu) -> list[str]:
    return [a.text().split("\t")[0].replace("&", "") for a in menu.actions()
            if not a.isSeparator()]


def choose(menu, prefix: str) -> None:
    act = next(a for a in menu.actions() if a.text().replace("&", "").startswith(prefix))
    assert act.isEnabled(), act.text()
    menu.hide()
    act.trigger()
    QApplication.processEvents()


def centre(window, name: str) -> QPointF:
    return window.scene.node_items[node_id(window, name)].sceneBoundingRect().center()


def edge_point(window, src: str, dst: str) -> QPointF:
    doc = window.editor.doc
    edge = next(e for e in doc.edges if (e.src, e.dst) == (node_id(window, src),
                                                          node_id(window, dst)))
    return window.scene.edge_items[edge].label_rect().center()


@pytest.fixture
def empty_spot(window) -> QPointF:
    return window.scene.nodes_rect().bottomLeft() + QPointF(60, 120)


def test_canvas_menu_offers_add_paste_layout_and_fit(window, empty_spot):
    menu = right_click(window, empty_spot)
    assert entries(menu) == ["Add Layer…", "Paste Here", "Select All", "Auto-layout",
                             "Fit to View"]
    choose(menu, "Add Layer…")
    assert window.view.quick_add.isVisible()
    window.view.quick_add.hide()


def test_paste_here_puts_the_copy_where_the_menu_opened(window, empty_spot):
    window.scene.select_nodes([node_id(window, "dense")])
    window.copy_selection()
    menu = right_click(window, empty_spot)
    choose(menu, "Paste Here")
    pasted = window.editor.doc.node_by_name("dense_2")
    assert pasted is not None
    x, y = pasted.position
    assert abs(x - empty_spot.x()) <= 20 and abs(y - empty_spot.y()) <= 20
    window.undo_stack.undo()
    assert window.editor.doc.node_by_name("dense_2") is None


def test_node_menu_selects_the_node_and_lists_its_commands(window):
    window.scene.select_nodes([node_id(window, "input")])
    menu = right_click(window, centre(window, "dense"))
    assert window.scene.selected_node_ids() == [node_id(window, "dense")]
    assert entries(menu) == ["Rename Layer", "Duplicate", "Copy", "Cut", "Delete",
                             "Disconnect", "Show Activations",
                             "Set as Output (removes the 1 layer after it)"]


def test_node_menu_disconnect_is_one_undo_step(window):
    doc = window.editor.doc
    before = list(doc.edges)
    choose(right_click(window, centre(window, "dense")), "Disconnect")
    assert all(node_id(window, "dense") not in (e.src, e.dst) for e in doc.edges)
    assert len(doc.edges) == 1
    assert window.undo_stack.undoText() == "Disconnect dense"
    window.undo_stack.undo()
    assert sorted(map(str, doc.edges)) == sorted(map(str, before))


def test_set_as_output_removes_the_layers_after_it(window):
    doc = window.editor.doc
    choose(right_click(window, centre(window, "flatten")), "Set as Output")
    assert [n.name for n in doc.output_nodes()] == ["flatten"]
    assert doc.node_by_name("dense") is None and doc.node_by_name("dense_1") is None
    window.undo_stack.undo()
    assert [n.name for n in doc.output_nodes()] == ["dense_1"] and len(doc.edges) == 3
    menu = right_click(window, centre(window, "dense_1"))
    out = next(a for a in menu.actions() if a.text().startswith("Set as Output"))
    assert not out.isEnabled() and "it is one" in out.text()
    menu.hide()


def test_duplicate_delete_and_rename_from_the_node_menu(window):
    doc = window.editor.doc
    choose(right_click(window, centre(window, "dense")), "Duplicate")
    assert doc.node_by_name("dense_2") is not None
    choose(right_click(window, centre(window, "dense_2")), "Delete")
    assert doc.node_by_name("dense_2") is None
    choose(right_click(window, centre(window, "dense")), "Rename")
    assert window.inspector.name_edit.hasFocus() and window.inspector.node_id == node_id(
        window, "dense")


def test_show_activations_opens_the_panel_on_that_layer(window, qtbot):
    tiny_training.prepare(window)
    assert tiny_training.train(window, qtbot).status == "completed"
    choose(right_click(window, centre(window, "dense")), "Show Activations")
    act = window.training.activations
    assert window.training.docks["activations"].isVisible()
    assert act.layer_box.currentText() == "dense"
    assert act.bars.opts["height"].shape == (64,)


def test_edge_menu_inserts_a_layer_into_the_connection(window, qtbot):
    doc = window.editor.doc
    menu = right_click(window, edge_point(window, "dense", "dense_1"))
    assert entries(menu) == ["Insert Layer…", "Delete Connection"]
    choose(menu, "Insert Layer…")
    popup = window.view.quick_add
    assert popup.isVisible()
    qtbot.keyClicks(popup.search, "dropout")
    qtbot.keyClick(popup.search, Qt.Key_Return)
    drop = doc.node_by_name("dropout")
    assert drop is not None
    assert [doc.node(e.src).name for e in doc.in_edges(drop.id)] == ["dense"]
    assert [doc.node(e.src).name for e in doc.in_edges(node_id(window, "dense_1"))] == \
        ["dropout"]
    assert window.scene.selected_node_ids() == [drop.id]
    window.undo_stack.undo()                                    # one step back
    assert doc.node_by_name("dropout") is None
    assert [doc.node(e.src).name for e in doc.in_edges(node_id(window, "dense_1"))] == \
        ["dense"]


def test_edge_menu_deletes_the_connection(window):
    doc = window.editor.doc
    choose(right_click(window, edge_point(window, "flatten", "dense")), "Delete Connection")
    assert doc.in_edges(node_id(window, "dense")) == []
    window.undo_stack.undo()
    assert len(doc.in_edges(node_id(window, "dense"))) == 1


def test_menus_open_at_the_click_position(window, empty_spot):
    menu = right_click(window, empty_spot)
    local = window.view.mapFromScene(empty_spot)
    expected = window.view.viewport().mapToGlobal(local)
    assert (menu.pos() - expected).manhattanLength() <= 2 or menu.geometry().contains(
        expected + QPoint(1, 1))
