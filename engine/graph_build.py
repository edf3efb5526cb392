"""GraphDocument from other forms: its own JSON (project files) and an engine Model."""
from __future__ import annotations

from typing import Any

from engine.registry import get_spec


def _expect(cond: bool, msg: str) -> None:
    if not cond:
        from engine.graph import GraphError
        raise GraphError(f"graph: {msg}")


def document_from_dict(cls, data: dict[str, Any]):
    """Rebuild a document from ``GraphDocument.to_dict()`` output, checking every field."""
    from engine.graph import Edge, GraphError, GraphNode
    _expect(isinstance(data, dict), "expected an object with 'nodes' and 'edges'")
    nodes, edges = data.get("nodes", []), data.get("edges", [])
    _expect(isinstance(nodes, list) and isinstance(edges, list), "'nodes' and 'edges' must be lists")
    doc = cls(name=str(data.get("name") or "model"))
    listeners, doc.listeners = doc.listeners, []
    for i, n in enumerate(nodes):
        _expect(isinstance(n, dict), f"node {i} is not an object")
        for key, typ in (("id", str), ("type", str), ("name", str), ("params", dict)):
            _expect(isinstance(n.get(key), typ), f"node {i}: '{key}' must be a {typ.__name__}")
        try:
            get_spec(n["type"])
        except KeyError as e:
            raise GraphError(f"graph: node '{n['name']}': {e.args[0]}") from None
        pos = n.get("position", [0, 0])
        _expect(isinstance(pos, list) and len(pos) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos),
            f"node '{n['name']}': 'position' must be [x, y]")
        _expect(n["id"] not in doc.nodes, f"node id {n['id']!r} appears twice")
        _expect(all(m.name != n["name"] for m in doc.nodes.values()),
                f"layer name {n['name']!r} appears twice")
        doc.nodes[n["id"]] = GraphNode(n["id"], get_spec(n["type"]).type_name, n["name"],
                                       dict(n["params"]), (float(pos[0]), float(pos[1])))
    for i, e in enumerate(edges):
        _expect(isinstance(e, dict), f"edge {i} is not an object")
        for key, typ in (("src", str), ("dst", str), ("src_port", int), ("dst_port", int)):
            _expect(isinstance(e.get(key), typ) and not isinstance(e.get(key), bool),
                    f"edge {i}: '{key}' must be a {typ.__name__}")
        _expect(e["src"] in doc.nodes and e["dst"] in doc.nodes,
                f"edge {i} refers to a node that does not exist")
        _expect(e["src_port"] >= 0 and e["dst_port"] >= 0, f"edge {i}: negative port")
        doc.edges.append(Edge(e["src"], e["src_port"], e["dst"], e["dst_port"]))
    ids = [int(k[1:]) for k in doc.nodes if k.startswith("n") and k[1:].isdigit()]
    import itertools
    doc._ids = itertools.count(max(ids, default=0) + 1)
    doc.listeners = listeners
    doc.infer_shapes()
    return doc


def document_from_model(cls, model, layout: bool = True):
    """A document with one node per layer of ``model`` (weights are not part of the graph)."""
    from engine.graph import Edge, GraphNode
    from engine.models import Sequential
    model._require_built("graph")
    doc = cls(name=model.name)
    plan = model._plan
    node_of_tensor: dict[int, tuple[str, int]] = {}
    for k, layer in enumerate(plan.input_layers, start=1):
        nid = f"n{k}"
        cfg = layer.get_config()
        params = {"shape": list(layer.shape), "batch_size": layer.batch_size, "sparse": False}
        if cfg.get("dtype") and cfg["dtype"] != "float32":
            params["dtype"] = cfg["dtype"]
        doc.nodes[nid] = GraphNode(nid, "InputLayer", layer.name, params)
        node_of_tensor[id(layer.output)] = (nid, 0)
    from engine.models import _nodes_in_plan
    calls = _nodes_in_plan(plan)
    for k, step in enumerate(plan.steps, start=len(plan.input_layers) + 1):
        layer = step.layer
        nid = f"n{k}"
        cfg = layer.get_config()
        spec = layer.spec
        params = {p.name: cfg[p.name] for p in spec.params if p.name in cfg}
        doc.nodes[nid] = GraphNode(nid, spec.type_name, layer.name, params)
        call = calls[id(layer)]
        for port, t in enumerate(call.inputs):
            src, src_port = node_of_tensor[id(t)]
            doc.edges.append(Edge(src, src_port, nid, port))
        for j, t in enumerate(call.outputs):
            node_of_tensor[id(t)] = (nid, j)
    import itertools
    doc._ids = itertools.count(len(doc.nodes) + 1)
    if isinstance(model, Sequential):
        doc.name = model.name
    doc.infer_shapes()
    if layout:
        from engine.graph_layout import layered_layout
        for nid, pos in layered_layout(doc).items():
            doc.nodes[nid].position = pos
    return doc
