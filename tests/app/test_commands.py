"""Undo commands on a GraphDocument: each redo/undo returns the document to the same state."""
import pytest
from PySide6.QtGui import QUndoStack

from app.commands import (
    AddNodeCommand,
    AutoLayoutCommand,
    ConnectCommand,
    DeleteCommand,
    DisconnectCommand,
    InsertFragmentCommand,
    MoveNodesCommand,
    RenameCommand,
    SetParamCommand,
)
from engine.graph import Edge
from tests.app.conftest import small_graph


def state(doc):
    """The document's content, independent of the order nodes and edges were (re)added."""
    d = doc.to_dict()
    return (sorted((n["id"], repr(n)) for n in d["nodes"]),
            sorted(tuple(e.values()) for e in d["edges"]))


@pytest.fixture
def stack(qapp):
    return QUndoStack()


def round_trip(stack, doc, cmd):
    """Push, undo, redo; returns (before, after) states and checks both directions."""
    before = state(doc)
    stack.push(cmd)
    after = state(doc)
    assert after != before
    stack.undo()
    assert state(doc) == before
    stack.redo()
    assert state(doc) == after
    return before, after


def test_add_node_undo_redo_keeps_id_and_name(stack):
    doc = small_graph()
    cmd = AddNodeCommand(doc, "Dense", {"units": 5}, None, (10, 20))
    round_trip(stack, doc, cmd)
    node = doc.node(cmd.node_id)
    assert (node.type_name, node.params["units"], node.position) == ("Dense", 5, (10.0, 20.0))
    assert stack.undoText() == f"Add {node.name}"


def test_connect_and_disconnect(stack):
    doc = small_graph()
    extra = doc.add_node("Dense", {"units": 3}, "extra")
    src = doc.node_by_name("dense").id
    cmd = ConnectCommand(doc, src, extra.id)
    round_trip(stack, doc, cmd)
    assert Edge(src, 0, extra.id, 0) in doc.edges
    edge = doc.in_edges(doc.node_by_name("dense_1").id)[0]
    round_trip(stack, doc, DisconnectCommand(doc, edge))
    assert edge not in doc.edges


def test_set_param_merges_consecutive_edits_into_one_step(stack):
    doc = small_graph()
    nid = doc.node_by_name("dense").id
    for units in (65, 66, 67):
        stack.push(SetParamCommand(doc, nid, "units", units))
    assert stack.count() == 1
    assert doc.info[nid].output_shapes == [(None, 67)]
    stack.undo()
    assert doc.node(nid).params["units"] == 64
    assert doc.info[nid].output_shapes == [(None, 64)]
    stack.redo()
    assert doc.node(nid).params["units"] == 67


def test_refused_command_is_dropped_with_the_reason(stack):
    doc = small_graph()
    nid = doc.node_by_name("dense").id
    cmd = RenameCommand(doc, nid, "dense_1")        # name already taken
    outcome = cmd.outcome
    stack.push(cmd)
    assert stack.count() == 0
    assert "already exists" in outcome.error
    bad = SetParamCommand(doc, nid, "units", 0)     # below the registry's minimum
    outcome = bad.outcome
    stack.push(bad)
    assert stack.count() == 0 and "units" in outcome.error
    assert doc.node(nid).params["units"] == 64


def test_rename_and_move_and_auto_layout(stack):
    doc = small_graph()
    nid = doc.node_by_name("flatten").id
    round_trip(stack, doc, RenameCommand(doc, nid, "flat"))
    assert doc.node(nid).name == "flat"
    round_trip(stack, doc, MoveNodesCommand(doc, {nid: ((240.0, 0.0), (300.0, 40.0))}))
    assert doc.node(nid).position == (300.0, 40.0)
    round_trip(stack, doc, AutoLayoutCommand(doc))


def test_delete_selection_is_one_step_and_restores_edges(stack):
    doc = small_graph()
    ids = [doc.node_by_name(n).id for n in ("flatten", "dense")]
    lone = doc.in_edges(doc.node_by_name("dense_1").id)[0]    # dense → dense_1 (dense goes)
    before, _ = round_trip(stack, doc, DeleteCommand(doc, ids, [lone]))
    stack.redo()
    assert len(doc.nodes) == 2 and doc.edges == []
    stack.undo()
    assert state(doc) == before
    assert stack.count() == 1


def test_insert_fragment_adds_nodes_and_internal_edges(stack):
    doc = small_graph()
    nodes = [{"id": "n50", "type": "Dense", "name": "a", "params": {"units": 4},
              "position": (0, 200)},
             {"id": "n51", "type": "Dropout", "name": "b", "params": {"rate": 0.1},
              "position": (240, 200)}]
    cmd = InsertFragmentCommand(doc, "Paste 2 layers", nodes, [Edge("n50", 0, "n51", 0)])
    round_trip(stack, doc, cmd)
    assert Edge("n50", 0, "n51", 0) in doc.edges
    assert doc.node("n51").name == "b"
