"""Undoable edits: one small QUndoCommand per GraphDocument operation.

``redo()`` calls the document's edit method and keeps the undo data it returns; ``undo()``
hands that data back. Compound edits (delete a selection, paste, duplicate) are a parent
command whose children are these small commands, run in order by ``redo`` and in reverse by
``undo``. The parent holds its children in a Python list rather than through Qt's parent
argument: PySide does not pass ownership of a command to its Qt parent, so Qt would hold
dangling children.

A command whose first ``redo`` is refused by the document (a name already taken, a value out
of range) marks itself obsolete, so QUndoStack drops it, and reports the reason in
``outcome.error`` (the outcome object outlives the command).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtGui import QUndoCommand

from engine.graph import Edge, GraphDocument, GraphError

# ids for QUndoCommand.mergeWith: consecutive edits of one parameter become one step
MERGE_SET_PARAM = 1


@dataclass
class Outcome:
    """What the first redo of a command found: ``error`` is the document's reason, or None."""

    error: str | None = None


class DocumentCommand(QUndoCommand):
    """Base: a command on ``doc`` whose first refused redo makes it obsolete."""

    def __init__(self, doc: GraphDocument, text: str):
        super().__init__(text)
        self.doc = doc
        self.outcome = Outcome()

    def _attempt(self, fn, *args) -> Any:
        try:
            return fn(*args)
        except GraphError as e:
            self.outcome.error = str(e)
            self.setObsolete(True)
            return None


class AddNodeCommand(DocumentCommand):
    """Add a layer node; later redos restore the very same node (same id, name, params)."""

    def __init__(self, doc: GraphDocument, type_name: str, params: dict | None = None,
                 name: str | None = None, position=(0.0, 0.0), node_id: str | None = None):
        super().__init__(doc, f"Add {name or type_name}")
        self.args = (type_name, params, name, tuple(position), node_id)
        self.node_id: str | None = node_id
        self._snapshot: dict | None = None

    def redo(self) -> None:
        if self._snapshot is not None:
            self.doc.restore_node(self._snapshot)
            return
        type_name, params, name, position, node_id = self.args
        node = self._attempt(lambda: self.doc.add_node(type_name, params, name, position,
                                                       node_id))
        if node is not None:
            self.node_id = node.id
            self.setText(f"Add {node.name}")

    def undo(self) -> None:
        self._snapshot = self.doc.remove_node(self.node_id)


class RemoveNodeCommand(DocumentCommand):
    """Remove a node with its edges; undo restores both."""

    def __init__(self, doc: GraphDocument, node_id: str):
        super().__init__(doc, f"Delete {doc.node(node_id).name}")
        self.node_id = node_id
        self._snapshot: dict | None = None

    def redo(self) -> None:
        self._snapshot = self.doc.remove_node(self.node_id)

    def undo(self) -> None:
        self.doc.restore_node(self._snapshot)


class ConnectCommand(DocumentCommand):
    """Connect output ``src_port`` of ``src`` to input ``dst_port`` of ``dst``."""

    def __init__(self, doc: GraphDocument, src: str, dst: str, src_port: int = 0,
                 dst_port: int | None = None):
        super().__init__(doc, "Connect")
        self.args = (src, dst, src_port, dst_port)
        self.edge: Edge | None = None

    def redo(self) -> None:
        if self.edge is not None:
            e = self.edge
            self.doc.connect(e.src, e.dst, e.src_port, e.dst_port)
            return
        self.edge = self._attempt(self.doc.connect, *self.args)
        if self.edge is not None:
            self.setText(f"Connect {self.doc.node(self.edge.src).name} → "
                         f"{self.doc.node(self.edge.dst).name}")

    def undo(self) -> None:
        self.doc.disconnect(self.edge)


class DisconnectCommand(DocumentCommand):
    """Remove one edge; undo connects the same ports again."""

    def __init__(self, doc: GraphDocument, edge: Edge):
        super().__init__(doc, f"Disconnect {doc.node(edge.src).name} → "
                              f"{doc.node(edge.dst).name}")
        self.edge = edge

    def redo(self) -> None:
        self.doc.disconnect(self.edge)

    def undo(self) -> None:
        e = self.edge
        self.doc.connect(e.src, e.dst, e.src_port, e.dst_port)


