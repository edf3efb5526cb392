"""GraphView: the canvas widget — zoom, pan, grid, rubber-band selection, drops from the
palette and Tab quick-add. It asks for nodes through ``add_requested``; it edits nothing itself.

Zoom: mouse wheel (under the cursor), Ctrl+= / Ctrl+- / Ctrl+0, fit to view. Pan: middle-button
drag, or hold Space and drag.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import QGraphicsView, QWidget

from app.canvas.minimap import Minimap
from app.canvas.notice import CanvasNotice
from app.canvas.quick_add import QuickAddPopup
from app.canvas.scene import GRID, GraphScene

LAYER_MIME = "application/x-layerloom-layer"
MIN_ZOOM, MAX_ZOOM = 0.1, 4.0
ZOOM_STEP = 1.2
READABLE_ZOOM = 0.75      # node text stays legible (8 pt → 6 pt); automatic fits stop here


class GraphView(QGraphicsView):
    add_requested = Signal(str, QPointF)       # layer type, scene position
    insert_requested = Signal(str, object, QPointF)   # layer type dropped on an Edge, where
    context_menu_requested = Signal(QPointF, QPoint)  # scene position, global position
    zoom_changed = Signal(float)

    def __init__(self, scene: GraphScene, parent: QWidget | None = None):
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing
                            | QPainter.SmoothPixmapTransform)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.DontSavePainterState)
        self.setCacheMode(QGraphicsView.CacheBackground)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFrameShape(QGraphicsView.NoFrame)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self._pan_from: QPointF | None = None
        self._space_down = False
        self.minimap = Minimap(self)
        self.notice = CanvasNotice(self.viewport())
        self.quick_add = QuickAddPopup(self)
        self.quick_add.chosen.connect(self._quick_add_chosen)
        self._quick_add_at = QPointF()
        self._quick_add_then = None       # what a choice in the popup does (None: add there)
        self._drop_edge = None            # the edge a palette drag hovers (highlighted)
        self.apply_theme()

    # ------------------------------------------------------------------ appearance
    def apply_theme(self) -> None:
        self.setBackgroundBrush(QColor(self.scene().theme.canvas_bg))
        self.resetCachedContent()
        self.minimap.refresh()
        self.viewport().update()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        theme = self.scene().theme
        painter.fillRect(rect, QColor(theme.canvas_bg))
        scale = self.zoom()
        for step, color in ((GRID, theme.grid_minor), (GRID * 5, theme.grid_major)):
            if step * scale < 7:
                continue
            pen = QPen(QColor(color), 0)
            painter.setPen(pen)
            left = math.floor(rect.left() / step) * step
            top = math.floor(rect.top() / step) * step
            x = left
            while x < rect.right():
                painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
                x += step
            y = top
            while y < rect.bottom():
                painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
                y += step

    def show_notice(self, text: str, scene_pos: QPointF | None = None) -> None:
        """A short message on the canvas, next to ``scene_pos`` when given."""
        at = self.mapFromScene(scene_pos) if scene_pos is not None else None
        self.notice.show_message(text, at, self.scene().theme)

    # ------------------------------------------------------------------ zoom
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, level: float, anchor: QPointF | None = None) -> None:
        level = min(MAX_ZOOM, max(MIN_ZOOM, level))
        factor = level / self.zoom()
        if abs(factor - 1.0) < 1e-9:
            return
        old_anchor = self.transformationAnchor()
        if anchor is None:
            self.setTransformationAnchor(QGraphicsView.AnchorViewCenter)
        self.scale(factor, factor)
        self.setTransformationAnchor(old_anchor)
        self.resetCachedContent()
        self.zoom_changed.emit(self.zoom())
        self.minimap.refresh()

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / ZOOM_STEP)

    def reset_zoom(self) -> None:
        self.set_zoom(1.0)

    def fit_all(self, margin: float = 40.0) -> None:
        """Zoom and scroll so every node is visible (never zooming in past 100%)."""
        self._fit_nodes(margin, MIN_ZOOM)

    def show_graph(self, margin: float = 40.0) -> None:
        """The view after an open or an auto-layout: the whole graph when it fits at a
        readable zoom, else its start (the inputs, left) at that zoom — the rest is a scroll
        away (minimap, middle-drag)."""
        self._fit_nodes(margin, READABLE_ZOOM)

    def _fit_nodes(self, margin: float, min_zoom: float) -> None:
        rect = self.scene().nodes_rect()
        if rect.isNull():               # an empty canvas: layers dropped on it are full size
            self.set_zoom(1.0)
            self.center_on(QPointF(0, 0))
            return
        self.fit_rect(rect.adjusted(-margin, -margin, margin, margin), max_zoom=1.0,
                      min_zoom=min_zoom)

    def free_area(self, rect: QRectF) -> QRectF:
        """Where in the viewport ``rect`` (scene) can be shown largest without the minimap
        covering it: the whole viewport, or the part beside or above the minimap."""
        view = QRectF(self.viewport().rect())
        if self.minimap.isHidden():
            return view
        mini = QRectF(self.minimap.geometry())
        areas = [QRectF(view.left(), view.top(), mini.left() - view.left(), view.height()),
                 QRectF(view.left(), view.top(), view.width(), mini.top() - view.top())]
        return max(areas, key=lambda a: (min(a.width() / rect.width(),
                                             a.height() / rect.height()),
                                         a.width() * a.height()))

    def fit_rect(self, rect: QRectF, max_zoom: float = MAX_ZOOM,
                 min_zoom: float = MIN_ZOOM) -> None:
        """Show ``rect`` (scene) as large as fits beside the minimap, between the zooms; a
        rect too big at ``min_zoom`` shows its top-left part."""
        if rect.width() <= 0 or rect.height() <= 0 or self.viewport().width() <= 0:
            return
        area = self.free_area(rect)
        if area.width() <= 0 or area.height() <= 0:
            area = QRectF(self.viewport().rect())
        level = min(area.width() / rect.width(), area.height() / rect.height(), max_zoom)
        level = max(level, min_zoom)
        self.set_zoom(level)
        level = self.zoom()
        # the scene point that should sit at the middle of the free area
        half_w, half_h = area.width() / (2 * level), area.height() / (2 * level)
        cx = rect.center().x() if rect.width() / 2 <= half_w else rect.left() + half_w
        cy = rect.center().y() if rect.height() / 2 <= half_h else rect.top() + half_h
        shift = (QRectF(self.viewport().rect()).center() - area.center()) / level
        self.center_on(QPointF(cx, cy) + shift)

    def center_on(self, point: QPointF) -> None:
        self.centerOn(point)
        self.minimap.refresh()

    def reveal(self, rect: QRectF, margin: int = 40) -> None:
        """Scroll as little as needed to show ``rect`` (scene), e.g. a layer just added."""
        self.ensureVisible(rect, margin, margin)
        self.minimap.refresh()

    def view_center(self) -> QPointF:
        """The scene point in the middle of the visible area."""
        return self.mapToScene(self.viewport().rect().center())

    def visible_scene_rect(self) -> QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect()

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if delta == 0:
            return
        self.set_zoom(self.zoom() * (ZOOM_STEP ** (delta / 120.0)), anchor=event.position())
        event.accept()

    # ------------------------------------------------------------------ panning
    def _pan_by(self, delta: QPointF) -> None:
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
        self.minimap.refresh()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MiddleButton or (
                event.button() == Qt.LeftButton and self._space_down):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_by(event.position() - self._pan_from)
            self._pan_from = event.position()
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (Qt.MiddleButton, Qt.LeftButton):
            self._pan_from = None
            self.viewport().setCursor(Qt.OpenHandCursor if self._space_down else Qt.ArrowCursor)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.minimap.refresh()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.minimap.place()

    # ------------------------------------------------------------------ keys
    def event(self, event) -> bool:
        # Tab would move the focus to the next widget; on the canvas it opens quick-add.
        if event.type() == event.Type.KeyPress and event.key() == Qt.Key_Tab:
            self.open_quick_add()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self._pan_from = None
            self.viewport().setCursor(Qt.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # ------------------------------------------------------------------ adding layers
    def open_quick_add(self, scene_pos: QPointF | None = None, then=None,
                       exclude=frozenset()) -> None:
        """Type-to-add popup at ``scene_pos`` (default: the mouse cursor, or the view centre).
        The chosen type goes to ``then(type_name, scene_pos)``, or is added there."""
        if scene_pos is None:
            local = self.viewport().mapFromGlobal(self.cursor().pos())
            if not self.viewport().rect().contains(local):
                local = self.viewport().rect().center()
            scene_pos = self.mapToScene(local)
        self._quick_add_at = QPointF(scene_pos)
        self._quick_add_then = then
        self.quick_add.popup(self.viewport().mapToGlobal(self.mapFromScene(scene_pos)), exclude)

    def _quick_add_chosen(self, type_name: str) -> None:
        then, self._quick_add_then = self._quick_add_then, None
        if then is not None:
            then(type_name, self._quick_add_at)
        else:
            self.add_requested.emit(type_name, self._quick_add_at)

    def contextMenuEvent(self, event) -> None:
        self.context_menu_requested.emit(self.mapToScene(event.pos()), event.globalPos())
        event.accept()

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(LAYER_MIME):
            self._hover_edge(self.scene().edge_item_at(
                self.mapToScene(event.position().toPoint())))
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dragLeaveEvent(self, event) -> None:
        self._hover_edge(None)
        super().dragLeaveEvent(event)

    def _hover_edge(self, item) -> None:
        """Highlight the connection a dragged layer would be inserted into."""
        if item is self._drop_edge:
            return
        if self._drop_edge is not None and self._drop_edge.scene() is self.scene():
            self._drop_edge.set_state(None)
        self._drop_edge = item
        if item is not None:
            item.set_state("drop")

    def dropEvent(self, event) -> None:
        if event.mimeData().hasFormat(LAYER_MIME):
            type_name = bytes(event.mimeData().data(LAYER_MIME)).decode("utf-8")
            pos = self.mapToScene(event.position().toPoint())
            edge_item = self.scene().edge_item_at(pos)
            self._hover_edge(None)
            if edge_item is not None:
                self.insert_requested.emit(type_name, edge_item.edge, pos)
            else:
                self.add_requested.emit(type_name, pos)
            event.acceptProposedAction()
        else:
            super().dropEvent(event)
