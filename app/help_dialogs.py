"""Help dialogs: the keyboard shortcuts (read from the actions themselves) and About."""
from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

CANVAS_GESTURES = (
    ("Tab (on the canvas)", "Add a layer by typing its name"),
    ("Mouse wheel", "Zoom at the cursor"),
    ("Middle drag / Space + drag", "Pan"),
    ("Drag from a port to a port", "Connect (refused targets show the reason)"),
    ("Drag on empty canvas", "Select with a rubber band"),
    ("Double-click a layer", "Rename it in the inspector"),
    ("Esc (while connecting)", "Cancel the connection"),
)


def shortcut_rows(actions: dict[str, QAction]) -> list[tuple[str, str]]:
    rows = []
    for action in actions.values():
        keys = ", ".join(s.toString() for s in action.shortcuts())
        if keys:
            rows.append((keys, action.text().replace("&", "").rstrip("…")))
    return rows + list(CANVAS_GESTURES)


def show_shortcuts(parent: QWidget, actions: dict[str, QAction]) -> QDialog:
    rows = shortcut_rows(actions)
    dlg = QDialog(parent)
    dlg.setWindowTitle("Keyboard shortcuts")
    table = QTableWidget(len(rows), 2, dlg)
    table.setHorizontalHeaderLabels(["Keys", "Action"])
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    for r, (keys, what) in enumerate(rows):
        table.setItem(r, 0, QTableWidgetItem(keys))
        table.setItem(r, 1, QTableWidgetItem(what))
    buttons = QDialogButtonBox(QDialogButtonBox.Close, dlg)
    buttons.rejected.connect(dlg.reject)
    layout = QVBoxLayout(dlg)
    layout.addWidget(table)
    layout.addWidget(buttons)
    dlg.resize(520, 560)
    dlg.show()
    return dlg


def show_about(parent: QWidget) -> None:
    from engine import __version__
    QMessageBox.about(
        parent, "About LayerLoom",
        f"<h3>LayerLoom {__version__}</h3>"
        "<p>Build neural networks visually and train them on your own machine.</p>"
        "<p>Engine: numpy + numba, float32, with a Keras-compatible API. Models export as "
        "Keras HDF5 files and Keras Python scripts.</p>")
