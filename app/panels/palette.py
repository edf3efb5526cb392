"""Palette: every registered layer type, grouped by category, searchable.

Drag a layer onto the canvas, or double-click it (Enter works too) to add it at the centre of
the view. The list comes from ``engine.registry.by_category()`` — there is no second list.
"""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.canvas.view import LAYER_MIME
from app.icons import layer_icon

TYPE_ROLE = Qt.UserRole
SEARCH_ROLE = Qt.UserRole + 1


class LayerTree(QTreeWidget):
    """The tree of categories and layer types; dragging a layer carries its type name."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setIconSize(QSize(22, 22))
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragOnly)
        self.setRootIsDecorated(True)
        self.setIndentation(12)
        self.setUniformRowHeights(True)

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME, "text/plain"]

    def mimeData(self, items) -> QMimeData:
        """What a drag carries: the layer type name (categories are not draggable)."""
        mime = QMimeData()
        types = [i.data(0, TYPE_ROLE) for i in items if i.data(0, TYPE_ROLE)]
        if types:
            mime.setData(LAYER_MIME, types[0].encode("utf-8"))
            mime.setText(types[0])
        return mime


class PalettePanel(QWidget):
    add_requested = Signal(str)          # layer type to add at the view centre

    def __init__(self, parent=None):
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.tree = LayerTree(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._add_first_match)
        self.tree.itemActivated.connect(self._activated)
        self.populate()

    def populate(self) -> None:
        from engine.registry import by_category
        self.tree.clear()
        for category, specs in by_category().items():
            group = QTreeWidgetItem([category])
            group.setFlags(Qt.ItemIsEnabled)
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            self.tree.addTopLevelItem(group)
            for spec in specs:
                item = QTreeWidgetItem([spec.type_name])
                item.setIcon(0, layer_icon(category, spec.icon))
                item.setToolTip(0, f"<b>{spec.type_name}</b><br>{spec.help}")
                item.setStatusTip(0, spec.help)
                item.setData(0, TYPE_ROLE, spec.type_name)
                item.setData(0, SEARCH_ROLE,
                             f"{spec.type_name} {category} {spec.help}".lower())
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled)
                group.addChild(item)
            group.setExpanded(True)

    def layer_items(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(i).child(j) for i in range(self.tree.topLevelItemCount())
                for j in range(self.tree.topLevelItem(i).childCount())]

    def visible_types(self) -> list[str]:
        return [item.data(0, TYPE_ROLE) for item in self.layer_items() if not item.isHidden()]

    def filter(self, text: str) -> None:
        """Show the layers whose name, category or help contains every word typed; names first."""
        words = text.lower().split()
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            shown = 0
            for j in range(group.childCount()):
                item = group.child(j)
                hay = item.data(0, SEARCH_ROLE)
                hidden = not all(w in hay for w in words)
                item.setHidden(hidden)
                shown += not hidden
            group.setHidden(shown == 0)
            if words:
                group.setExpanded(True)

    def _add_first_match(self) -> None:
        text = self.search.text().strip().lower()
        visible = self.visible_types()
        exact = [t for t in visible if t.lower() == text]
        starts = [t for t in visible if t.lower().startswith(text)]
        pick = (exact or starts or visible or [None])[0]
        if pick:
            self.add_requested.emit(pick)

    def _activated(self, item: QTreeWidgetItem) -> None:
        type_name = item.data(0, TYPE_ROLE)
        if type_name:
            self.add_requested.emit(type_name)
