"""NodeItem: draws one layer node as a card and forwards the user's gestures to the scene.

The card shows a coloured header (category glyph and layer type), the layer's name, its key
parameters, and a footer with the output shape and parameter count — or the error, with a red
outline and the message as tooltip. What to show comes from a NodeCard computed from the
document; the item keeps no graph state (its position while dragging is committed by the scene).
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from app.canvas.node_card import NodeCard
from app.canvas.port_item import PORT_RADIUS, PortItem
from app.icons import draw_glyph

WIDTH = 168.0
HEADER = 24.0
NAME_H = 20.0
ROW_H = 16.0
FOOTER = 22.0
PAD = 6.0
RADIUS = 7.0

_fonts: dict[str, QFont] = {}


def font(kind: str) -> QFont:
    """Fonts shared by all cards (created on first use, after the QApplication exists)."""
    if not _fonts:
        base = QFont()
        header = QFont(base)
        header.setPointSizeF(8.6)
        header.setBold(True)
        name = QFont(base)
        name.setPointSizeF(9.2)
        name.setBold(True)
        small = QFont(base)
        small.setPointSizeF(8.0)
        _fonts.update(header=header, name=name, small=small)
    return _fonts[kind]


def card_height(card: NodeCard) -> float:
    return HEADER + PAD + NAME_H + ROW_H * len(card.rows) + PAD + FOOTER


class NodeItem(QGraphicsItem):
    def __init__(self, card: NodeCard):
        super().__init__()
        self.node_id = card.node_id
        self.card = card
        self.alert: str | None = None        # e.g. "output went non-finite" from training
        self.ports_in: list[PortItem] = []
        self.ports_out: list[PortItem] = []
        self._height = card_height(card)
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self._sync_ports()
        self._sync_tooltip()

    # ------------------------------------------------------------------ content
    def set_card(self, card: NodeCard) -> None:
        if card == self.card:
            return
        height = card_height(card)
        if height != self._height:
            self.prepareGeometryChange()
            self._height = height
        self.card = card
        self._sync_ports()
        self._sync_tooltip()
        self.update()

    def set_alert(self, message: str | None) -> None:
        """Mark the node (training found a problem here); None clears the mark."""
        self.alert = message
        self._sync_tooltip()
        self.update()

    def _sync_tooltip(self) -> None:
        c = self.card
        lines = [f"<b>{c.name}</b> ({c.type_name})", c.help]
        if c.error:
            lines.append(f"<span style='color:#d93636'>⚠ {c.error}</span>")
        if self.alert:
            lines.append(f"<span style='color:#e08a1e'>⚠ {self.alert}</span>")
        self.setToolTip("<br>".join(lines))

    def _sync_ports(self) -> None:
        for ports, want, is_out in ((self.ports_in, self.card.n_inputs, False),
                                    (self.ports_out, self.card.n_outputs, True)):
            while len(ports) > want:
                port = ports.pop()
                port.setParentItem(None)
                if port.scene() is not None:
                    port.scene().removeItem(port)
            while len(ports) < want:
                ports.append(PortItem(self.node_id, len(ports), is_out, self))
            x = WIDTH if is_out else 0.0
            top, bottom = HEADER, self._height - FOOTER
            for i, port in enumerate(ports):
                port.setPos(x, top + (bottom - top) * (i + 1) / (len(ports) + 1))

    def port(self, is_output: bool, index: int) -> PortItem | None:
        ports = self.ports_out if is_output else self.ports_in
        return ports[index] if 0 <= index < len(ports) else None

    # ------------------------------------------------------------------ drawing
    def boundingRect(self) -> QRectF:
        m = PORT_RADIUS + 2
        return QRectF(-m, -3, WIDTH + 2 * m, self._height + 8)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, WIDTH, self._height), RADIUS, RADIUS)
        return path

    def paint(self, p: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        theme = self.scene().theme
        c = self.card
        rect = QRectF(0, 0, WIDTH, self._height)
        p.setRenderHint(QPainter.Antialiasing)
        p.setRenderHint(QPainter.TextAntialiasing)
        body = QPainterPath()
        body.addRoundedRect(rect, RADIUS, RADIUS)
        p.setPen(Qt.NoPen)
        for k, alpha in ((3.0, 14), (1.5, 22)):       # soft drop shadow
            p.setBrush(QColor(0, 0, 0, alpha * (3 if theme.is_dark else 1)))
            p.drawRoundedRect(rect.translated(0, k), RADIUS + 1, RADIUS + 1)
        p.fillPath(body, QColor(theme.node_fill))

        # header band in the category colour, footer band in a muted fill
        p.save()
        p.setClipPath(body)
        p.fillRect(QRectF(0, 0, WIDTH, HEADER), theme.category_color(c.category))
        p.fillRect(QRectF(0, self._height - FOOTER, WIDTH, FOOTER), QColor(theme.node_footer))
        p.restore()
        draw_glyph(p, QRectF(7, 5, 14, 14), c.category, width=1.4)
        p.setFont(font("header"))
        p.setPen(QColor("#ffffff"))
        room = WIDTH - (50 if c.error or self.alert else 32)
        p.drawText(QRectF(26, 0, room, HEADER), Qt.AlignVCenter | Qt.AlignLeft,
                   QFontMetricsF(font("header")).elidedText(c.type_name, Qt.ElideRight, room))
        if c.error or self.alert:
            self._draw_badge(p, QColor(theme.error if c.error else theme.warning))

        # name and key parameters
        y = HEADER + PAD
        p.setFont(font("name"))
        p.setPen(QColor(theme.node_text))
        fm = QFontMetricsF(font("name"))
        p.drawText(QRectF(10, y, WIDTH - 20, NAME_H), Qt.AlignVCenter | Qt.AlignLeft,
                   fm.elidedText(c.name, Qt.ElideRight, WIDTH - 20))
        y += NAME_H
        small = font("small")
        fm = QFontMetricsF(small)
        p.setFont(small)
        inner = WIDTH - 20
        for label, value in c.rows:
            # the value keeps what it needs (up to all but 60 px); the label gets the rest
            value = fm.elidedText(value, Qt.ElideLeft, inner - 60)
            room = inner - fm.horizontalAdvance(value) - 6
            p.setPen(QColor(theme.node_dim_text))
            p.drawText(QRectF(10, y, room, ROW_H), Qt.AlignVCenter | Qt.AlignLeft,
                       fm.elidedText(label, Qt.ElideRight, room))
            p.setPen(QColor(theme.node_text))
            p.drawText(QRectF(10, y, inner, ROW_H), Qt.AlignVCenter | Qt.AlignRight, value)
            y += ROW_H

        # footer: output shape and parameter count, or the error
        foot = QRectF(10, self._height - FOOTER, WIDTH - 20, FOOTER)
        if c.error:
            p.setPen(QColor(theme.error))
            p.drawText(foot, Qt.AlignVCenter | Qt.AlignLeft,
                       fm.elidedText("⚠ " + c.error, Qt.ElideRight, foot.width()))
        elif c.pending:
            p.setPen(QColor(theme.node_dim_text))
            p.drawText(foot, Qt.AlignVCenter | Qt.AlignLeft, "running its code…")
        else:
            count = f"{c.params:,} params" if c.params else "no params"
            shape = c.shape_text or "?"
            if fm.horizontalAdvance(shape) + fm.horizontalAdvance(count) + 8 > foot.width():
                count = f"{compact_count(c.params)} params"
            room = foot.width() - fm.horizontalAdvance(count) - 8
            p.setPen(QColor(theme.node_text))
            p.drawText(foot, Qt.AlignVCenter | Qt.AlignLeft,
                       fm.elidedText(shape, Qt.ElideRight, room))
            p.setPen(QColor(theme.node_dim_text))
            p.drawText(foot, Qt.AlignVCenter | Qt.AlignRight, count)

        # outline: selection beats error beats plain
        if self.isSelected():
            pen = QPen(QColor(theme.selection), 2.4)
        elif c.error:
            pen = QPen(QColor(theme.error), 2.2)
        elif self.alert:
            pen = QPen(QColor(theme.warning), 2.2)
        else:
            pen = QPen(QColor(theme.node_border), 1.0)
        p.setPen(pen)
        p.setBrush(Qt.NoBrush)
        p.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)
        if self.isSelected() and c.error:
            p.setPen(QPen(QColor(theme.error), 1.2, Qt.DashLine))
            p.drawRoundedRect(rect.adjusted(2.5, 2.5, -2.5, -2.5), RADIUS - 2, RADIUS - 2)
        self._draw_ports(p, theme)

    def _draw_ports(self, p: QPainter, theme) -> None:
        """The port dots at rest (a hovered or highlighted PortItem paints over its dot)."""
        border = QColor(theme.port_border)
        p.setPen(QPen(border, 1.6))
        for ports, flags in ((self.ports_in, self.card.inputs),
                             (self.ports_out, self.card.outputs)):
            for port, connected in zip(ports, flags):
                p.setBrush(border if connected else QColor(theme.port_fill))
                p.drawEllipse(port.pos(), PORT_RADIUS, PORT_RADIUS)

    def _draw_badge(self, p: QPainter, color: QColor) -> None:
        center = QPointF(WIDTH - 14, HEADER / 2)
        p.setPen(Qt.NoPen)
        p.setBrush(QColor("#ffffff"))
        p.drawEllipse(center, 7, 7)
        p.setPen(color)
        p.setFont(font("header"))
        p.drawText(QRectF(center.x() - 7, center.y() - 7, 14, 14), Qt.AlignCenter, "!")

    # ------------------------------------------------------------------ events
    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value):
        scene = self.scene()
        if scene is not None:
            if change == QGraphicsItem.ItemPositionChange:
                return scene.snap(value)
            if change == QGraphicsItem.ItemPositionHasChanged:
                scene.node_item_moved(self)
        return super().itemChange(change, value)

    def mouseDoubleClickEvent(self, event) -> None:
        self.scene().node_double_clicked.emit(self.node_id)
        event.accept()


def compact_count(n: int) -> str:
    """1,280,000 → ``1.28M``, 131,584 → ``132k``, 129 → ``129`` (for a crowded footer)."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            v = n / size
            return f"{v:.3g}{unit}"
    return str(n)
