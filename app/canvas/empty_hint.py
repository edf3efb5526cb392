"""Two lines over an empty canvas that say how to build a first network. They go away with the
first layer and come back when the canvas is empty again; mouse and drops pass through them."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QGraphicsView, QLabel

from app.canvas.scene import GraphScene

HINT = ("<b>Your first network:</b> drag <b>Input</b>, <b>Flatten</b> and <b>Dense</b> from "
        "the Layers panel onto the canvas (or press <b>Tab</b> and type a name).<br>"
        "Drag from each layer's output port (right) to the next one's input port (left), "
        "choose data in <b>Data</b>, press <b>Train</b> (F5).")
MAX_WIDTH = 820              # two lines on a typical canvas; wraps on a narrow one


class EmptyCanvasHint(QLabel):
    def __init__(self, view: QGraphicsView, scene: GraphScene):
        super().__init__(HINT, view.viewport())
        self.setObjectName("empty_canvas_hint")
        self.view, self.scene = view, scene
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.setFont(font)
        view.viewport().installEventFilter(self)
        scene.refreshed.connect(self.update_visibility)
        self.update_visibility()

    def update_visibility(self) -> None:
        empty = self.scene.doc is None or not self.scene.doc.nodes
        self.setVisible(empty)
        if empty:
            self._place()

    def _place(self) -> None:
        vp = self.view.viewport()
        self.setFixedWidth(max(200, min(MAX_WIDTH, vp.width() - 40)))
        self.adjustSize()
        self.move(max(0, (vp.width() - self.width()) // 2),
                  max(0, (vp.height() - self.height()) // 2))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return False
