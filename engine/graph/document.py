"""GraphDocument: the Qt-free truth behind the canvas — nodes, edges, parameters, shapes, errors.

Every edit is a method that returns what is needed to undo it; listeners (plain callables
``listener(event, payload)``) hear about each change, so the canvas follows the document.
Shape inference is incremental: a node's result is memoized on (type, parameters, input shapes),
so an edit re-infers only what it changed.

Events: ``node_added`` {node}, ``node_removed`` {node_id}, ``edge_added`` {edge},
``edge_removed`` {edge}, ``param_changed`` {node_id, name, value}, ``renamed`` {node_id, name},
``moved`` {node_id, position}, ``shapes`` {} (after re-inference), ``reset`` {}.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.graph.layout import layered_layout
from engine.layers.base import _snake, shape_only_build
from engine.registry import LayerSpec, coerce, get_spec, serialize_value


class GraphError(ValueError):
    """A problem with one node (``node_id``) or the graph as a whole (``node_id`` None)."""

    def __init__(self, message: str, node_id: str | None = None):
        super().__init__(message)
        self.node_id = node_id


@dataclass
class GraphNode:
    id: str
    type_name: str
    name: str
    params: dict[str, Any]            # JSON form, as Layer.get_config gives it
    position: tuple[float, float] = (0.0, 0.0)

    @property
    def spec(self) -> LayerSpec:
        return get_spec(self.type_name)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type_name, "name": self.name,
                "params": self.params, "position": list(self.position)}


@dataclass(frozen=True)
class Edge:
    src: str
    src_port: int
    dst: str
    dst_port: int

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "src_port": self.src_port, "dst": self.dst,
                "dst_port": self.dst_port}


@dataclass
class NodeInfo:
    """What shape inference knows about a node."""

    output_shapes: list[tuple] = field(default_factory=list)   # one per output port
    params: int = 0
    error: str | None = None

    @property
    def output_shape(self):
        return self.output_shapes[0] if len(self.output_shapes) == 1 else self.output_shapes


Listener = Callable[[str, dict], None]


class GraphDocument:
    def __init__(self, name: str = "model"):
        self.name = name
        self.nodes: dict[str, GraphNode] = {}
        self.edges: list[Edge] = []
        self.listeners: list[Listener] = []
        self.info: dict[str, NodeInfo] = {}
        self._ids = itertools.count(1)
        self._memo: dict[tuple, NodeInfo] = {}
        self._dirty = True

    # ------------------------------------------------------------------ notifications
    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self.listeners.remove(listener)

    def _emit(self, event: str, **payload) -> None:
        for listener in list(self.listeners):
            listener(event, payload)

    def _changed(self, event: str, **payload) -> None:
        self._dirty = True
        self._emit(event, **payload)
        self.infer_shapes()

    # ------------------------------------------------------------------ queries
    def node(self, node_id: str) -> GraphNode:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise GraphError(f"no node with id {node_id!r}") from None

    def node_by_name(self, name: str) -> GraphNode | None:
        return next((n for n in self.nodes.values() if n.name == name), None)

    def in_edges(self, node_id: str) -> list[Edge]:
        return sorted((e for e in self.edges if e.dst == node_id), key=lambda e: e.dst_port)

    def out_edges(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.src == node_id]

    def input_nodes(self) -> list[GraphNode]:
        return sorted((n for n in self.nodes.values() if n.type_name == "InputLayer"),
                      key=lambda n: (n.position[1], n.id))

    def output_nodes(self) -> list[GraphNode]:
        """Nodes whose output nobody consumes (the model's outputs), top to bottom."""
        used = {e.src for e in self.edges}
        return sorted((n for n in self.nodes.values()
                       if n.id not in used and n.type_name != "InputLayer"),
                      key=lambda n: (n.position[1], n.id))

    def input_port_count(self, node_id: str) -> int:
        """Ports drawn for inputs; variadic (merge) nodes always offer one free port."""
        want = self.node(node_id).spec.n_inputs
        if want is not None:
            return want
        return max(2, len(self.in_edges(node_id)) + 1)

    def output_port_count(self, node_id: str) -> int:
        info = self.info.get(node_id)
        return max(1, len(info.output_shapes)) if info and info.output_shapes else 1

    def total_params(self) -> int:
        return sum(i.params for i in self.info.values())

    # ------------------------------------------------------------------ edits
    def _unique_name(self, base: str) -> str:
        names = {n.name for n in self.nodes.values()}
        if base not in names:
            return base
        for k in itertools.count(1):
            if f"{base}_{k}" not in names:
                return f"{base}_{k}"
        raise AssertionError

    def _new_id(self) -> str:
        while True:
            nid = f"n{next(self._ids)}"
            if nid not in self.nodes:
                return nid

    def add_node(self, type_name: str, params: dict[str, Any] | None = None,
                 name: str | None = None, position=(0.0, 0.0),
                 node_id: str | None = None) -> GraphNode:
        """Add a layer node; parameters not given take the registry defaults. Undo: remove_node."""
        spec = get_spec(type_name)
        values = {p.name: serialize_value(p, p.default) for p in spec.params}
        for key, value in (params or {}).items():
            p = spec.param(key) if key in {q.name for q in spec.params} else None
            if p is None:
                if key in ("batch_shape", "dtype"):
                    values[key] = value
                    continue
                raise GraphError(f"{spec.type_name}: unknown parameter '{key}'")
            values[key] = serialize_value(p, coerce(f"{spec.type_name} '{name or ''}'", p, value))
        if node_id is not None and node_id in self.nodes:
            raise GraphError(f"node id {node_id!r} is already used")
        node = GraphNode(node_id or self._new_id(), spec.type_name,
                         self._unique_name(name or _snake(spec.type_name).replace(
                             "input_layer", "input")), values,
                         (float(position[0]), float(position[1])))
        self.nodes[node.id] = node
        self._changed("node_added", node=node)
        return node

    def remove_node(self, node_id: str) -> dict[str, Any]:
        """Remove a node and its edges; returns the snapshot that ``restore_node`` takes."""
        node = self.node(node_id)
        edges = [e for e in self.edges if node_id in (e.src, e.dst)]
        for e in edges:
            self.disconnect(e)
        del self.nodes[node_id]
        self.info.pop(node_id, None)
        self._changed("node_removed", node_id=node_id)
        return {"node": node, "edges": edges}

    def restore_node(self, snapshot: dict[str, Any]) -> None:
        node: GraphNode = snapshot["node"]
        if node.id in self.nodes:
            raise GraphError(f"node id {node.id!r} is already used")
        self.nodes[node.id] = node
        self._changed("node_added", node=node)
        for e in snapshot["edges"]:
            self._add_edge(e)

    def can_connect(self, src: str, dst: str, src_port: int = 0,
                    dst_port: int | None = None, replacing: bool = False) -> str | None:
        """None when ``src → dst`` is allowed, else the reason (for the status bar).
        ``replacing``: the connection now on input ``dst_port`` would be removed first."""
        if src not in self.nodes or dst not in self.nodes:
            return "unknown node"
        s, d = self.nodes[src], self.nodes[dst]
        if src == dst:
            return f"'{s.name}' cannot feed itself"
        want = d.spec.n_inputs
        if want == 0:
            return f"'{d.name}' is an Input; it takes no incoming connection"
        if src_port >= self.output_port_count(src):
            return f"'{s.name}' has no output port {src_port}"
        replaced = self.edge_into(dst, dst_port) if replacing else None
        taken = {e.dst_port for e in self.in_edges(dst) if e != replaced}
        if want is None and dst_port is not None and dst_port in taken:
            return f"input {dst_port} of '{d.name}' is already connected"
        if want is not None:
            port = dst_port if dst_port is not None else next(
                (i for i in range(want) if i not in taken), None)
            if port is None:
                return (f"'{d.name}' ({d.type_name}) takes {want} input"
                        f"{'s' if want > 1 else ''} and already has "
                        f"{'it' if want == 1 else 'them'}")
            if port in taken:
                return f"input {port} of '{d.name}' is already connected"
            if port >= want:
                return f"'{d.name}' has no input port {port}"
        if any(e.src == src and e.src_port == src_port and e.dst == dst and e != replaced
               for e in self.edges):
            return f"'{s.name}' is already connected to '{d.name}'"
        if self._reaches(dst, src):
            return f"connecting '{s.name}' to '{d.name}' would make a cycle"
        return None

    def edge_into(self, dst: str, dst_port: int | None) -> Edge | None:
        """The connection on input ``dst_port`` of ``dst`` (None: that input is free)."""
        return next((e for e in self.edges if e.dst == dst and e.dst_port == dst_port), None)

    def connect(self, src: str, dst: str, src_port: int = 0,
                dst_port: int | None = None) -> Edge:
        """Connect an output port to an input port. Undo: disconnect(edge)."""
        reason = self.can_connect(src, dst, src_port, dst_port)
        if reason:
            raise GraphError(reason, dst)
        if dst_port is None:
            taken = {e.dst_port for e in self.in_edges(dst)}
            dst_port = next(i for i in itertools.count() if i not in taken)
        edge = Edge(src, src_port, dst, dst_port)
        self._add_edge(edge)
        return edge

    def _add_edge(self, edge: Edge) -> None:
        self.edges.append(edge)
        self._changed("edge_added", edge=edge)

    def disconnect(self, edge: Edge) -> Edge:
        """Remove an edge. Undo: ``_add_edge``/connect with the same ports."""
        try:
            self.edges.remove(edge)
        except ValueError:
            raise GraphError("that connection does not exist") from None
        self._changed("edge_removed", edge=edge)
        return edge

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        """Set one parameter (validated by the registry); returns the old value for undo."""
        node = self.node(node_id)
        spec = node.spec
        try:
            p = spec.param(name)
        except KeyError:
            raise GraphError(f"{node.type_name} '{node.name}' has no parameter '{name}'",
                             node_id) from None
        try:
            new = serialize_value(p, coerce(f"{node.type_name} '{node.name}'", p, value))
        except (ValueError, TypeError) as e:
            raise GraphError(str(e), node_id) from None
        old = node.params.get(name)
        node.params[name] = new
        self._changed("param_changed", node_id=node_id, name=name, value=new)
        return old

    def rename(self, node_id: str, new_name: str) -> str:
        node = self.node(node_id)
        new_name = new_name.strip()
        if not new_name or not new_name.replace("_", "").replace("-", "").isalnum():
            raise GraphError(f"'{new_name}' is not a valid layer name (letters, digits, _ and -)",
                             node_id)
        if any(n.name == new_name and n.id != node_id for n in self.nodes.values()):
            raise GraphError(f"a layer named '{new_name}' already exists", node_id)
        old, node.name = node.name, new_name
        self._changed("renamed", node_id=node_id, name=new_name)
        return old

    def move(self, node_id: str, position) -> tuple[float, float]:
        node = self.node(node_id)
        old, node.position = node.position, (float(position[0]), float(position[1]))
        self._emit("moved", node_id=node_id, position=node.position)
        return old

    # ------------------------------------------------------------------ structure
    def _reaches(self, start: str, target: str) -> bool:
        stack, seen = [start], set()
        while stack:
            cur = stack.pop()
            if cur == target:
                return True
            if cur in seen:
                continue
            seen.add(cur)
            stack.extend(e.dst for e in self.edges if e.src == cur)
        return False

    def topological_order(self) -> tuple[list[str], set[str]]:
        """Node ids in dependency order, and the ids on a cycle (left out of the order)."""
        indeg = {nid: 0 for nid in self.nodes}
        for e in self.edges:
            indeg[e.dst] += 1
        ready = sorted((n for n, d in indeg.items() if d == 0),
                       key=lambda n: self.nodes[n].position)
        order = []
        while ready:
            cur = ready.pop(0)
            order.append(cur)
            for e in self.edges:
                if e.src == cur:
                    indeg[e.dst] -= 1
                    if indeg[e.dst] == 0:
                        ready.append(e.dst)
        return order, set(self.nodes) - set(order)

    # ------------------------------------------------------------------ shapes
    def infer_shapes(self) -> dict[str, NodeInfo]:
        """Output shapes, parameter counts and errors of every node (memoized per node)."""
        order, cyclic = self.topological_order()
        info: dict[str, NodeInfo] = {}
        for nid in cyclic:
            info[nid] = NodeInfo(error=f"'{self.nodes[nid].name}' is part of a cycle")
        for nid in order:
            info[nid] = self._infer_node(self.nodes[nid], info)
        self.info = info
        self._dirty = False
        self._emit("shapes")
        return info

    def _infer_node(self, node: GraphNode, info: dict[str, NodeInfo]) -> NodeInfo:
        spec = node.spec
        edges = self.in_edges(node.id)
        if spec.n_inputs == 0:
            in_shapes: Any = None
        else:
            want = spec.n_inputs
            if not edges:
                return NodeInfo(error=f"'{node.name}' has no input connected")
            if want is not None and len(edges) < want:
                return NodeInfo(error=f"'{node.name}' needs {want} inputs, {len(edges)} connected")
            if want is not None and len(edges) > want:
                return NodeInfo(error=f"'{node.name}' ({node.type_name}) takes {want} input"
                                      f"{'s' if want > 1 else ''}, {len(edges)} are connected")
            if want is None and len(edges) < 2:
                return NodeInfo(error=f"'{node.name}' ({node.type_name}) merges 2 or more "
                                      f"inputs; connect another one")
            shapes = []
            for e in edges:
                src = info.get(e.src)
                if src is None or src.error or e.src_port >= len(src.output_shapes):
                    return NodeInfo(error=f"input from '{self.nodes[e.src].name}' has no shape "
                                          f"(fix that node first)")
                shapes.append(tuple(src.output_shapes[e.src_port]))
            in_shapes = shapes if (want is None or want > 1) else shapes[0]
        key = (spec.type_name, _freeze(node.params), _freeze(in_shapes))
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        result = self._compute(node, spec, in_shapes)
        if len(self._memo) > 20000:
            self._memo.clear()
        self._memo[key] = result
        return result

    @staticmethod
    def _compute(node: GraphNode, spec: LayerSpec, in_shapes) -> NodeInfo:
        try:
            with shape_only_build():
                layer = build_layer(node)
                if spec.n_inputs == 0:
                    return NodeInfo([tuple(layer.batch_shape)], 0)
                layer.maybe_build(in_shapes)
                out = layer.output_shape
                outs = out if isinstance(out, list) else [out]
                return NodeInfo([tuple(o) for o in outs], layer.count_params())
        except (ValueError, TypeError, KeyError) as e:
            msg = str(e).strip("'\"")
            return NodeInfo(error=msg)

    def problems(self) -> list[tuple[str | None, str]]:
        """(node id, message) for every problem; an empty list means the graph can train."""
        if self._dirty:
            self.infer_shapes()
        out = [(nid, i.error) for nid, i in self.info.items() if i.error]
        if not self.input_nodes():
            out.append((None, "the graph has no Input node"))
        if not self.output_nodes():
            out.append((None, "the graph has no output (a node that nothing consumes)"))
        for n in self.input_nodes():
            if not self.out_edges(n.id):
                out.append((n.id, f"Input '{n.name}' is not connected to anything"))
        return out

    validate = problems

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "nodes": [n.to_dict() for n in self.nodes.values()],
                "edges": [e.to_dict() for e in self.edges]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphDocument:
        """Rebuild a document from :meth:`to_dict` output, checking every field."""
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
        doc._ids = itertools.count(max(ids, default=0) + 1)
        doc.listeners = listeners
        doc.infer_shapes()
        return doc

    def auto_layout(self) -> dict[str, tuple[float, float]]:
        """Layered left-to-right positions (crossing-reduced); returns the old positions."""
        old = {nid: n.position for nid, n in self.nodes.items()}
        for nid, pos in layered_layout(self).items():
            self.move(nid, pos)
        return old


def build_layer(node: GraphNode):
    """A fresh engine layer for ``node`` (parameters from the document, the node's name)."""
    spec = node.spec
    params = dict(node.params)
    if spec.type_name == "InputLayer":
        shape = params.get("shape")
        if not shape:
            raise ValueError(f"Input '{node.name}': argument 'shape' is required, e.g. (784,)")
        return spec.cls(shape=tuple(shape), name=node.name, dtype=params.get("dtype"),
                        batch_size=params.get("batch_size"))
    known = {p.name for p in spec.params}
    return spec.cls(name=node.name, **{k: v for k, v in params.items() if k in known})


def _freeze(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _expect(cond: bool, msg: str) -> None:
    if not cond:
        raise GraphError(f"graph: {msg}")
