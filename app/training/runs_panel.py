"""The Runs panel: every training run of the project in a sortable table — name, start, epochs,
why it stopped, final loss and metrics, duration, backend, note. Selected runs are overlaid on
the dashboard's plots; runs can be renamed, annotated and deleted (the records live in the
project file, ``engine.project.RunRecord``).
"""
from __future__ import annotations

import math
from datetime import datetime

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.training.dashboard import format_duration

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2
BACKEND_TITLES = {"engine": "LayerLoom engine"}
HIDDEN_METRICS = {"lr", "learning_rate"}
FIXED_BEFORE = (("name", "Name"), ("started", "Started"), ("epochs", "Epochs"),
                ("stop", "Stop reason"))
FIXED_AFTER = (("duration", "Duration"), ("backend", "Backend"), ("note", "Note"))
EDITABLE = {"name", "note"}
NO_PARENT = QModelIndex()


def backend_title(backend: str) -> str:
    return BACKEND_TITLES.get(backend, backend or BACKEND_TITLES["engine"])


def final_value(values) -> float | None:
    """The last finite value of a history list (None when it has none)."""
    for v in reversed(values or []):
        if v is not None and math.isfinite(v):
            return float(v)
    return None


def metric_order(runs) -> list[str]:
    """History keys of ``runs``: loss first, then the others; each training value before its
    ``val_`` counterpart."""
    keys = {k for r in runs for k in (r.history or {}) if k not in HIDDEN_METRICS}
    return sorted(keys, key=lambda k: (k.removeprefix("val_") != "loss", k.removeprefix("val_"),
                                       k.startswith("val_")))


def run_seconds(run) -> float | None:
    """Training time: the recorded duration (pauses excluded), else start to finish."""
    if run.duration is not None:
        return float(run.duration)
    if run.finished is not None:
        return max(0.0, float(run.finished) - float(run.started))
    return None


class RunsModel(QAbstractTableModel):
    """The project's runs as table rows (the RunRecord objects themselves: edits write to them)."""

    edited = Signal(object)             # a RunRecord whose name or note changed

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runs: list = []
        self.columns: list[tuple[str, str]] = list(FIXED_BEFORE + FIXED_AFTER)

    def set_runs(self, runs: list) -> None:
        self.beginResetModel()
        self.runs = list(runs)
        metrics = [(f"metric:{k}", k) for k in metric_order(self.runs)]
        self.columns = list(FIXED_BEFORE) + metrics + list(FIXED_AFTER)
        self.endResetModel()

    def column_of(self, key: str) -> int:
        return next(i for i, (k, _) in enumerate(self.columns) if k == key)

    # ------------------------------------------------------------ Qt model
    def rowCount(self, parent=NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent=NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section][1]
        return None

    def flags(self, index):
        base = super().flags(index)
        if index.isValid() and self.columns[index.column()][0] in EDITABLE:
            base |= Qt.ItemFlag.ItemIsEditable
        return base

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        run = self.runs[index.row()]
        key = self.columns[index.column()][0]
        if role == ID_ROLE:
            return str(run.id)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._text(run, index.row(), key, role == Qt.ItemDataRole.EditRole)
        if role == SORT_ROLE:
            return self._sort_value(run, index.row(), key)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(run, key)
        if role == Qt.ItemDataRole.TextAlignmentRole and (
                key.startswith("metric:") or key in ("epochs", "duration")):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, run, row: int, key: str, editing: bool) -> str:
        if key == "name":
            return run.name if editing else run.display_name(row + 1)
        if key == "started":
            return datetime.fromtimestamp(run.started).strftime("%Y-%m-%d %H:%M")
        if key == "epochs":
            return str(run.epochs_trained())
        if key == "stop":
            return run.message or run.status
        if key == "duration":
            return format_duration(run_seconds(run))
        if key == "backend":
            return backend_title(run.backend)
        if key == "note":
            return run.note if editing else run.note.replace("\n", " ")
        value = final_value((run.history or {}).get(key.removeprefix("metric:")))
        return "—" if value is None else f"{value:.4g}"

    def _sort_value(self, run, row: int, key: str):
        if key == "started":
            return float(run.started)
        if key == "epochs":
            return float(run.epochs_trained())
        if key == "duration":
            return run_seconds(run)
        if key.startswith("metric:"):
            return final_value((run.history or {}).get(key.removeprefix("metric:")))
        return self._text(run, row, key, False).lower()

    def _tooltip(self, run, key: str) -> str | None:
        if key == "stop":
            return f"{run.status}: {run.message}" if run.message else run.status
        if key == "note" and run.note:
            return run.note
        if key == "epochs":
            start = int((run.settings or {}).get("initial_epoch", 0))
            n = run.epochs_trained()
            return f"epochs {start + 1}–{start + n} of the model" if n else "no epoch finished"
        if key == "name":
            return "Double-click or F2 to rename"
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        key = self.columns[index.column()][0]
        if key not in EDITABLE:
            return False
        run = self.runs[index.row()]
        text = str(value).strip() if key == "name" else str(value)
        if getattr(run, key) == text:
            return False
        setattr(run, key, text)
        self.dataChanged.emit(index, index)
        self.edited.emit(run)
        return True


class RunsSortProxy(QSortFilterProxyModel):
    """Sorts by each column's value (numbers as numbers); runs without a value sort last."""

    def lessThan(self, left, right) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None:
            return a is not None and b is None
        return a < b


