"""EdgeItem: a bezier curve from an output port to an input port with the tensor shape on it.

The same item, without an edge, draws the rubber connection while the user drags from a port.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from engine.graph import Edge

LABEL_PAD = 4.0
# where along its curve an edge's label may sit, in order of preference (middle first)
LABEL_SPOTS = (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8)
Z_EDGE, Z_COVERED_EDGE, Z_RUBBER = 0.0, 1.5, 5.0     # nodes sit at 1
_label_font: list[QFont] = []


def label_font() -> QFont:
    if not _label_font:
        f = QFont()
        f.setPointSizeF(7.6)
        _label_font.append(f)
    return _label_font[0]


def bezier(start: QPointF, end: QPointF) -> QPainterPath:
    """A left-to-right S curve; it bows out further when the target is behind the source."""
    dx = end.x() - start.x()
    bend = max(40.0, abs(dx) * 0.5) if dx >= 0 else max(80.0, abs(dx) * 0.4)
    path = QPainterPath(start)
    path.cubicTo(QPointF(start.x() + bend, start.y()), QPointF(end.x() - bend, end.y()), end)
    return path


class EdgeItem(QGraphicsItem):
    """A connection; ``edge`` is None for the temporary one drawn during a drag."""

    def __init__(self, edge: Edge | None = None):
        super().__init__()
        self.edge = edge
        self.label = ""
        # the rubber edge: None, "valid" or "invalid"; a resting edge: "drop" while a layer
        # dragged from the palette would be inserted into it
        self.state: str | None = None
        self._start = QPointF()
        self._end = QPointF()
        self._path = QPainterPath()
        self._label_rect = QRectF()
        self._bounds = QRectF()
        self.label_spot = LABEL_SPOTS[0]
        if edge is not None:
            self.setFlag(QGraphicsItem.ItemIsSelectable)
        self.setZValue(Z_EDGE if edge is not None else Z_RUBBER)
        if edge is not None:      # a resting edge is a cached picture; moving re-renders it
            self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)

    def set_ends(self, start: QPointF, end: QPointF) -> None:
        if start == self._start and end == self._end and not self._path.isEmpty():
            return
        self.prepareGeometryChange()
        self._start, self._end = QPointF(start), QPointF(end)
        self._path = bezier(self._start, self._end)
        self._place_label()

    def set_label(self, text: str) -> None:
        if text != self.label:
            self.prepareGeometryChange()
            self.label = text
            self._place_label()
            self.update()

    def set_state(self, state: str | None) -> None:
        if state != self.state:
            self.state = state
            self.update()

    def avoid(self, obstacles: list[QRectF]) -> None:
        """Keep the label off these rectangles (the nodes near the curve)."""
        before = (QRectF(self._label_rect), self.zValue())
        self._place_label(obstacles)
        if (self._label_rect, self.zValue()) != before:
            self.prepareGeometryChange()
            self._bounds = self._bounds_now()
            self.update()

    @property
    def label_displaced(self) -> bool:
        """The label is not at the middle of the curve (a node was in the way)."""
        return self.label_spot != LABEL_SPOTS[0] or self.zValue() == Z_COVERED_EDGE

    def _label_at(self, t: float) -> QRectF:
        fm = QFontMetricsF(label_font())
        w = fm.horizontalAdvance(self.label) + 2 * LABEL_PAD
        h = fm.height() + 2
        p = self._path.pointAtPercent(t)
        return QRectF(p.x() - w / 2, p.y() - h / 2, w, h)

    def _place_label(self, obstacles: list[QRectF] | None = None) -> None:
        """The label at its spot along the curve; given ``obstacles``, at the first spot none
        of them covers — when every spot is covered, in the middle with the edge drawn above
        the nodes. (Dragging keeps the spot; the scene asks again when the drag ends.)"""
        if not self.label:
            self._label_rect = QRectF()
        elif obstacles is None:
            self._label_rect = self._label_at(self.label_spot)
        else:
            for t in LABEL_SPOTS:
                rect = self._label_at(t)
                if not any(rect.intersects(o) for o in obstacles):
                    self._label_rect, self.label_spot = rect, t
                    break
            else:
                self.label_spot = LABEL_SPOTS[0]
                self._label_rect = self._label_at(self.label_spot)
            if self.edge is not None:
                self.setZValue(Z_EDGE if self.label_spot != LABEL_SPOTS[0] or not any(
                    self._label_rect.intersects(o) for o in obstacles) else Z_COVERED_EDGE)
        self._bounds = self._bounds_now()

    def _bounds_now(self) -> QRectF:
        bounds = self._path.boundingRect()
        if not self._label_rect.isNull():
            bounds = bounds.united(self._label_rect)
        return bounds.adjusted(-4, -4, 4, 4)

    def label_rect(self) -> QRectF:
        """Where the shape label is drawn (scene coordinates; empty without a label)."""
        return QRectF(self._label_rect)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        shape = stroker.createStroke(self._path)
        if not self._label_rect.isNull():
            shape.addRect(self._label_rect)
        return shape

    def paint(self, p: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        theme = self.scene().theme
        p.setRenderHint(QPainter.Antialiasing)
        if self.edge is None:
            color = QColor({"valid": theme.valid, "invalid": theme.error}.get(
                self.state, theme.edge))
            pen = QPen(color, 2.0, Qt.DashLine)
        elif self.state == "drop":
            pen = QPen(QColor(theme.valid), 3.4)
        elif self.isSelected():
            pen = QPen(QColor(theme.edge_selected), 2.6)
        else:
            pen = QPen(QColor(theme.edge), 1.8)
        pen.setCapStyle(Qt.RoundCap)
        p.setPen(pen)
        p.setBrush(Qt.NoBrush)
        p.drawPath(self._path)
        if self.label and not self._label_rect.isNull():
            p.setPen(QPen(QColor(theme.edge_selected if self.isSelected() else theme.edge), 0.8))
            p.setBrush(QColor(theme.edge_label_bg))
            p.drawRoundedRect(self._label_rect, 4, 4)
            p.setFont(label_font())
            p.setPen(QColor(theme.edge_label_text))
            p.drawText(self._label_rect, Qt.AlignCenter, self.label)
