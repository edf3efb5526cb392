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


def test_palette_nodes_start_with_working_values(window):
    """Dense, Conv2D, LSTM, Embedding... dropped from the palette have their required arguments
    filled in (Keras requires them), so the node shows a shape and no error."""
    doc = window.editor.doc
    dense = window.add_layer_at("Dense", None)
    assert doc.nodes[dense].params["units"] == 64
    window.editor.connect(doc.node_by_name("dense_1").id, 0, dense, 0)
    assert doc.infer_shapes()[dense].error is None
    assert doc.infer_shapes()[dense].output_shapes == [(None, 64)]
    conv = window.add_layer_at("Conv2D", None)
    assert (doc.nodes[conv].params["filters"], doc.nodes[conv].params["kernel_size"]) == \
        (32, [3, 3])
    for type_name in ("LSTM", "Embedding", "Rescaling", "Permute", "GaussianNoise"):
        nid = window.add_layer_at(type_name, None)
        assert nid is not None
        missing = [p.name for p in doc.nodes[nid].spec.params
                   if p.default is None and not p.optional and doc.nodes[nid].params[p.name]
                   is None]
        assert missing == [], type_name
