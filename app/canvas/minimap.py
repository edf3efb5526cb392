"""Minimap: an overview in the canvas corner — every node as a small block in its category's
colour and the visible area as a frame; click or drag in it to look elsewhere.

It paints rectangles, not the scene, into a cached picture that is redrawn only on
``refresh()`` (graph or view changed); repaints of the canvas underneath just copy the picture.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

SIZE = (200, 130)
MARGIN = 12


class Minimap(QWidget):
    def __init__(self, view):
        super().__init__(view)
        self.view = view
        self.setFixedSize(*SIZE)
        self.setCursor(Qt.PointingHandCursor)
        self.setToolTip("Overview — click or drag to move the view")
        self._world = QRectF()
        self._dragging = False     # keep the mapping fixed while the user drags in the map
        self._picture: QPixmap | None = None

    def refresh(self) -> None:
        """The graph or the view changed: draw the picture afresh."""
        self._picture = None
        self.update()

    def place(self) -> None:
        """Keep to the bottom-right corner of the canvas."""
        vp = self.view.viewport().geometry()
        self.move(vp.right() - self.width() - MARGIN, vp.bottom() - self.height() - MARGIN)
        self.raise_()

    def _world_rect(self) -> QRectF:
        scene = self.view.scene()
        world = scene.nodes_rect().united(self.view.visible_scene_rect())
        return world.adjusted(-60, -60, 60, 60)

    def _transform(self):
        world = self._world
        inner = QRectF(self.rect()).adjusted(6, 6, -6, -6)
        s = min(inner.width() / max(world.width(), 1), inner.height() / max(world.height(), 1))
        ox = inner.left() + (inner.width() - world.width() * s) / 2 - world.left() * s
        oy = inner.top() + (inner.height() - world.height() * s) / 2 - world.top() * s
        return s, ox, oy

    def paintEvent(self, event) -> None:
        if self._picture is None or self._picture.size() != self.size():
            self._picture = self._draw()
        p = QPainter(self)
        p.drawPixmap(0, 0, self._picture)
        p.end()

    def _draw(self) -> QPixmap:
        scene = self.view.scene()
        theme = scene.theme
        if not self._dragging:
            self._world = self._world_rect()
        s, ox, oy = self._transform()
        picture = QPixmap(self.size())
        picture.fill(Qt.transparent)
        p = QPainter(picture)
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(QPen(QColor(theme.node_border), 1))
        p.setBrush(QColor(theme.minimap_bg))
        p.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        p.setPen(Qt.NoPen)
        for item in scene.node_items.values():
            r = item.sceneBoundingRect()
            color = QColor(theme.error) if item.card.error else \
                theme.category_color(item.card.category)
            p.setBrush(color)
            p.drawRect(QRectF(r.left() * s + ox, r.top() * s + oy,
                              max(2.0, r.width() * s), max(2.0, r.height() * s)))
        vis = self.view.visible_scene_rect()
        p.setPen(QPen(QColor(theme.selection), 1.4))
        p.setBrush(Qt.NoBrush)
        p.drawRect(QRectF(vis.left() * s + ox, vis.top() * s + oy, vis.width() * s,
                          vis.height() * s).intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1)))
        p.end()
        return picture

    def _to_scene(self, pos: QPointF) -> QPointF:
        s, ox, oy = self._transform()
        return QPointF((pos.x() - ox) / s, (pos.y() - oy) / s)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._dragging = True
        self.view.center_on(self._to_scene(event.position()))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.LeftButton:
            self.view.center_on(self._to_scene(event.position()))
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._dragging = False
        self.refresh()
        event.accept()
