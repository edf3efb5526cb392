"""DocumentPanel: a panel that shows something computed from the GraphDocument and redraws
once per event-loop turn after edits (a compound edit sends many events)."""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from engine.graph import GraphDocument


class DocumentPanel(QWidget):
    """Subclasses implement ``refresh()``; moves never change what these panels show."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc: GraphDocument | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh)

    def set_document(self, doc: GraphDocument) -> None:
        if self.doc is not None:
            self.doc.unsubscribe(self._on_event)
        self.doc = doc
        doc.subscribe(self._on_event)
        self.refresh()

    def _on_event(self, event: str, payload: dict) -> None:
        if event != "moved":
            self._timer.start()

    def refresh(self) -> None:
        raise NotImplementedError
