"""Where the canvas looks after an open, an auto-layout or Fit to View: the graph is in view,
readable, and not under the minimap."""
from pathlib import Path

from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QApplication

from app.canvas.view import READABLE_ZOOM
from tests.app.conftest import node_id

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _settle(window) -> None:
    for _ in range(3):
        QApplication.processEvents()
    window.scene.flush()


def _on_screen(window, nid: str) -> bool:
    return window.view.visible_scene_rect().contains(
        window.scene.node_items[nid].sceneBoundingRect())


def test_an_opened_example_is_readable_and_starts_at_its_input(window):
    window.resize(1600, 1000)
    assert window.file_ops.open_example(EXAMPLES / "mnist_cnn.loom")
    _settle(window)
    assert window.view.zoom() >= READABLE_ZOOM
    first = window.editor.doc.input_nodes()[0].id
    assert _on_screen(window, first)


def test_a_small_graph_is_fitted_whole(window):
    window.resize(1600, 1000)
    _settle(window)
    window.view.set_zoom(0.3)
    window.restore_view_state()             # no stored view: fit
    assert all(_on_screen(window, nid) for nid in window.editor.doc.nodes)
    assert READABLE_ZOOM <= window.view.zoom() <= 1.0


def test_auto_layout_keeps_the_graph_in_view(window):
    doc = window.editor.doc
    for nid, node in doc.nodes.items():             # the graph far from where layout puts it
        doc.move(nid, (node.position[0] + 4000, node.position[1] + 3000))
    _settle(window)
    window.view.center_on(window.scene.nodes_rect().center())
    window.actions["auto_layout"].trigger()
    _settle(window)
    assert window.view.zoom() >= READABLE_ZOOM
    assert _on_screen(window, node_id(window, "input"))
    assert window.view.visible_scene_rect().intersects(window.scene.nodes_rect())


def test_fit_to_view_leaves_the_minimap_corner_free(window):
    doc = window.editor.doc
    for k in range(8):                              # a tall graph: height decides the zoom
        doc.add_node("Dense", {"units": 4}, f"tall_{k}", (720, 160 * (k + 1)))
    _settle(window)
    window.actions["fit"].trigger()
    mini = QRectF(window.view.minimap.geometry())
    assert window.view.minimap.isVisible()
    for nid, item in window.scene.node_items.items():
        shown = window.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
        assert not QRectF(shown).intersects(mini), doc.nodes[nid].name
        assert _on_screen(window, nid)


def test_a_new_project_starts_at_full_size(window):
    window.view.fit_all()
    window.view.set_zoom(0.3)                      # the last graph was looked at from afar
    window.file_ops.new_project()
    _settle(window)
    assert window.view.zoom() == 1.0
