"""CanvasNotice: a short message on the canvas itself, next to where the user just acted
(a refused connection), so it is read where the eyes are — the status bar is far away."""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

SHOW_MS = 5000
MAX_WIDTH = 480
PADDING_X = 9
BORDERS = 5               # 4 px left bar + 1 px frame
OFFSET = QPoint(14, 14)      # below and right of the cursor, off the port it points at


class CanvasNotice(QLabel):
    def __init__(self, viewport: QWidget):
        super().__init__(viewport)
        self.setObjectName("canvas_notice")
        self.setWordWrap(True)
        self.setTextFormat(Qt.PlainText)
        self.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.hide()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)

    def show_message(self, text: str, at: QPoint | None, theme) -> None:
        """Show ``text`` near ``at`` (viewport coordinates; None: top centre) for a while."""
        self.setStyleSheet(
            f"QLabel#canvas_notice {{ background: {theme.node_fill}; color: {theme.node_text};"
            f" border: 1px solid {theme.error}; border-left: 4px solid {theme.error};"
            f" border-radius: 4px; padding: 6px {PADDING_X}px; }}")
        self.setText(text)
        # one line up to the widest notice, then wrap (QLabel alone wraps at a third of that)
        margins = self.contentsMargins()
        width = min(MAX_WIDTH, self.fontMetrics().horizontalAdvance(text) + 2 * PADDING_X +
                    margins.left() + margins.right() + BORDERS + 4)
        self.resize(width, self.heightForWidth(width))
        area = self.parentWidget().rect()
        pos = (at + OFFSET) if at is not None else QPoint(
            (area.width() - self.width()) // 2, 12)
        pos.setX(max(4, min(pos.x(), area.width() - self.width() - 4)))
        pos.setY(max(4, min(pos.y(), area.height() - self.height() - 4)))
        self.move(pos)
        self.show()
        self.raise_()
        self._timer.start(SHOW_MS)