class SetParamCommand(DocumentCommand):
    """Set one parameter; consecutive edits of the same parameter merge into one step."""

    def __init__(self, doc: GraphDocument, node_id: str, name: str, value: Any):
        super().__init__(doc, f"Set {doc.node(node_id).name}.{name}")
        self.node_id, self.name, self.value = node_id, name, value
        self.old: Any = None
        self._done = False

    def id(self) -> int:
        return MERGE_SET_PARAM

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetParamCommand) or other.isObsolete() or (
                other.node_id, other.name) != (self.node_id, self.name):
            return False
        self.value = other.value
        return True

    def redo(self) -> None:
        if self._done:
            self.doc.set_param(self.node_id, self.name, self.value)
            return
        old = self._attempt(self.doc.set_param, self.node_id, self.name, self.value)
        if not self.isObsolete():
            self.old, self._done = old, True

    def undo(self) -> None:
        self.doc.set_param(self.node_id, self.name, self.old)


class RenameCommand(DocumentCommand):
    def __init__(self, doc: GraphDocument, node_id: str, name: str):
        super().__init__(doc, f"Rename {doc.node(node_id).name} to {name}")
        self.node_id, self.name = node_id, name
        self.old: str | None = None

    def redo(self) -> None:
        if self.old is not None:
            self.doc.rename(self.node_id, self.name)
            return
        self.old = self._attempt(self.doc.rename, self.node_id, self.name)

    def undo(self) -> None:
        self.doc.rename(self.node_id, self.old)


class MoveNodesCommand(DocumentCommand):
    """Commit a drag: ``moves`` maps node id → (old position, new position)."""

    def __init__(self, doc: GraphDocument, moves: dict[str, tuple[tuple, tuple]]):
        n = len(moves)
        what = doc.node(next(iter(moves))).name if n == 1 else f"{n} layers"
        super().__init__(doc, f"Move {what}")
        self.moves = dict(moves)

    def redo(self) -> None:
        for nid, (_old, new) in self.moves.items():
            self.doc.move(nid, new)

    def undo(self) -> None:
        for nid, (old, _new) in self.moves.items():
            self.doc.move(nid, old)


class AutoLayoutCommand(DocumentCommand):
    """Layered left-to-right layout of the whole graph; undo puts every node back."""

    def __init__(self, doc: GraphDocument):
        super().__init__(doc, "Auto-layout")
        self.old: dict[str, tuple] | None = None
        self.new: dict[str, tuple] = {}

    def redo(self) -> None:
        if self.old is None:
            self.old = self.doc.auto_layout()
            self.new = {nid: n.position for nid, n in self.doc.nodes.items()}
            return
        for nid, pos in self.new.items():
            self.doc.move(nid, pos)

    def undo(self) -> None:
        for nid, pos in self.old.items():
            self.doc.move(nid, pos)


class CompoundCommand(QUndoCommand):
    """A parent command: its ``steps`` redo in order and undo in reverse, as one history entry.
    When a step is refused on the first redo, the steps done are undone and the whole command
    is obsolete, with that step's reason in ``outcome.error``."""

    def __init__(self, text: str, steps: list[QUndoCommand]):
        super().__init__(text)
        self.steps = steps
        self.outcome = Outcome()

    def redo(self) -> None:
        for k, step in enumerate(self.steps):
            step.redo()
            error = getattr(getattr(step, "outcome", None), "error", None)
            if error:
                for done in reversed(self.steps[:k]):
                    done.undo()
                self.outcome.error = error
                self.setObsolete(True)
                return

    def undo(self) -> None:
        for step in reversed(self.steps):
            step.undo()


class DeleteCommand(CompoundCommand):
    """Delete a selection: the selected edges first, then the nodes (each with its edges)."""

    def __init__(self, doc: GraphDocument, node_ids: list[str], edges: list[Edge],
                 text: str | None = None):
        n = len(node_ids)
        text = text or (f"Delete {doc.node(node_ids[0]).name}" if n == 1 and not edges
                else f"Delete {n} layer{'s' if n != 1 else ''}"
                     + (f" and {len(edges)} connection{'s' if len(edges) != 1 else ''}"
                        if edges else ""))
        doomed = set(node_ids)
        steps: list[QUndoCommand] = [DisconnectCommand(doc, e) for e in edges
                                     if e.src not in doomed and e.dst not in doomed]
        steps += [RemoveNodeCommand(doc, nid) for nid in node_ids]
        super().__init__(text, steps)


class InsertFragmentCommand(CompoundCommand):
    """Paste or duplicate: add prepared nodes (ids and names chosen beforehand) and their edges.

    ``nodes`` are dicts with ``id, type, name, params, position``; ``edges`` are Edge objects
    between those ids.
    """

    def __init__(self, doc: GraphDocument, text: str, nodes: list[dict], edges: list[Edge]):
        self.node_ids = [n["id"] for n in nodes]
        steps: list[QUndoCommand] = [
            AddNodeCommand(doc, n["type"], n["params"], n["name"], n["position"], n["id"])
            for n in nodes]
        steps += [ConnectCommand(doc, e.src, e.dst, e.src_port, e.dst_port) for e in edges]
        super().__init__(text, steps)
