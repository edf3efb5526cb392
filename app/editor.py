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
from app.commands import (
    AddNodeCommand,
    AutoLayoutCommand,
    ConnectCommand,
    DeleteCommand,
    DisconnectCommand,
    InsertFragmentCommand,
    MoveNodesCommand,
    RenameCommand,
    SetParamCommand,
)
from engine.graph import Edge, GraphDocument
from engine.registry import coerce

PASTE_OFFSET = 40.0


class GraphEditor(QObject):
    status = Signal(str)                  # a one-line message for the status bar
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

    def connect(self, src: str, src_port: int, dst: str, dst_port: int | None) -> str | None:
        """Connect two ports; returns the reason when the connection is refused."""
        reason = self.doc.can_connect(src, dst, src_port, dst_port)
        if reason:
            self.status.emit(f"Cannot connect: {reason}")
            return reason
        error = self._push(ConnectCommand(self.doc, src, dst, src_port, dst_port))
        if not error:
            self.status.emit(f"Connected {self.doc.node(src).name} → {self.doc.node(dst).name}")
        return error

    def disconnect(self, edge: Edge) -> None:
        self.undo_stack.push(DisconnectCommand(self.doc, edge))

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
