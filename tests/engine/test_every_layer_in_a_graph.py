"""Every registered layer type can be put on the canvas (a GraphDocument node) with its defaults,
its parameters survive a JSON round trip, and shape inference answers with a shape or an error
message instead of raising."""
import json

import pytest

from engine.graph import GraphDocument
from engine.registry import LAYERS, _ensure_loaded

_ensure_loaded()


@pytest.mark.parametrize("type_name", sorted(LAYERS))
def test_layer_type_can_be_added_with_defaults(type_name):
    doc = GraphDocument(name="g")
    node = doc.add_node(type_name, {}, "node")
    assert json.loads(json.dumps(node.params)) == node.params
    if type_name != "InputLayer":
        inp = doc.add_node("InputLayer", {"shape": [8, 8, 3]}, "input")
        if LAYERS[type_name].n_inputs == 1:
            doc.connect(inp.id, node.id)
    info = doc.infer_shapes()[node.id]
    assert info.output_shapes or info.error
    if info.error:                       # e.g. Dense without units: names what is missing
        assert isinstance(info.error, str) and len(info.error) > 10
