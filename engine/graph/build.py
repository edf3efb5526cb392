"""Between a GraphDocument and an engine Model: build the model a graph describes, and the
graph of a model (from a script or a Keras file)."""
from __future__ import annotations

import itertools

from engine.graph.document import Edge, GraphDocument, GraphError, GraphNode, build_layer
from engine.graph.layout import layered_layout
from engine.layers.core import Input
from engine.models import Model, Sequential
from engine.saving import load_model


def build_model(doc: GraphDocument):
    """Build the engine Model this graph describes (raises GraphError naming the node)."""
    problems = doc.problems()
    if problems:
        nid, msg = problems[0]
        raise GraphError(msg, nid)
    order, _ = doc.topological_order()
    tensors: dict[str, list] = {}
    for nid in order:
        node = doc.nodes[nid]
        if node.type_name == "InputLayer":
            p = node.params
            t = Input(shape=tuple(p["shape"]), name=node.name,
                      dtype=p.get("dtype") or None, batch_size=p.get("batch_size"))
            tensors[nid] = [t]
            continue
        args = [tensors[e.src][e.src_port] for e in doc.in_edges(nid)]
        layer = build_layer(node)
        try:
            out = layer(args if (node.spec.n_inputs or 2) > 1 else args[0])
        except (ValueError, TypeError) as e:
            raise GraphError(str(e), nid) from None
        tensors[nid] = out if isinstance(out, list) else [out]
    ins = [tensors[n.id][0] for n in doc.input_nodes()]
    outs = [t for n in doc.output_nodes() for t in tensors[n.id][:1]]
    return Model(ins if len(ins) > 1 else ins[0], outs if len(outs) > 1 else outs[0],
                 name=doc.name)


def document_from_model(model, layout: bool = True) -> GraphDocument:
    """A document with one node per layer of ``model`` (weights are not part of the graph)."""
    model._require_built("graph")
    doc = GraphDocument(name=model.name)
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
    for k, step in enumerate(plan.steps, start=len(plan.input_layers) + 1):
        layer = step.layer
        _check_drawable(step)
        nid = f"n{k}"
        cfg = layer.get_config()
        spec = layer.spec
        params = {p.name: cfg[p.name] for p in spec.params if p.name in cfg}
        doc.nodes[nid] = GraphNode(nid, spec.type_name, layer.name, params)
        call = step.node
        for port, t in enumerate(call.inputs):
            src, src_port = node_of_tensor[id(t)]
            doc.edges.append(Edge(src, src_port, nid, port))
        for j, t in enumerate(call.outputs):
            node_of_tensor[id(t)] = (nid, j)
    doc._ids = itertools.count(len(doc.nodes) + 1)
    if isinstance(model, Sequential):
        doc.name = model.name
    doc.infer_shapes()
    if layout:
        for nid, pos in layered_layout(doc).items():
            doc.nodes[nid].position = pos
    return doc


def _check_drawable(step) -> None:
    """The canvas draws one node per layer of a registered type: say what it cannot show."""
    from engine.layers.base import is_user_layer
    layer = step.layer
    if isinstance(layer, Model):
        raise GraphError(f"'{layer.name}' is a model used as a layer (a nested model); the "
                         f"canvas shows one level of layers: build it from the inner model's "
                         f"layers, or keep it in a script")
    if is_user_layer(layer):
        raise GraphError(f"layer '{layer.name}' is a custom layer (class "
                         f"{type(layer).__name__}); the canvas shows built-in layer types only")
    if step.shared:
        raise GraphError(f"layer '{layer.name}' is called several times (a shared layer); the "
                         f"canvas draws each layer once, so it cannot show the sharing")


def graph_from_keras_file(filepath) -> GraphDocument:
    """A Keras model file as an editable GraphDocument (with automatic layout)."""
    return document_from_model(load_model(filepath, compile=False))
