"""PortItem: the dot on a node's side where connections start and end.

A port knows only which node and port index it stands for; pressing it forwards to the scene,
which runs the connection drag and asks the document whether a connection is allowed.
At rest the node draws its port dots (inside its cached picture); the port item paints itself
only while hovered or highlighted during a drag, so a repaint does not visit every port.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSceneMouseEvent, QStyleOptionGraphicsItem

PORT_RADIUS = 5.0


class PortItem(QGraphicsItem):
    """One input (``is_output`` False, left side) or output (right side) port of a node."""

    def __init__(self, node_id: str, index: int, is_output: bool, parent: QGraphicsItem):
        super().__init__(parent)
        self.node_id = node_id
        self.index = index
        self.is_output = is_output
        self.highlight: str | None = None     # None, "valid" or "invalid" during a drag
        self._hover = False
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CrossCursor)
        self.setZValue(2)
        self.setFlag(QGraphicsItem.ItemHasNoContents)

    def boundingRect(self) -> QRectF:
        r = PORT_RADIUS + 4
        return QRectF(-r, -r, 2 * r, 2 * r)

    def scene_anchor(self) -> QPointF:
        return self.scenePos()

    @property
    def connected(self) -> bool:
        card = self.parentItem().card
        flags = card.outputs if self.is_output else card.inputs
        return self.index < len(flags) and flags[self.index]

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        theme = self.scene().theme
        border = QColor({"valid": theme.valid, "invalid": theme.error}.get(
            self.highlight, theme.selection))
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(border, 1.8))
        fill = border if (self.connected or self.highlight == "valid") else QColor(theme.port_fill)
        painter.setBrush(QBrush(fill))
        painter.drawEllipse(QPointF(0, 0), PORT_RADIUS + 1.5, PORT_RADIUS + 1.5)

    def _sync_contents(self) -> None:
        self.setFlag(QGraphicsItem.ItemHasNoContents, not (self._hover or self.highlight))
        self.update()

    def set_highlight(self, state: str | None) -> None:
        if state != self.highlight:
            self.highlight = state
            self._sync_contents()

    def hoverEnterEvent(self, event) -> None:
        self._hover = True
        self._sync_contents()

    def hoverLeaveEvent(self, event) -> None:
        self._hover = False
        self._sync_contents()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.LeftButton:
            self.scene().begin_connection(self, event.scenePos())
            event.accept()
        else:
            event.ignore()
