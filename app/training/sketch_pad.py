"""A square pad to draw on with the mouse (or a pen): light strokes on a dark ground, like the
MNIST digits. ``changed`` is emitted on every stroke segment; ``pixels()`` gives the drawing as
a uint8 (H, W) array. Backspace / Delete clears, Ctrl+Z takes back the last stroke."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

RESOLUTION = 280            # the drawing's pixels (10× MNIST): shrunk when it is used
PEN_WIDTH = 22.0            # in drawing pixels, about an MNIST stroke after shrinking


class SketchPad(QWidget):
    changed = Signal()          # every new segment of a stroke, and clear/undo
    stroke_finished = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("sketch_pad")
        self.setAccessibleName("Drawing pad")
        self.setToolTip("Draw with the mouse. Backspace clears, Ctrl+Z undoes a stroke.")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.pen_width = PEN_WIDTH
        self._strokes: list[list[QPointF]] = []
        self._image = QImage(RESOLUTION, RESOLUTION, QImage.Format.Format_Grayscale8)
        self._image.fill(0)
        self._display = QImage(1, 1, QImage.Format.Format_Grayscale8)   # sized on resize
        self._drawing = False

    def sizeHint(self) -> QSize:
        return QSize(240, 240)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, w: int) -> int:
        return w

    # ------------------------------------------------------------ geometry
    def _square(self):
        side = min(self.width(), self.height())
        return (self.width() - side) // 2, (self.height() - side) // 2, max(side, 1)

    def _to_image(self, pos: QPointF) -> QPointF:
        x0, y0, side = self._square()
        f = RESOLUTION / side
        return QPointF((pos.x() - x0) * f, (pos.y() - y0) * f)

    # ------------------------------------------------------------ drawing
    # Strokes are drawn twice: into the RESOLUTION² image the network is given, and into an
    # image of the widget's own size that paintEvent copies 1:1 (scaling the whole drawing
    # for every paint cost more than the rest of a stroke together).
    def _painters(self):
        for image, f in ((self._image, 1.0), (self._display, self._display.width() / RESOLUTION)):
            p = QPainter(image)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(QPen(QColor(255, 255, 255), self.pen_width * f, Qt.PenStyle.SolidLine,
                          Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
            p.scale(f, f)
            yield p

    def _paint_segment(self, a: QPointF, b: QPointF) -> None:
        for p in self._painters():
            if a == b:
                p.drawPoint(a)
            else:
                p.drawLine(a, b)
            p.end()
        x0, y0, side = self._square()
        f = side / RESOLUTION
        r = self.pen_width * f
        dirty = QRectF(QPointF(a.x() * f, a.y() * f), QPointF(b.x() * f, b.y() * f))
        self.update(dirty.normalized().adjusted(x0 - r, y0 - r, x0 + r, y0 + r).toRect())

    def _redraw(self) -> None:
        side = self._square()[2]
        self._image.fill(0)
        self._display = QImage(side, side, QImage.Format.Format_Grayscale8)
        self._display.fill(0)
        for p in self._painters():
            for stroke in self._strokes:
                if len(stroke) == 1:
                    p.drawPoint(stroke[0])
                    continue
                path = QPainterPath(stroke[0])
                for pt in stroke[1:]:
                    path.lineTo(pt)
                p.drawPath(path)
            p.end()
        self.update()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._redraw()

    def add_point(self, pos: QPointF, new_stroke: bool = False) -> None:
        """Extend the drawing to ``pos`` (drawing pixels), or start a stroke there."""
        if new_stroke or not self._strokes:
            self._strokes.append([pos])
            self._paint_segment(pos, pos)
        else:
            last = self._strokes[-1][-1]
            self._strokes[-1].append(pos)
            self._paint_segment(last, pos)
        self.update()
        self.changed.emit()

    def clear(self) -> None:
        self._strokes.clear()
        self._redraw()
        self.changed.emit()

    def undo_stroke(self) -> None:
        if self._strokes:
            self._strokes.pop()
            self._redraw()
            self.changed.emit()

    def is_empty(self) -> bool:
        return not self._strokes

    def pixels(self) -> np.ndarray:
        """The drawing as uint8 (RESOLUTION, RESOLUTION), 0 = background, 255 = ink."""
        img = self._image
        ptr = img.constBits()
        rows = np.frombuffer(ptr, dtype=np.uint8, count=img.bytesPerLine() * img.height())
        return rows.reshape(img.height(), img.bytesPerLine())[:, :img.width()].copy()

    # ------------------------------------------------------------ events
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drawing = True
            self.add_point(self._to_image(event.position()), new_stroke=True)
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._drawing:
            self.add_point(self._to_image(event.position()))
            event.accept()

    def mouseReleaseEvent(self, event) -> None:
        if self._drawing and event.button() == Qt.MouseButton.LeftButton:
            self._drawing = False
            self.stroke_finished.emit()
            event.accept()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete):
            self.clear()
        elif event.matches(QKeySequence.StandardKey.Undo):
            self.undo_stroke()
        else:
            super().keyPressEvent(event)

    def paintEvent(self, _event) -> None:
        x0, y0, side = self._square()
        p = QPainter(self)
        p.drawImage(x0, y0, self._display)
        pen = QPen(self.palette().highlight().color() if self.hasFocus()
                   else self.palette().mid().color(), 2 if self.hasFocus() else 1)
        p.setPen(pen)
        p.drawRect(x0, y0, side - 1, side - 1)
        if self.is_empty():
            p.setPen(QColor(150, 150, 150))
            p.drawText(x0, y0, side, side, Qt.AlignmentFlag.AlignCenter, "draw here")
        p.end()
