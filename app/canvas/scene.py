"""GraphScene: keeps one NodeItem per node and one EdgeItem per edge of a GraphDocument.

The scene follows the document's events (items appear, vanish, move and redraw when the
document says so) and turns gestures into requests — ``connect_requested`` after a drag from
port to port, ``nodes_moved`` when a drag of nodes ends — that the editor makes undoable.
Card and label refreshes after an edit are coalesced into one pass on the next event-loop turn
(``flush()`` runs a pending pass at once).
"""
from __future__ import annotations

from collections import defaultdict

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSceneMouseEvent

from app.canvas.edge_item import EdgeItem
from app.canvas.node_card import compact_shape, node_card, port_wiring
from app.canvas.node_item import NodeItem
from app.canvas.port_item import PortItem
from app.theme import LIGHT, Theme
from engine.graph import Edge, GraphDocument

GRID = 20.0
SCENE_EXTENT = 100000.0
ANY_PORT = -1
MIN_PORT_DRAG = 16.0       # a port pressed and let go in place is no drag into the canvas


class ConnectionDrag:
    """State of a drag from a port: where it started and what is under the cursor."""

    def __init__(self, port: PortItem, rubber: EdgeItem):
        self.port = port
        self.rubber = rubber
        self.target: tuple[str, int | None] | None = None   # (node id, port or None)
        self.target_port: PortItem | None = None
        self.reason: str | None = None

    def endpoints(self, target: tuple[str, int | None]) -> tuple[str, int, str, int | None]:
        """(src, src_port, dst, dst_port) whichever side the drag started from."""
        if self.port.is_output:
            return self.port.node_id, self.port.index, target[0], target[1]
        return target[0], target[1] or 0, self.port.node_id, self.port.index


