"""QuickAddPopup: press Tab on the canvas, type part of a layer name, Enter adds it."""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout

from app.icons import layer_icon


class QuickAddPopup(QFrame):
    chosen = Signal(str)          # layer type name

    def __init__(self, parent=None):
        super().__init__(parent, Qt.Popup)
        self.setFrameShape(QFrame.StyledPanel)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Add layer…")
        self.list = QListWidget(self)
        self.list.setMinimumHeight(220)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self.resize(260, 300)
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self.accept_current)
        self.list.itemActivated.connect(lambda item: self._choose(item))
        self._filled = False
        self._excluded: frozenset[str] = frozenset()

    def _fill(self) -> None:
        from engine.registry import by_category
        for category, specs in by_category().items():
            for spec in specs:
                item = QListWidgetItem(layer_icon(category, spec.icon), spec.type_name)
                item.setData(Qt.UserRole, spec.type_name)
                item.setToolTip(spec.help)
                item.setData(Qt.UserRole + 1, f"{spec.type_name} {category}".lower())
                self.list.addItem(item)
        self._filled = True

    def popup(self, global_pos: QPoint, exclude=frozenset()) -> None:
        """Show the list at ``global_pos``, without the layer types in ``exclude``."""
        if not self._filled:
            self._fill()
        self._excluded = frozenset(exclude)
        self.search.clear()
        self.filter("")
        self.move(global_pos)
        self.show()
        self.search.setFocus()

    def filter(self, text: str) -> None:
        words = text.lower().split()
        first = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            hay = item.data(Qt.UserRole + 1)
            hidden = not all(w in hay for w in words) or \
                item.data(Qt.UserRole) in self._excluded
            item.setHidden(hidden)
            if not hidden and first is None:
                first = item
        self.list.setCurrentItem(first)

    def accept_current(self) -> None:
        item = self.list.currentItem()
        if item is not None and not item.isHidden():
            self._choose(item)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key_Down, Qt.Key_Up):
            self.list.keyPressEvent(event)   # arrows move in the list while typing
            return
        super().keyPressEvent(event)

    def _choose(self, item: QListWidgetItem) -> None:
        self.hide()
        self.chosen.emit(item.data(Qt.UserRole))
