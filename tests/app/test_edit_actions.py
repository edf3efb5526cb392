"""Edit menu on the canvas: delete, copy/cut/paste (also into another window), duplicate."""
from PySide6.QtGui import QGuiApplication

from app.clipboard import FORMAT
from tests.app.conftest import canvas_project, node_id, small_graph


def names(window):
    return sorted(n.name for n in window.editor.doc.nodes.values())


def test_delete_selection_removes_nodes_and_edges_in_one_undo_step(window):
    doc = window.editor.doc
    window.scene.select_nodes([node_id(window, "flatten")])
    window.actions["delete"].trigger()
    assert "flatten" not in names(window) and len(doc.edges) == 1
    assert window.undo_stack.undoText() == "Delete flatten"
    window.undo_stack.undo()
    assert "flatten" in names(window) and len(doc.edges) == 3


def test_delete_a_selected_edge(window):
    doc = window.editor.doc
    edge = doc.in_edges(node_id(window, "dense_1"))[0]
    window.scene.clearSelection()
    window.scene.edge_items[edge].setSelected(True)
    window.actions["delete"].trigger()
    assert edge not in doc.edges and len(doc.nodes) == 4
    window.undo_stack.undo()
    assert edge in doc.edges


def test_copy_paste_puts_json_on_the_clipboard_and_pastes_renamed_copies(window):
    ids = [node_id(window, n) for n in ("flatten", "dense")]
    window.scene.select_nodes(ids)
    window.actions["copy"].trigger()
    text = QGuiApplication.clipboard().text()
    assert f'"format": "{FORMAT}"' in text and '"Dense"' in text
    window.actions["paste"].trigger()
    assert names(window) == ["dense", "dense_1", "dense_2", "flatten", "flatten_1", "input"]
    doc = window.editor.doc
    pasted = window.scene.selected_node_ids()
    assert [doc.node(i).name for i in pasted] == ["flatten_1", "dense_2"]
    assert [(e.src, e.dst) for e in doc.edges if e.dst == pasted[1]] == [(pasted[0], pasted[1])]
    assert doc.node(pasted[0]).position == (280.0, 40.0)      # shifted from the original
    window.undo_stack.undo()
    assert len(doc.nodes) == 4


def test_cut_then_paste_restores_the_layers(window):
    window.scene.select_nodes([node_id(window, "dense_1")])
    window.actions["cut"].trigger()
    assert "dense_1" not in names(window)
    assert window.undo_stack.undoText() == "Cut 1 layer"
    window.actions["paste"].trigger()
    assert "dense_1" in names(window)


def test_paste_into_another_project_through_the_clipboard(window, qtbot, settings):
    from app.main_window import MainWindow
    window.scene.select_nodes([node_id(window, "dense"), node_id(window, "dense_1")])
    window.actions["copy"].trigger()
    other = MainWindow(settings=settings, restore_state=False, catch_exceptions=False)
    other.file_ops.ask_save_changes = lambda: "discard"
    qtbot.addWidget(other)
    doc = small_graph()
    doc.name = "other"
    for nid in list(doc.nodes):
        if doc.node(nid).name != "input":
            doc.remove_node(nid)
    other.set_project(canvas_project(doc))
    other.actions["paste"].trigger()
    got = sorted(n.name for n in other.editor.doc.nodes.values())
    assert got == ["dense", "dense_1", "input"]
    assert len(other.editor.doc.edges) == 1


def test_duplicate_copies_next_to_the_originals_without_touching_the_clipboard(window):
    QGuiApplication.clipboard().setText("something else")
    window.scene.select_nodes([node_id(window, "dense")])
    window.actions["duplicate"].trigger()
    doc = window.editor.doc
    copy = doc.node_by_name("dense_2")
    assert copy is not None and copy.params["units"] == 64
    assert copy.position == (520.0, 40.0)
    assert window.scene.selected_node_ids() == [copy.id]
    assert QGuiApplication.clipboard().text() == "something else"
    assert window.undo_stack.undoText() == "Duplicate 1 layer"


def test_pasting_foreign_text_explains_why_not(window):
    QGuiApplication.clipboard().setText("not a graph")
    window.actions["paste"].trigger()
    assert len(window.editor.doc.nodes) == 4
    assert "does not hold LayerLoom layers" in window.statusBar().currentMessage()


def test_history_panel_lists_the_edits(window):
    window.editor.add_node("Dropout", (0, 300))
    window.editor.auto_layout()
    model = window.undo_view.model()
    texts = [model.index(r, 0).data() for r in range(model.rowCount())]
    assert texts == ["<opened>", "Add dropout", "Auto-layout"]