class GraphScene(QGraphicsScene):
    connect_requested = Signal(str, int, str, int)    # src, src_port, dst, dst_port (-1: any)
    nodes_moved = Signal(dict)                        # node id -> (old, new) position
    node_double_clicked = Signal(str)
    port_released = Signal(str, int, bool, QPointF)   # a port dragged into empty canvas
    status_message = Signal(str)
    refreshed = Signal()

    def __init__(self, theme: Theme = LIGHT, parent=None):
        super().__init__(parent)
        self.theme = theme
        self.doc: GraphDocument | None = None
        self.node_items: dict[str, NodeItem] = {}
        self.edge_items: dict[Edge, EdgeItem] = {}
        self._edges_of: dict[str, set[Edge]] = defaultdict(set)
        self.snap_enabled = True
        self._placing = False
        self._drag: ConnectionDrag | None = None
        self.last_drop: QPointF | None = None      # where the last connection drag ended
        self._stale: set[str] = set()          # nodes an event named since the last refresh
        self._relabel_edges: set[Edge] = set()     # edge labels to place again at refresh
        self._relabel_rects: list[QRectF] = []     # and where nodes came, went or moved
        self._shown_info: dict[str, object] = {}   # NodeInfo each card was drawn from
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        self.setSceneRect(-SCENE_EXTENT / 2, -SCENE_EXTENT / 2, SCENE_EXTENT, SCENE_EXTENT)
        self.setItemIndexMethod(QGraphicsScene.NoIndex)

    # ------------------------------------------------------------------ document binding
    def set_document(self, doc: GraphDocument) -> None:
        if self.doc is not None:
            self.doc.unsubscribe(self._on_event)
        self._cancel_drag()
        self.clear()
        self.node_items.clear()
        self.edge_items.clear()
        self._relabel_edges.clear()
        self._relabel_rects.clear()
        self._edges_of.clear()
        self._shown_info.clear()
        self.doc = doc
        doc.subscribe(self._on_event)
        for node in doc.nodes.values():
            self._add_node_item(node)
        for edge in doc.edges:
            self._add_edge_item(edge)
        self.refresh()

    def detach(self) -> None:
        """Stop following the document (the window is closing)."""
        if self.doc is not None:
            self.doc.unsubscribe(self._on_event)
            self.doc = None

    def _on_event(self, event: str, payload: dict) -> None:
        if event == "node_added":
            self._add_node_item(payload["node"])
            self._stale.add(payload["node"].id)
        elif event == "node_removed":
            self._remove_node_item(payload["node_id"])
        elif event in ("edge_added", "edge_removed"):
            edge = payload["edge"]
            self._stale.update((edge.src, edge.dst))       # port count and dots change
            if event == "edge_added":
                self._add_edge_item(edge)
            else:
                self._remove_edge_item(edge)
        elif event in ("param_changed", "renamed"):
            self._stale.add(payload["node_id"])
        elif event == "moved":
            nid = payload["node_id"]
            self._place(nid, payload["position"])
            if nid in self.node_items:
                self._relabel_rects.append(self.node_items[nid].sceneBoundingRect())
                self._relabel_edges.update(self._edges_of.get(nid, ()))
        elif event == "reset":
            self.set_document(self.doc)
            return
        self._refresh_timer.start()

    def _add_node_item(self, node) -> None:
        item = NodeItem(node_card(self.doc, node.id))
        self.node_items[node.id] = item
        self.addItem(item)
        self._place(node.id, node.position)
        self._relabel_rects.append(item.sceneBoundingRect())

    def _remove_node_item(self, node_id: str) -> None:
        item = self.node_items.pop(node_id, None)
        self._shown_info.pop(node_id, None)
        for edge in list(self._edges_of.pop(node_id, ())):
            self._remove_edge_item(edge)
        if item is not None:
            self._relabel_rects.append(item.sceneBoundingRect())
            self.removeItem(item)

    def _add_edge_item(self, edge: Edge) -> None:
        for nid in (edge.src, edge.dst):          # ports may have to appear first
            self._refresh_node(nid)
        item = EdgeItem(edge)
        self.edge_items[edge] = item
        self._edges_of[edge.src].add(edge)
        self._edges_of[edge.dst].add(edge)
        self.addItem(item)
        self._route(item)
        self._relabel_edges.add(edge)

    def _remove_edge_item(self, edge: Edge) -> None:
        item = self.edge_items.pop(edge, None)
        for nid in (edge.src, edge.dst):
            self._edges_of.get(nid, set()).discard(edge)
        if item is not None:
            self.removeItem(item)

    def _place(self, node_id: str, position) -> None:
        item = self.node_items.get(node_id)
        if item is not None and (item.pos().x(), item.pos().y()) != tuple(position):
            self._placing = True
            try:
                item.setPos(QPointF(*position))
            finally:
                self._placing = False

    # ------------------------------------------------------------------ refresh
    def _refresh_node(self, node_id: str, wiring=None) -> None:
        item = self.node_items.get(node_id)
        if item is not None and node_id in self.doc.nodes:
            item.set_card(node_card(self.doc, node_id, wiring))

    def refresh(self) -> None:
        """Redraw the cards, ports and edge labels that changed: nodes an event named and
        nodes whose inference result is a different object (the document memoizes results,
        so an untouched node keeps its NodeInfo)."""
        self._refresh_timer.stop()
        if self.doc is None:
            return
        info = self.doc.info
        changed = {nid for nid in self.node_items
                   if nid in self._stale or info.get(nid) is not self._shown_info.get(nid)}
        self._stale.clear()
        if changed:
            wiring = port_wiring(self.doc)
            for nid in changed:
                self._refresh_node(nid, wiring)
                self._shown_info[nid] = info.get(nid)
            edges = {e for nid in changed for e in self._edges_of.get(nid, ())}
            for edge in edges:
                item = self.edge_items.get(edge)
                if item is not None:
                    item.set_label(self.edge_label(edge))
                    self._route(item)
                    self._relabel_edges.add(edge)
        self._relabel()
        self.refreshed.emit()

    def flush(self) -> None:
        """Run a pending refresh now (tests and screenshots call this)."""
        if self._refresh_timer.isActive():
            self.refresh()

    def edge_label(self, edge: Edge) -> str:
        info = self.doc.info.get(edge.src)
        if info is None or info.error or edge.src_port >= len(info.output_shapes):
            return ""
        return compact_shape(info.output_shapes[edge.src_port])

    def _route(self, item: EdgeItem) -> None:
        e = item.edge
        src, dst = self.node_items.get(e.src), self.node_items.get(e.dst)
        if src is None or dst is None:
            return
        item.set_ends(self._anchor(src, True, e.src_port), self._anchor(dst, False, e.dst_port))

    def _relabel(self) -> None:
        """Move edge labels off the node cards in their way: labels of new or re-labelled
        edges, labels over a node that came, went or moved, and labels that stood aside
        before (the node may have gone). Runs with the coalesced refresh, not per drag step."""
        rects, edges = self._relabel_rects, self._relabel_edges
        self._relabel_rects, self._relabel_edges = [], set()
        if not rects and not edges:
            return
        cards = [n.sceneBoundingRect() for n in self.node_items.values()]
        for edge, item in self.edge_items.items():
            if item.label and (edge in edges or item.label_displaced or
                               any(item.label_rect().intersects(r) for r in rects)):
                near = item.boundingRect().adjusted(-20, -20, 20, 20)
                item.avoid([r for r in cards if r.intersects(near)])

    @staticmethod
    def _anchor(item: NodeItem, is_output: bool, index: int) -> QPointF:
        port = item.port(is_output, index) or item.port(is_output, 0)
        if port is not None:
            return port.scenePos()
        rect = item.sceneBoundingRect()
        return QPointF(rect.right() if is_output else rect.left(), rect.center().y())

    def node_item_moved(self, item: NodeItem) -> None:
        """Called by a NodeItem whenever it moves: re-route its edges."""
        for edge in self._edges_of.get(item.node_id, ()):
            edge_item = self.edge_items.get(edge)
            if edge_item is not None:
                self._route(edge_item)

    def snap(self, pos: QPointF) -> QPointF:
        """Where a dragged node lands: on the grid when snapping is on."""
        if not self.snap_enabled or self._placing:
            return pos
        return QPointF(round(pos.x() / GRID) * GRID, round(pos.y() / GRID) * GRID)

    # ------------------------------------------------------------------ appearance
    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        for item in self.items():
            item.update()
        self.update()

    def set_alert(self, node_id: str, message: str | None) -> None:
        """Mark a node (e.g. the first layer whose output went non-finite); None clears."""
        item = self.node_items.get(node_id)
        if item is not None:
            item.set_alert(message)

    def clear_alerts(self) -> None:
        for item in self.node_items.values():
            if item.alert:
                item.set_alert(None)

    # ------------------------------------------------------------------ selection
    def selected_node_ids(self) -> list[str]:
        chosen = {i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)}
        return [nid for nid in self.doc.nodes if nid in chosen] if self.doc else []

    def selected_edges(self) -> list[Edge]:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem) and i.edge]

    def select_nodes(self, node_ids) -> None:
        wanted = set(node_ids)
        self.clearSelection()
        for nid in wanted:
            item = self.node_items.get(nid)
            if item is not None:
                item.setSelected(True)

    def select_all(self) -> None:
        for item in list(self.node_items.values()) + list(self.edge_items.values()):
            item.setSelected(True)

    def item_at(self, pos: QPointF):
        """The NodeItem or (resting) EdgeItem under ``pos``, nodes first; None: empty canvas."""
        probe = QRectF(pos.x() - 3, pos.y() - 3, 6, 6)
        hits = [i for i in self.items(probe, Qt.IntersectsItemShape, Qt.DescendingOrder)
                if isinstance(i, NodeItem) or (isinstance(i, EdgeItem) and i.edge is not None)]
        return next((i for i in hits if isinstance(i, NodeItem)), hits[0] if hits else None)

    def edge_item_at(self, pos: QPointF) -> EdgeItem | None:
        """The connection under ``pos`` when no node is there."""
        item = self.item_at(pos)
        return item if isinstance(item, EdgeItem) else None

    def nodes_rect(self, node_ids=None) -> QRectF:
        """Bounding rectangle of the given nodes (all nodes when None) in scene coordinates."""
        rect = QRectF()
        for nid, item in self.node_items.items():
            if node_ids is None or nid in node_ids:
                rect = rect.united(item.sceneBoundingRect())
        return rect

    # ------------------------------------------------------------------ connection drag
    def begin_connection(self, port: PortItem, scene_pos: QPointF) -> None:
        """Called by a PortItem when the user presses it: start a rubber connection."""
        self._cancel_drag()
        rubber = EdgeItem(None)
        self.addItem(rubber)
        self._drag = ConnectionDrag(port, rubber)
        self._update_drag(scene_pos)

    def _update_drag(self, pos: QPointF) -> None:
        d = self._drag
        start = d.port.scenePos()
        if d.port.is_output:
            d.rubber.set_ends(start, pos)
        else:
            d.rubber.set_ends(pos, start)
        target, target_port = self._target_at(pos, d.port)
        if d.target_port is not None and d.target_port is not target_port:
            d.target_port.set_highlight(None)
        d.target, d.target_port, d.reason = target, target_port, None
        if target is None:
            d.rubber.set_state(None)
            return
        src, sp, dst, dp = d.endpoints(target)
        # on a port (not a node's body) an existing connection gives way to the new one
        d.reason = self.doc.can_connect(src, dst, sp, dp, replacing=dp is not None)
        d.rubber.set_state("invalid" if d.reason else "valid")
        if target_port is not None:
            target_port.set_highlight("invalid" if d.reason else "valid")
        old = self.doc.edge_into(dst, dp) if dp is not None else None
        names = f"{self.doc.node(src).name} → {self.doc.node(dst).name}"
        self.status_message.emit(
            f"Cannot connect: {d.reason}" if d.reason else
            f"Connect {names} (replaces {self.doc.node(old.src).name} → "
            f"{self.doc.node(dst).name})" if old and old.src != src else f"Connect {names}")

    def _target_at(self, pos: QPointF, origin: PortItem):
        """The port (or node, meaning its first free port) under ``pos`` that the drag could
        end on."""
        probe = QRectF(pos.x() - 8, pos.y() - 8, 16, 16)
        node_hit = None
        for item in self.items(probe, Qt.IntersectsItemShape, Qt.DescendingOrder):
            if isinstance(item, PortItem) and item.is_output != origin.is_output:
                return (item.node_id, item.index), item
            if node_hit is None and isinstance(item, NodeItem) and item.contains(
                    item.mapFromScene(pos)):
                node_hit = item
        if node_hit is not None:
            return (node_hit.node_id, None), None
        return None, None

    def _finish_drag(self, pos: QPointF) -> None:
        d = self._drag
        target = d.target
        self.last_drop = QPointF(pos)
        self._cancel_drag()
        if target is None:
            self.status_message.emit("")
            dragged = (pos - d.port.scenePos()).manhattanLength() > MIN_PORT_DRAG
            if dragged and not any(isinstance(i, NodeItem) for i in self.items(pos)):
                self.port_released.emit(d.port.node_id, d.port.index, d.port.is_output, pos)
            return
        src, sp, dst, dp = d.endpoints(target)
        self.connect_requested.emit(src, sp, dst, ANY_PORT if dp is None else dp)

    def _cancel_drag(self) -> None:
        d, self._drag = self._drag, None
        if d is None:
            return
        if d.target_port is not None:
            d.target_port.set_highlight(None)
        self.removeItem(d.rubber)

    # ------------------------------------------------------------------ mouse
    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._drag is not None:
            self._update_drag(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._drag is not None and event.button() == Qt.LeftButton:
            self._update_drag(event.scenePos())
            self._finish_drag(event.scenePos())
            super().mouseReleaseEvent(event)
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.LeftButton:
            self.commit_moves()

    def commit_moves(self) -> None:
        """Report nodes whose item stands somewhere else than the document says."""
        if self.doc is None:
            return
        moves = {}
        for nid, item in self.node_items.items():
            node = self.doc.nodes.get(nid)
            new = (item.pos().x(), item.pos().y())
            if node is not None and tuple(node.position) != new:
                moves[nid] = (tuple(node.position), new)
        if moves:
            self.nodes_moved.emit(moves)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key_Escape and self._drag is not None:
            self._cancel_drag()
            event.accept()
            return
        super().keyPressEvent(event)
