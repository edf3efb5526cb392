"""Every palette entry can be dropped on the canvas, selected (inspector form built), painted,
undone and redone: no layer type may crash the window."""
import pytest
from PySide6.QtGui import QImage, QPainter

from engine.registry import LAYERS, _ensure_loaded

_ensure_loaded()


@pytest.mark.parametrize("type_name", sorted(LAYERS))
def test_every_layer_type_on_the_canvas(window, type_name):
    nid = window.editor.add_node(type_name, (900.0, 300.0))
    assert nid is not None and nid in window.editor.doc.nodes
    window.scene.flush()
    window.scene.select_nodes([nid])
    assert window.inspector.isEnabled()
    image = QImage(400, 300, QImage.Format_ARGB32)
    painter = QPainter(image)
    window.scene.render(painter)
    painter.end()
    window.undo_stack.undo()
    assert nid not in window.editor.doc.nodes
    window.undo_stack.redo()
    assert nid in window.editor.doc.nodes
