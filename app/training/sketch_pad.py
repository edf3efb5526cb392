"""A square pad to draw on with the mouse (or a pen): light strokes on a dark ground, like the
MNIST digits. ``changed`` is emitted on every stroke segment; ``pixels()`` gives the drawing as
a uint8 (H, W) array. Backspace / Delete clears, Ctrl+Z takes back the last stroke."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, Signal
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
        return (self.width() - side) / 2, (self.height() - side) / 2, side

    def _to_image(self, pos: QPointF) -> QPointF:
        x0, y0, side = self._square()
        f = RESOLUTION / max(side, 1)
        return QPointF((pos.x() - x0) * f, (pos.y() - y0) * f)

    # ------------------------------------------------------------ drawing
    def _paint_segment(self, a: QPointF, b: QPointF) -> None:
        p = QPainter(self._image)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor(255, 255, 255), self.pen_width, Qt.PenStyle.SolidLine,
                      Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
        if a == b:
            p.drawPoint(a)
        else:
            p.drawLine(a, b)
        p.end()

    def _redraw(self) -> None:
        self._image.fill(0)
        p = QPainter(self._image)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor(255, 255, 255), self.pen_width, Qt.PenStyle.SolidLine,
                      Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
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
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        target = (int(x0), int(y0), int(side), int(side))
        p.drawImage(*target[:2], self._image.scaled(int(side), int(side),
                                                    Qt.AspectRatioMode.IgnoreAspectRatio,
                                                    Qt.TransformationMode.SmoothTransformation))
        pen = QPen(self.palette().highlight().color() if self.hasFocus()
                   else self.palette().mid().color(), 2 if self.hasFocus() else 1)
        p.setPen(pen)
        p.drawRect(int(x0), int(y0), int(side) - 1, int(side) - 1)
        if self.is_empty():
            p.setPen(QColor(150, 150, 150))
            p.drawText(*target, Qt.AlignmentFlag.AlignCenter, "draw here")
        p.end()
