"""Model summary: the Keras-like table (layer, output shape, parameters, inputs) and the total,
kept live from the document's shape inference. Clicking a row selects that node."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.panels.document_panel import DocumentPanel
from engine.summary import format_shape

COLUMNS = ("Layer (type)", "Output shape", "Param #", "Connected to")


def _size_text(n: int) -> str:
    size = n * 4.0
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    return ""


def wired_nodes(doc) -> set[str]:
    """Ids of the nodes an Input's data reaches (the model); the rest is not wired in yet."""
    reached = {e.src for e in doc.edges if doc.nodes[e.src].type_name == "InputLayer"}
    frontier = list(reached)
    while frontier:
        nid = frontier.pop()
        for e in doc.out_edges(nid):
            if e.dst not in reached:
                reached.add(e.dst)
                frontier.append(e.dst)
    return reached


class SummaryPanel(DocumentPanel):
    node_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)
        header.setStretchLastSection(True)
        self.table.setTextElideMode(Qt.ElideMiddle)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.totals = QLabel(self)
        self.totals.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table)
        layout.addWidget(self.totals)
        self.table.cellClicked.connect(self._clicked)

    def refresh(self) -> None:
        self._timer.stop()
        doc = self.doc
        if doc is None:
            return
        order, cyclic = doc.topological_order()
        wired = wired_nodes(doc)
        ids = [n for n in order if n in wired] + [n for n in order if n not in wired] + \
            sorted(cyclic)
        self.table.setRowCount(len(ids))
        error_color = QColor("#d93636")
        for row, nid in enumerate(ids):
            node = doc.nodes[nid]
            info = doc.info.get(nid)
            if info is None or info.error:
                shape = "error" if info is not None else "?"
            else:
                shape = format_shape(info.output_shapes if len(info.output_shapes) > 1
                                     else info.output_shapes[0])
            sources = ", ".join(doc.nodes[e.src].name for e in doc.in_edges(nid))
            cells = (f"{node.name} ({node.type_name})", shape,
                     f"{info.params:,}" if info else "0", sources)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.UserRole, nid)
                item.setToolTip(text)
                if col == 2:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if info is not None and info.error:
                    item.setForeground(error_color)
                    item.setToolTip(info.error)
                self.table.setItem(row, col, item)
        self._fit_columns()
        # like Keras: "Connected to" only for graphs that are not a plain chain
        chain = all(len(doc.in_edges(nid)) <= 1 and len(doc.out_edges(nid)) <= 1 for nid in ids)
        self.table.setColumnHidden(3, chain)
        total = doc.total_params()
        n = len(doc.nodes)
        self.totals.setText(f"<b>Total params: {total:,}</b> ({_size_text(total)}) &nbsp;·&nbsp; "
                            f"{n} layer{'s' if n != 1 else ''}")

    def _fit_columns(self) -> None:
        """Columns as wide as their contents, but long layer names do not push the shapes
        out of a narrow dock (they elide in the middle; the full text is one hover away)."""
        self.table.resizeColumnsToContents()
        cap = int(self.table.viewport().width() * 0.5)
        if cap > 80 and self.table.columnWidth(0) > cap:
            self.table.setColumnWidth(0, cap)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def _clicked(self, row: int, _col: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.node_activated.emit(item.data(Qt.UserRole))
