"""Graph fragments as JSON: what copy puts on the clipboard and paste/duplicate take back.

A fragment is ``{"format": "layerloom-fragment", "version": 1, "nodes": [...], "edges": [...]}``
with nodes and edges in ``GraphDocument.to_dict()`` form (only edges inside the selection), so a
fragment copied in one project pastes into another, or into a text editor.
"""
from __future__ import annotations

import itertools
import json
from typing import Any

from engine.graph import Edge, GraphDocument

FORMAT = "layerloom-fragment"
MIME_TYPE = "application/x-layerloom-fragment"


def make_fragment(doc: GraphDocument, node_ids: list[str]) -> dict[str, Any]:
    """The selected nodes and the edges between them, as a JSON-ready dict."""
    chosen = [nid for nid in node_ids if nid in doc.nodes]
    keep = set(chosen)
    return {
        "format": FORMAT, "version": 1,
        "nodes": [json.loads(json.dumps(doc.nodes[nid].to_dict())) for nid in chosen],
        "edges": [e.to_dict() for e in doc.edges if e.src in keep and e.dst in keep],
    }


def fragment_to_text(fragment: dict[str, Any]) -> str:
    return json.dumps(fragment, indent=1)


def fragment_from_text(text: str) -> dict[str, Any]:
    """Parse clipboard text; raises ValueError saying why it is not a LayerLoom fragment."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        raise ValueError("the clipboard does not hold LayerLoom layers") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("the clipboard does not hold LayerLoom layers")
    if data.get("version") != 1:
        raise ValueError(f"the clipboard holds layers from a newer LayerLoom "
                         f"(fragment version {data.get('version')!r})")
    return data


def fresh_ids(doc: GraphDocument, n: int) -> list[str]:
    """``n`` node ids the document does not use yet (chosen before the nodes are added, so
    one undo step can add a node and wire it)."""
    nums = [int(k[1:]) for k in doc.nodes if k.startswith("n") and k[1:].isdigit()]
    start = max(nums, default=0) + 1
    return [f"n{k}" for k in range(start, start + n)]


def _fresh_name(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    stem = base.rsplit("_", 1)[0] if base.rsplit("_", 1)[-1].isdigit() else base
    for k in itertools.count(1):
        if f"{stem}_{k}" not in taken:
            return f"{stem}_{k}"
    raise AssertionError


def prepare_insert(doc: GraphDocument, fragment: dict[str, Any],
                   offset: tuple[float, float]) -> tuple[list[dict], list[Edge]]:
    """New ids, unique names and shifted positions for inserting ``fragment`` into ``doc``.

    Every node is checked as the document would (type known, parameters valid), so the
    insert command cannot fail half-way; raises ValueError naming the first bad node.
    """
    raw_nodes = fragment.get("nodes")
    raw_edges = fragment.get("edges", [])
    if not isinstance(raw_nodes, list) or not raw_nodes or not isinstance(raw_edges, list):
        raise ValueError("the clipboard holds no layers")
    scratch = GraphDocument()
    for n in raw_nodes:
        try:
            scratch.add_node(n["type"], n.get("params") or {}, str(n.get("name") or ""), (0, 0))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            what = n.get("name", "?") if isinstance(n, dict) else "?"
            raise ValueError(f"layer '{what}': {str(e).strip(chr(39) + chr(34))}") from None
    ids = fresh_ids(doc, len(raw_nodes))
    id_map = {n["id"]: new for n, new in zip(raw_nodes, ids)}
    taken = {n.name for n in doc.nodes.values()}
    nodes = []
    for n, new_id in zip(raw_nodes, ids):
        name = _fresh_name(str(n.get("name") or n["type"].lower()), taken)
        taken.add(name)
        x, y = n.get("position", (0.0, 0.0))
        nodes.append({"id": new_id, "type": n["type"], "name": name,
                      "params": dict(n.get("params") or {}),
                      "position": (float(x) + offset[0], float(y) + offset[1])})
    edges = []
    for e in raw_edges:
        if isinstance(e, dict) and e.get("src") in id_map and e.get("dst") in id_map:
            edges.append(Edge(id_map[e["src"]], int(e.get("src_port", 0)),
                              id_map[e["dst"]], int(e.get("dst_port", 0))))
    return nodes, edges


def fragment_origin(fragment: dict[str, Any]) -> tuple[float, float]:
    """Top-left corner of the fragment's node positions."""
    pos = [n.get("position", (0.0, 0.0)) for n in fragment.get("nodes", [])]
    return (min((p[0] for p in pos), default=0.0), min((p[1] for p in pos), default=0.0))
