"""GraphDocument: edits with undo data, notifications, shape inference and its errors."""
import numpy as np
import pytest

from engine.graph import GraphDocument, GraphError, build_model, document_from_model
from engine.models import Sequential
from engine.layers import Dense


def _mlp():
    g = GraphDocument("mlp")
    i = g.add_node("InputLayer", {"shape": [8]})
    d = g.add_node("Dense", {"units": 4, "activation": "relu"})
    o = g.add_node("Dense", {"units": 2, "activation": "softmax"})
    g.connect(i.id, d.id)
    g.connect(d.id, o.id)
    return g, i, d, o


def test_shapes_params_and_model():
    g, i, d, o = _mlp()
    assert g.info[d.id].output_shape == (None, 4) and g.info[d.id].params == 36
    assert g.total_params() == 36 + 10 and not g.problems()
    model = build_model(g)
    assert [lyr.name for lyr in model.layers] == ["input", "dense", "dense_1"]
    assert model.predict(np.zeros((3, 8)), verbose=0).shape == (3, 2)


def test_every_edit_returns_its_undo_and_notifies():
    g, i, d, o = _mlp()
    events = []
    g.subscribe(lambda e, p: events.append(e))
    old = g.set_param(d.id, "units", 6)
    assert old == 4 and g.info[o.id].params == 14
    g.set_param(d.id, "units", old)
    assert g.rename(d.id, "hidden") == "dense" and g.node_by_name("hidden") is d
    snap = g.remove_node(d.id)
    assert d.id not in g.nodes and len(g.edges) == 0
    assert any(msg for _, msg in g.problems())
    g.restore_node(snap)
    assert len(g.edges) == 2 and not g.problems()
    e = g.disconnect(g.in_edges(o.id)[0])
    assert "has no input connected" in g.info[o.id].error
    g.connect(e.src, e.dst, e.src_port, e.dst_port)
    assert g.move(d.id, (10, 20)) == (0.0, 0.0)
    assert {"param_changed", "renamed", "node_removed", "node_added", "edge_removed",
            "edge_added", "moved", "shapes"} <= set(events)


def test_connection_rules_give_reasons():
    g, i, d, o = _mlp()
    add = g.add_node("Add")
    g.connect(d.id, add.id)
    tail = g.add_node("Dense", {"units": 4})
    g.connect(add.id, tail.id)
    assert "cycle" in g.can_connect(tail.id, add.id)
    assert "already has it" in g.can_connect(i.id, d.id)
    assert "is an Input" in g.can_connect(d.id, i.id)
    assert "cannot feed itself" in g.can_connect(d.id, d.id)
    with pytest.raises(GraphError, match="cycle"):
        g.connect(tail.id, add.id)


def test_an_occupied_input_may_be_replaced_but_not_doubled():
    g, i, d, o = _mlp()
    other = g.add_node("Dense", {"units": 4})
    g.connect(i.id, other.id)
    assert "already connected" in g.can_connect(other.id, o.id, 0, 0)
    assert g.can_connect(other.id, o.id, 0, 0, replacing=True) is None
    assert g.edge_into(o.id, 0).src == d.id and g.edge_into(o.id, 1) is None
    assert "cycle" in g.can_connect(o.id, d.id, 0, 0, replacing=True)
    assert g.can_connect(d.id, o.id, 0, 0, replacing=True) is None   # the same wire again
    add = g.add_node("Add")                       # a merge input takes one connection, too
    g.connect(d.id, add.id, 0, 0)
    assert "input 0 of 'add' is already connected" == g.can_connect(other.id, add.id, 0, 0)
    assert g.can_connect(other.id, add.id, 0, 0, replacing=True) is None


def test_errors_name_the_problem():
    g = GraphDocument()
    a = g.add_node("InputLayer", {"shape": [3]})
    b = g.add_node("InputLayer", {"shape": [4]})
    add = g.add_node("Add")
    g.connect(a.id, add.id)
    assert "merges 2 or more inputs" in g.info[add.id].error
    g.connect(b.id, add.id)
    assert "same shape" in g.info[add.id].error
    cat = g.add_node("Concatenate", {"axis": 1})
    img = g.add_node("InputLayer", {"shape": [4, 5]})
    img2 = g.add_node("InputLayer", {"shape": [4, 6]})
    g.connect(img.id, cat.id)
    g.connect(img2.id, cat.id)
    assert "axis 2 differs" in g.info[cat.id].error
    conv = g.add_node("Conv2D", {"filters": 2, "kernel_size": 3})
    g.connect(a.id, conv.id)
    assert "expects 4-D input" in g.info[conv.id].error
    with pytest.raises(GraphError, match="argument 'filters' expects a value >= 1"):
        g.set_param(conv.id, "filters", 0)
    with pytest.raises(GraphError, match="to_model|same shape|merges|expects"):
        build_model(g)


def test_round_trips():
    g, *_ = _mlp()
    clone = GraphDocument.from_dict(g.to_dict())
    assert clone.to_dict() == g.to_dict()
    nid = clone.add_node("Dense", {"units": 3}).id
    assert nid not in g.nodes and nid.startswith("n")
    m = Sequential([Dense(5, input_dim=3, name="a"), Dense(2, name="b")])
    doc = document_from_model(m)
    assert [n.name for n in doc.nodes.values()][1:] == ["a", "b"] and not doc.problems()
    xs = sorted(n.position[0] for n in doc.nodes.values())
    assert xs[0] < xs[1] < xs[2]


def test_multi_output_ports_and_layout_orders_columns():
    g = GraphDocument()
    i = g.add_node("InputLayer", {"shape": [2]})
    outs = [g.add_node("Dense", {"units": k + 1}) for k in range(3)]
    for o in outs:
        g.connect(i.id, o.id)
    g.auto_layout()
    assert len({o.position[0] for o in outs}) == 1 and len({o.position[1] for o in outs}) == 3
    assert len(g.output_nodes()) == 3
