"""GraphEditor: the user's edits on the current document, each pushed as an undo command.

The canvas, the palette and the inspector call these methods with plain ids and values; the
editor turns them into commands on the undo stack and reports refusals as a one-line reason
(``status`` signal and return value). It holds no graph state of its own.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QMimeData, QObject, Signal
from PySide6.QtGui import QGuiApplication, QUndoStack

from app import clipboard
from app.clipboard import fresh_ids
from app.commands import (
    AddNodeCommand,
    AutoLayoutCommand,
    CompoundCommand,
    ConnectCommand,
    DeleteCommand,
    DisconnectCommand,
    InsertFragmentCommand,
    MoveNodesCommand,
    RenameCommand,
    SetParamCommand,
)
from engine.graph import Edge, GraphDocument
from engine.registry import coerce, get_spec

PASTE_OFFSET = 40.0


class GraphEditor(QObject):
    status = Signal(str)                  # a one-line message for the status bar
    refused = Signal(str)                 # an edit that was refused, and why
    document_replaced = Signal(object)    # the new GraphDocument

    def __init__(self, undo_stack: QUndoStack, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = undo_stack
        self.doc = GraphDocument()
        self._paste_count = 0

    def set_document(self, doc: GraphDocument) -> None:
        """Edit ``doc`` from now on; the undo history of the previous document is dropped."""
        self.undo_stack.clear()
        self.doc = doc
        self._paste_count = 0
        self.document_replaced.emit(doc)

    def _push(self, cmd) -> str | None:
        self.undo_stack.push(cmd)
        error = cmd.outcome.error if hasattr(cmd, "outcome") else None
        if error:
            self.status.emit(error)
        return error

    # ------------------------------------------------------------------ nodes
    def add_node(self, type_name: str, position=(0.0, 0.0), params: dict | None = None,
                 name: str | None = None) -> str | None:
        """Add a node of ``type_name`` at ``position``; returns its id (None when refused)."""
        cmd = AddNodeCommand(self.doc, type_name, params, name, position)
        outcome = cmd.outcome
        self.undo_stack.push(cmd)
        if outcome.error:
            self.status.emit(outcome.error)
            return None
        return cmd.node_id

    def move_nodes(self, moves: dict[str, tuple[tuple, tuple]]) -> None:
        """Commit a drag (node id → (old, new) position)."""
        moves = {nid: m for nid, m in moves.items() if nid in self.doc.nodes and m[0] != m[1]}
        if moves:
            self.undo_stack.push(MoveNodesCommand(self.doc, moves))

    def set_param(self, node_id: str, name: str, value: Any) -> str | None:
        """Set a parameter; returns the reason when the value is refused (nothing changes)."""
        node = self.doc.node(node_id)
        try:
            p = node.spec.param(name)
            coerce(f"{node.type_name} '{node.name}'", p, value)
        except (KeyError, ValueError, TypeError) as e:
            msg = str(e).strip("'\"")
            self.status.emit(msg)
            return msg
        return self._push(SetParamCommand(self.doc, node_id, name, value))

    def rename(self, node_id: str, name: str) -> str | None:
        if self.doc.node(node_id).name == name.strip():
            return None
        return self._push(RenameCommand(self.doc, node_id, name))

    # ------------------------------------------------------------------ edges
    def can_connect(self, src: str, dst: str, src_port: int = 0,
                    dst_port: int | None = None) -> str | None:
        return self.doc.can_connect(src, dst, src_port, dst_port)

    def connect(self, src: str, src_port: int, dst: str, dst_port: int | None,
                replace: bool = False) -> str | None:
        """Connect two ports; returns the reason when the connection is refused. With
        ``replace``, a connection already on input ``dst_port`` gives way (one undo step)."""
        reason = self.doc.can_connect(src, dst, src_port, dst_port, replacing=replace)
        if reason:
            self.status.emit(f"Cannot connect: {reason}")
            return reason
        old = self.doc.edge_into(dst, dst_port) if replace else None
        if old == Edge(src, src_port, dst, dst_port):
            return None                                   # the same wire: nothing to do
        new = ConnectCommand(self.doc, src, dst, src_port, dst_port)
        names = f"{self.doc.node(src).name} → {self.doc.node(dst).name}"
        if old is None:
            error = self._push(new)
        else:
            error = self._push(CompoundCommand(f"Reconnect {names}",
                                               [DisconnectCommand(self.doc, old), new]))
        if not error:
            self.status.emit(f"Connected {names}" + (
                f" (instead of {self.doc.node(old.src).name})" if old else ""))
        return error

    def disconnect(self, edge: Edge) -> None:
        self.undo_stack.push(DisconnectCommand(self.doc, edge))

    def disconnect_nodes(self, node_ids: list[str]) -> int:
        """Remove every connection of these nodes (one undo step); returns how many."""
        chosen = set(node_ids)
        edges = [e for e in self.doc.edges if e.src in chosen or e.dst in chosen]
        if edges:
            what = self.doc.node(node_ids[0]).name if len(node_ids) == 1 else \
                f"{len(node_ids)} layers"
            self.undo_stack.push(CompoundCommand(
                f"Disconnect {what}", [DisconnectCommand(self.doc, e) for e in edges]))
        return len(edges)

    # ------------------------------------------------------------------ wiring new layers
    def add_connected(self, type_name: str, position, node_id: str, port: int,
                      from_output: bool) -> str | None:
        """A new layer wired to a port that was dragged into empty canvas: fed by output
        ``port`` of ``node_id`` (``from_output``), or feeding its input ``port`` (replacing
        what fed it). One undo step; returns the new node's id (None when refused)."""
        new = fresh_ids(self.doc, 1)[0]
        spec = get_spec(type_name)
        if from_output and spec.n_inputs == 0:
            return self._refuse(f"a {type_name} takes no input; it cannot follow "
                                f"'{self.doc.node(node_id).name}'")
        steps: list = []
        if from_output:
            wire = ConnectCommand(self.doc, node_id, new, port, None)
        else:
            old = self.doc.edge_into(node_id, port)
            steps += [DisconnectCommand(self.doc, old)] if old else []
            wire = ConnectCommand(self.doc, new, node_id, 0, port)
        steps += [AddNodeCommand(self.doc, type_name, spec.suggested(), None, position, new),
                  wire]
        where = "after" if from_output else "before"
        return self._push_new(CompoundCommand(
            f"Add {type_name} {where} {self.doc.node(node_id).name}", steps), new)

    def insert_into_edge(self, type_name: str, edge: Edge, position,
                         make_room: dict[str, tuple[tuple, tuple]] | None = None) -> str | None:
        """A new layer dropped onto a connection: ``src → new → dst``, after moving the nodes
        in ``make_room`` (node id → (old, new) position) aside; one undo step."""
        spec = get_spec(type_name)
        if spec.n_inputs == 0:
            return self._refuse(f"a {type_name} takes no input; it cannot go into a "
                                f"connection")
        new = fresh_ids(self.doc, 1)[0]
        steps: list = [MoveNodesCommand(self.doc, make_room)] if make_room else []
        steps += [DisconnectCommand(self.doc, edge),
                 AddNodeCommand(self.doc, type_name, spec.suggested(), None, position, new),
                 ConnectCommand(self.doc, edge.src, new, edge.src_port, None),
                 ConnectCommand(self.doc, new, edge.dst, 0, edge.dst_port)]
        return self._push_new(CompoundCommand(
            f"Insert {type_name} between {self.doc.node(edge.src).name} and "
            f"{self.doc.node(edge.dst).name}", steps), new)

    def _push_new(self, cmd: CompoundCommand, node_id: str) -> str | None:
        return None if self._push(cmd) else node_id

    def _refuse(self, reason: str) -> None:
        self.status.emit(f"Cannot add: {reason}")
        self.refused.emit(reason)

    def set_as_output(self, node_id: str) -> int:
        """Make ``node_id`` the model's output: the layers after it go (one undo step);
        returns how many were removed."""
        after = self.nodes_after(node_id)
        if after:
            self.undo_stack.push(DeleteCommand(self.doc, after, [],
                                               f"Set {self.doc.node(node_id).name} as output"))
        return len(after)

    def nodes_after(self, node_id: str) -> list[str]:
        """Ids of the layers that ``node_id``'s output reaches, in document order."""
        seen: set[str] = set()
        frontier = [node_id]
        while frontier:
            for e in self.doc.out_edges(frontier.pop()):
                if e.dst not in seen:
                    seen.add(e.dst)
                    frontier.append(e.dst)
        return [nid for nid in self.doc.nodes if nid in seen]

    # ------------------------------------------------------------------ selections
    def delete(self, node_ids: list[str], edges: list[Edge] = ()) -> None:
        node_ids = [nid for nid in node_ids if nid in self.doc.nodes]
        edges = [e for e in edges if e in self.doc.edges]
        if node_ids or edges:
            self.undo_stack.push(DeleteCommand(self.doc, node_ids, list(edges)))

    def copy(self, node_ids: list[str]) -> int:
        """Put the nodes (and the edges between them) on the clipboard; returns how many."""
        fragment = clipboard.make_fragment(self.doc, node_ids)
        if not fragment["nodes"]:
            return 0
        text = clipboard.fragment_to_text(fragment)
        mime = QMimeData()
        mime.setText(text)
        mime.setData(clipboard.MIME_TYPE, text.encode("utf-8"))
        QGuiApplication.clipboard().setMimeData(mime)
        self._paste_count = 0
        n = len(fragment["nodes"])
        self.status.emit(f"Copied {n} layer{'s' if n != 1 else ''}")
        return n

    def cut(self, node_ids: list[str]) -> int:
        n = self.copy(node_ids)
        if n:
            ids = [i for i in node_ids if i in self.doc.nodes]
            self.undo_stack.push(DeleteCommand(self.doc, ids, [],
                                               f"Cut {n} layer{'s' if n != 1 else ''}"))
        return n

    def paste(self, at: tuple[float, float] | None = None) -> list[str]:
        """Insert the clipboard's layers (at ``at``, else shifted from where they were copied)."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and mime.hasFormat(clipboard.MIME_TYPE):
            text = bytes(mime.data(clipboard.MIME_TYPE)).decode("utf-8")
        else:
            text = QGuiApplication.clipboard().text()
        try:
            fragment = clipboard.fragment_from_text(text)
        except ValueError as e:
            self.status.emit(f"Cannot paste: {e}")
            return []
        self._paste_count += 1
        if at is None:
            offset = (PASTE_OFFSET * self._paste_count,) * 2
        else:
            ox, oy = clipboard.fragment_origin(fragment)
            offset = (at[0] - ox, at[1] - oy)
        return self._insert(fragment, offset, "Paste")

    def duplicate(self, node_ids: list[str]) -> list[str]:
        """Copies of the nodes next to the originals (the clipboard is left alone)."""
        fragment = clipboard.make_fragment(self.doc, node_ids)
        if not fragment["nodes"]:
            return []
        return self._insert(fragment, (PASTE_OFFSET, PASTE_OFFSET), "Duplicate")

    def _insert(self, fragment: dict, offset: tuple[float, float], verb: str) -> list[str]:
        try:
            nodes, edges = clipboard.prepare_insert(self.doc, fragment, offset)
        except ValueError as e:
            self.status.emit(f"Cannot {verb.lower()}: {e}")
            return []
        n = len(nodes)
        cmd = InsertFragmentCommand(self.doc, f"{verb} {n} layer{'s' if n != 1 else ''}",
                                    nodes, edges)
        ids = list(cmd.node_ids)
        self.undo_stack.push(cmd)
        return ids

    # ------------------------------------------------------------------ whole graph
    def auto_layout(self) -> None:
        if self.doc.nodes:
            self.undo_stack.push(AutoLayoutCommand(self.doc))
