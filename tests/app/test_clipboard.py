"""Graph fragments: what copy puts on the clipboard and what paste makes of it."""
import json

import pytest

from app import clipboard
from tests.app.conftest import small_graph


def test_fragment_keeps_only_edges_inside_the_selection():
    doc = small_graph()
    ids = [doc.node_by_name(n).id for n in ("flatten", "dense")]
    frag = clipboard.make_fragment(doc, ids)
    assert [n["name"] for n in frag["nodes"]] == ["flatten", "dense"]
    assert frag["edges"] == [{"src": ids[0], "src_port": 0, "dst": ids[1], "dst_port": 0}]
    assert clipboard.fragment_from_text(clipboard.fragment_to_text(frag)) == frag


def test_prepare_insert_gives_fresh_ids_unique_names_and_offset():
    doc = small_graph()
    frag = clipboard.make_fragment(doc, [doc.node_by_name(n).id for n in ("flatten", "dense")])
    nodes, edges = clipboard.prepare_insert(doc, frag, (40.0, 40.0))
    assert not {n["id"] for n in nodes} & set(doc.nodes)
    assert [n["name"] for n in nodes] == ["flatten_1", "dense_2"]   # dense_1 is taken
    assert nodes[0]["position"] == (280.0, 40.0)
    assert [(e.src, e.dst) for e in edges] == [(nodes[0]["id"], nodes[1]["id"])]


@pytest.mark.parametrize("text, reason", [
    ("hello", "does not hold LayerLoom layers"),
    (json.dumps({"format": "other"}), "does not hold LayerLoom layers"),
    (json.dumps({"format": clipboard.FORMAT, "version": 9}), "newer LayerLoom"),
])
def test_foreign_clipboard_text_is_refused_with_a_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        clipboard.fragment_from_text(text)


def test_bad_layer_in_fragment_names_the_layer():
    frag = {"format": clipboard.FORMAT, "version": 1,
            "nodes": [{"id": "n1", "type": "Dense", "name": "broken",
                       "params": {"units": -3}, "position": [0, 0]}], "edges": []}
    with pytest.raises(ValueError, match="'broken'.*units"):
        clipboard.prepare_insert(small_graph(), frag, (0, 0))