class RunsPanel(QWidget):
    overlays_chosen = Signal(object)       # set of run ids to overlay on the plots
    runs_changed = Signal()                # a run was renamed, annotated or deleted

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.project = None
        self._selecting = False
        self.model = RunsModel(self)
        self.proxy = RunsSortProxy(self)
        self.proxy.setSourceModel(self.model)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        bar = QHBoxLayout()
        self.hint = QLabel("Select runs to overlay them on the plots.", self)
        bar.addWidget(self.hint, 1)
        self.rename_btn = QPushButton("Rename", self)
        self.note_btn = QPushButton("Note", self)
        self.delete_btn = QPushButton("Delete", self)
        for b in (self.rename_btn, self.note_btn, self.delete_btn):
            bar.addWidget(b)
        lay.addLayout(bar)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setAccessibleName("Training runs")
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)       # newest first
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        lay.addWidget(self.table, 1)
        self.empty = QLabel("No training runs yet: press Train (F5). Each run is kept here "
                            "with its curves, settings and results.", self)
        self.empty.setWordWrap(True)
        lay.addWidget(self.empty)

        self.delete_action = QAction("Delete Run", self)
        self.delete_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Delete)])
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.delete_action.triggered.connect(lambda _=False: self.delete_selected())
        self.table.addAction(self.delete_action)
        self.rename_btn.clicked.connect(lambda: self.edit_selected("name"))
        self.note_btn.clicked.connect(lambda: self.edit_selected("note"))
        self.delete_btn.clicked.connect(lambda: self.delete_selected())
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.model.edited.connect(lambda _run: self.runs_changed.emit())
        self._update_buttons()

    # ------------------------------------------------------------ project
    def set_project(self, project) -> None:
        self.project = project
        self.refresh()

    def refresh(self) -> None:
        """Show the project's runs again (after a run was recorded); the selection stays."""
        keep = self.selected_ids()
        self._selecting = True
        self.model.set_runs(list(getattr(self.project, "runs", None) or []))
        self._selecting = False
        self.table.resizeColumnsToContents()
        self.select_ids(keep)
        self.empty.setVisible(self.model.rowCount() == 0)
        self._update_buttons()

    # ------------------------------------------------------------ selection
    def selected_ids(self) -> set[str]:
        return {self.proxy.index(i.row(), 0).data(ID_ROLE)
                for i in self.table.selectionModel().selectedRows()}

    def selected_runs(self) -> list:
        ids = self.selected_ids()
        return [r for r in self.model.runs if str(r.id) in ids]

    def select_ids(self, ids) -> None:
        """Select these runs (e.g. chosen in the dashboard's Compare menu); no signal back."""
        ids = set(ids)
        selection = QItemSelection()
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, 0).data(ID_ROLE) in ids:
                selection.select(self.proxy.index(row, 0),
                                 self.proxy.index(row, self.proxy.columnCount() - 1))
        self._selecting = True
        self.table.selectionModel().select(
            selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._selecting = False
        self._update_buttons()

    def _selection_changed(self, *_args) -> None:
        self._update_buttons()
        if not self._selecting:
            self.overlays_chosen.emit(self.selected_ids())

    def _update_buttons(self) -> None:
        n = len(self.table.selectionModel().selectedRows())
        self.rename_btn.setEnabled(n == 1)
        self.note_btn.setEnabled(n == 1)
        self.delete_btn.setEnabled(n >= 1)
        self.delete_action.setEnabled(n >= 1)

    # ------------------------------------------------------------ edits
    def edit_selected(self, key: str) -> None:
        """Start editing the name or note of the selected run in its cell."""
        rows = self.table.selectionModel().selectedRows()
        if len(rows) != 1:
            return
        index = self.proxy.index(rows[0].row(), self.model.column_of(key))
        self.table.setCurrentIndex(index)
        self.table.edit(index)

    def confirm_delete(self, runs: list) -> bool:
        names = ", ".join(r.display_name(self.model.runs.index(r) + 1) for r in runs[:5])
        more = f" and {len(runs) - 5} more" if len(runs) > 5 else ""
        answer = QMessageBox.question(
            self, "Delete runs", f"Delete {names}{more} from the project? Their curves and "
            f"results go; the trained weights stay.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def delete_selected(self) -> int:
        """Delete the selected runs (after asking); returns how many went."""
        runs = self.selected_runs()
        if not runs or self.project is None or not self.confirm_delete(runs):
            return 0
        gone = {id(r) for r in runs}
        self.project.runs[:] = [r for r in self.project.runs if id(r) not in gone]
        self.refresh()
        self.overlays_chosen.emit(self.selected_ids())
        self.runs_changed.emit()
        return len(runs)

    def _context_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if index.isValid() and not self.table.selectionModel().isRowSelected(index.row()):
            self.table.selectRow(index.row())
        menu = QMenu(self)
        menu.addAction("Rename", lambda: self.edit_selected("name")).setEnabled(
            self.rename_btn.isEnabled())
        menu.addAction("Edit Note", lambda: self.edit_selected("note")).setEnabled(
            self.note_btn.isEnabled())
        menu.addSeparator()
        menu.addAction(self.delete_action)
        self._menu = menu
        menu.popup(self.table.viewport().mapToGlobal(pos))

