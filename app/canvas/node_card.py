"""NodeCard: what a node shows, computed from the document (type, name, key parameters,
output shape, parameter count, error) — a plain value the NodeItem draws."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.graph import GraphDocument

MAX_KEY_ROWS = 3


@dataclass(frozen=True)
class NodeCard:
    node_id: str
    type_name: str
    name: str
    category: str
    help: str
    rows: tuple[tuple[str, str], ...]      # (label, value) of the key parameters
    shape_text: str                        # compact output shape, "" when unknown
    params: int
    error: str | None
    pending: bool                          # its code is still running to find the shape
    inputs: tuple[bool, ...]               # one per input port drawn: connected?
    outputs: tuple[bool, ...]              # one per output port drawn: connected?

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)


def compact_shape(shape: Any) -> str:
    """``(None, 26, 26, 32)`` → ``26×26×32`` (the batch axis left out; ``?`` for unknown)."""
    if isinstance(shape, list):
        return " | ".join(compact_shape(s) for s in shape)
    dims = tuple(shape)[1:]
    if not dims:
        return "scalar"
    return "×".join("?" if d is None else str(d) for d in dims)


def format_value(value: Any) -> str:
    """A parameter value as a node or summary shows it: ``3×3``, ``relu``, ``0.5``."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        if all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value):
            return "×".join("?" if v is None else str(v) for v in value)
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, dict) and value.get("class_name") == "__lambda__":
        from engine.saving.layer_source import expression_of  # a Lambda: its expression
        from engine.saving.python_code import source_of
        return expression_of(source_of(value)) or "…"
    if isinstance(value, dict):
        inner = value.get("config") if isinstance(value.get("config"), dict) else {}
        return str(inner.get("name") or value.get("class_name") or "…")
    return str(value)


def key_rows(params: dict[str, Any], key_params: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(label, value) rows for the parameters a node shows on the canvas."""
    rows = []
    for name in key_params[:MAX_KEY_ROWS]:
        value = params.get(name)
        if name == "activation" and value in (None, "linear"):
            text = "linear"
        else:
            text = format_value(value)
        rows.append((name.replace("_", " "), text))
    return tuple(rows)


Wiring = dict[str, tuple[set[int], set[int]]]


def port_wiring(doc: GraphDocument) -> Wiring:
    """node id → (connected input ports, connected output ports), in one pass over the edges."""
    wiring: Wiring = {}
    for e in doc.edges:
        wiring.setdefault(e.src, (set(), set()))[1].add(e.src_port)
        wiring.setdefault(e.dst, (set(), set()))[0].add(e.dst_port)
    return wiring


def node_card(doc: GraphDocument, node_id: str, wiring: Wiring | None = None) -> NodeCard:
    """The card of one node; pass ``port_wiring(doc)`` when computing many cards."""
    node = doc.nodes[node_id]
    spec = node.spec
    info = doc.info.get(node_id)
    shape_text = ""
    params = 0
    error = None
    pending = info is not None and info.pending
    if info is not None:
        params = info.params
        error = info.error
        if info.output_shapes and not error:
            shape_text = compact_shape(info.output_shapes if len(info.output_shapes) > 1
                                       else info.output_shapes[0])
    ins, outs = (wiring if wiring is not None else port_wiring(doc)).get(node_id, ((), ()))
    n_in = spec.n_inputs if spec.n_inputs is not None else doc.input_port_count(node_id)
    return NodeCard(node_id=node_id, type_name=spec.type_name, name=node.name,
                    category=spec.category, help=spec.help,
                    rows=key_rows(node.params, spec.key_params),
                    shape_text=shape_text, params=params, error=error, pending=pending,
                    inputs=tuple(i in ins for i in range(n_in)),
                    outputs=tuple(i in outs for i in range(doc.output_port_count(node_id))))
