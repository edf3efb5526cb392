"""Nodes that hold Python code (CustomLayer, Lambda): what code they hold, and their shape
inference with errors that say the line.

A code node's output shape is found by building its layer and running its ``call`` on zero
batches (sizes 2 and 3), like a Keras layer without ``compute_output_shape``. Any exception
the user's code raises becomes the node's error, ``line N in call(): NameError: ...``, with the
line in the node's own text (``NodeInfo.error_line``) for the editor to mark. The app runs this
in a child process it can stop (:mod:`engine.graph.code_process`); scripts run it in-process.
"""
from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from engine.registry import CODE_KINDS, LayerSpec

if TYPE_CHECKING:
    from engine.graph.document import GraphNode, NodeInfo


def holds_code(spec: LayerSpec) -> bool:
    """True for layer types whose parameters are code (run only with consent)."""
    return bool(getattr(spec.cls, "holds_code", False))


def code_of(node: GraphNode) -> str:
    """The code a node holds, as the consent dialog shows it ("" for other nodes)."""
    from engine.saving.python_code import source_of
    parts = []
    for p in node.spec.params:
        if p.kind in CODE_KINDS:
            text = source_of(node.params.get(p.name))
            if text:
                parts.append(text)
    return "\n\n".join(parts)


def where_of(node: GraphNode) -> str:
    """How the engine names the node's layer in errors and tracebacks (``CustomLayer 'c'``)."""
    return f"{node.type_name} '{node.name}'"


def infer_code_node(node: GraphNode, in_shapes: Any) -> NodeInfo:
    """Build ``node``'s layer and find its output shape by running its code; every error the
    code raises is the node's error, with the line in its text where there is one."""
    from engine.graph.document import NodeInfo, build_layer
    from engine.layers.base import shape_only_build
    try:
        with shape_only_build():
            layer = build_layer(node)
            layer.maybe_build(in_shapes)
            out = layer.output_shape
            outs = out if isinstance(out, list) else [out]
            shapes = [tuple(o) for o in outs]
            return NodeInfo(shapes, layer.count_params())
    except RecursionError:
        return NodeInfo(error="its code recurses without end (RecursionError)")
    except Exception as e:  # noqa: BLE001 — the user's code may raise anything: show it
        message, line = describe_error(e, where_of(node))
        return NodeInfo(error=message, error_line=line)


def describe_error(exc: BaseException, where: str) -> tuple[str, int | None]:
    """(one line for the node and Problems, line in the user's text or None)."""
    from engine.saving.layer_source import CodeError, source_filename
    if isinstance(exc, CodeError):
        return str(exc), exc.line
    chain = [exc]               # the error, then what caused it (the user's own error last)
    while len(chain) < 20:
        nxt = chain[-1].__cause__ or chain[-1].__context__
        if nxt is None or nxt in chain:
            break
        chain.append(nxt)
    filename = source_filename(where)
    for root in reversed(chain):
        frames = [f for f in traceback.extract_tb(root.__traceback__) if f.filename == filename]
        if frames:
            frame = frames[-1]
            break
    else:
        root, frame = exc, None
    text = str(root.args[0]) if isinstance(root, KeyError) and root.args else str(root)
    text = text.strip() or type(root).__name__
    if frame is None:
        if not isinstance(root, (ValueError, TypeError, KeyError)):
            return f"{type(root).__name__}: {text}", None
        return text, None
    kind = "" if text.startswith(f"{where}:") else f"{type(root).__name__}: "
    inside = "" if frame.name.startswith("<") else f" in {frame.name}()"
    return f"line {frame.lineno}{inside}: {kind}{text}", frame.lineno
