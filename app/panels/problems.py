"""Problems: everything that keeps the graph from training (from ``GraphDocument.problems()``).
Clicking a problem selects its node on the canvas."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QVBoxLayout, QWidget

from app.panels.document_panel import DocumentPanel


class ProblemsPanel(DocumentPanel):
    node_activated = Signal(str)
    count_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.list = QListWidget(self)
        self.list.setAlternatingRowColors(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)

    def problems(self) -> list[tuple[str | None, str]]:
        return self.doc.problems() if self.doc is not None else []

    def refresh(self) -> None:
        self._timer.stop()
        self.list.clear()
        icon = self.style().standardIcon(QStyle.SP_MessageBoxWarning)
        found = self.problems()
        for nid, message in found:
            where = self.doc.nodes[nid].name if nid in self.doc.nodes else "graph"
            item = QListWidgetItem(icon, f"{where}: {message}")
            item.setData(Qt.UserRole, nid)
            item.setToolTip(message)
            self.list.addItem(item)
        if not found:
            ok = QListWidgetItem(self.style().standardIcon(QStyle.SP_DialogApplyButton),
                                 "No problems: the graph can be trained.")
            ok.setFlags(Qt.ItemIsEnabled)
            self.list.addItem(ok)
        self.count_changed.emit(len(found))

    def _clicked(self, item: QListWidgetItem) -> None:
        nid = item.data(Qt.UserRole)
        if nid:
            self.node_activated.emit(nid)
