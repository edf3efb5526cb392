"""The user's own code in an exported script: Custom layer nodes as registered classes and
Lambda nodes as lambda expressions.

This is the one place where text from a project becomes code in a generated script, and only
because it *is* code the user wrote in their own project. Still: only code the user trusted
(``graph.untrusted`` is empty — a file opened from elsewhere whose code was not trusted is
refused), class names are validated identifiers, a Custom layer's source must parse to only its
``build`` / ``call`` / ``compute_output_shape`` functions and is re-checked after it is placed
in the class (:func:`engine.saving.layer_source.class_source`), and a Lambda is written back
from its parsed syntax tree (``ast.unparse`` of one lambda expression), never pasted.
"""
from __future__ import annotations

import ast

from engine.io.pysource import ScriptValueError
from engine.saving.layer_source import CodeError, class_source, lambda_source
from engine.saving.python_code import source_of

# what code written on the canvas may use by name (engine.saving.python_code's namespace)
CODE_IMPORTS = {"keras": "import math\nfrom keras import ops\n",
                "engine": "import math\nfrom engine import ops\n"}


def code_nodes(graph) -> list:
    nodes = [n for n in graph.nodes.values() if getattr(n.spec.cls, "holds_code", False)]
    untrusted = [n.name for n in nodes if n.id in getattr(graph, "untrusted", ())]
    if untrusted:
        raise ScriptValueError(f"layer(s) {', '.join(sorted(untrusted))} hold code from a file "
                               f"that has not been trusted; review it and choose 'Trust and "
                               f"run' before exporting it into a script")
    return nodes


def class_definitions(graph) -> tuple[list[str], set[str]]:
    """(source lines of one registered class per distinct Custom layer class, their names).
    Two nodes may share a class only with the same source."""
    classes: dict[str, tuple[str, str]] = {}          # class name → (source, first node)
    lines: list[str] = []
    for node in code_nodes(graph):
        if node.type_name != "CustomLayer":
            continue
        name, source = node.params.get("class_name"), node.params.get("source")
        where = f"layer {node.name!r}"
        if name in classes:
            if classes[name][0] != source:
                raise ScriptValueError(f"{where} and layer {classes[name][1]!r} both define a "
                                       f"class {name!r} with different code; rename one class")
            continue
        try:
            text = class_source(name, source, where)
        except CodeError as e:
            raise ScriptValueError(f"{where}: {e}") from None
        classes[name] = (source, node.name)
        lines += [text.rstrip("\n"), "", ""]
    return lines, set(classes)


def lambda_code(value, what: str) -> str:
    """``lambda x: ...`` for a Lambda's stored function, rebuilt from its parsed tree."""
    source = source_of(value)
    if source is None:
        raise ScriptValueError(f"{what}: its function is not stored as source")
    try:
        text = lambda_source(source, what)
        tree = ast.parse(text.strip(), mode="eval")
    except (CodeError, SyntaxError) as e:
        raise ScriptValueError(f"{what}: {e}") from None
    if not isinstance(tree.body, ast.Lambda):
        raise ScriptValueError(f"{what}: its function is not one lambda expression")
    return f"({ast.unparse(tree.body)})"


def custom_layer_call(node, call, literal) -> str:
    """``MyDense(name='c')`` for a Custom layer node (its class defined above)."""
    from engine.saving.layer_source import check_class_name
    try:
        name = check_class_name(node.params.get("class_name"), f"layer {node.name!r}")
    except CodeError as e:
        raise ScriptValueError(str(e)) from None
    return call(name, kwargs=[f"name={literal(node.name, 'layer name')}"])
