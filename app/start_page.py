"""The start page: New, Open, the recent projects and the bundled examples with thumbnails of
their graphs. It takes the canvas's place in the window (a stacked central widget) at start-up
and from File → Start Page; opening or creating a project, or Escape, brings the canvas back.

The first frame shows the examples with their titles only; their thumbnails (rendered from the
example projects and cached, see :mod:`app.canvas.thumbnails`) and descriptions arrive one per
event-loop turn, so the page paints at once and never stalls.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QIcon, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.canvas.thumbnails import ThumbnailCache

if TYPE_CHECKING:
    from app.main_window import MainWindow

THUMB = QSize(256, 96)
SETTING = "start_page/at_startup"
PATH_ROLE = Qt.ItemDataRole.UserRole


def describe_project(project) -> str:
    """``8 layers · 225,034 parameters · bundled MNIST``: what an example holds."""
    g = project.graph
    parts = [f"{len(g.nodes)} layers"]
    try:
        parts.append(f"{g.total_params():,} parameters")
    except (ValueError, KeyError):
        pass
    ds = project.data_source or {}
    if ds.get("kind") == "bundled":
        parts.append({"mnist": "bundled MNIST", "sentences": "bundled review sentences"}
                     .get(ds.get("name"), f"bundled {ds.get('name')}"))
    elif ds.get("kind") == "keras_dataset":
        from engine.datasets.catalog import DATASETS
        info = DATASETS.get(ds.get("name"))
        parts.append(f"{info.title} (downloaded)" if info else str(ds.get("name")))
    elif ds.get("kind"):
        parts.append(f"{ds['kind'].replace('_', ' ')} data")
    else:
        parts.append("no data source yet")
    return " · ".join(parts)


class StartPage(QWidget):
    new_requested = Signal()
    open_requested = Signal()
    recent_chosen = Signal(str)
    example_chosen = Signal(str)
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None, cache: ThumbnailCache | None = None):
        super().__init__(parent)
        self.setObjectName("start_page")
        self.cache = cache or ThumbnailCache()
        self.theme = None
        self._pending: list[QListWidgetItem] = []
        self._drawn_theme: str | None = None
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setSingleShot(True)
        self._thumb_timer.setInterval(0)
        self._thumb_timer.timeout.connect(self._next_thumbnail)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(40, 28, 40, 20)
        outer.setSpacing(14)
        title = QLabel("LayerLoom", self)
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 2.2)
        font.setWeight(QFont.Weight.DemiBold)
        title.setFont(font)
        outer.addWidget(title)
        outer.addWidget(QLabel("Build neural networks visually and train them on your own "
                               "machine.", self))

        columns = QHBoxLayout()
        columns.setSpacing(32)
        left = QVBoxLayout()
        left.addWidget(self._heading("Start"))
        self.new_btn = QPushButton("New Project", self)
        self.new_btn.setToolTip(f"An empty canvas ({QKeySequence(QKeySequence.New).toString()})")
        self.open_btn = QPushButton("Open Project…", self)
        self.open_btn.setToolTip(f"Open a .loom file "
                                 f"({QKeySequence(QKeySequence.Open).toString()})")
        for btn in (self.new_btn, self.open_btn):
            btn.setMinimumHeight(32)
            left.addWidget(btn)
        left.addSpacing(10)
        left.addWidget(self._heading("Recent projects"))
        self.recent = QListWidget(self)
        self.recent.setAccessibleName("Recent projects")
        self.recent.setMinimumWidth(220)
        self.recent.setSpacing(3)
        left.addWidget(self.recent, 1)
        holder = QWidget(self)
        holder.setLayout(left)
        holder.setMaximumWidth(360)
        left.setContentsMargins(0, 0, 0, 0)
        columns.addWidget(holder, 1)

        right = QVBoxLayout()
        right.addWidget(self._heading("Examples"))
        self.examples = QListWidget(self)
        self.examples.setAccessibleName("Examples")
        self.examples.setViewMode(QListView.ViewMode.IconMode)
        self.examples.setIconSize(THUMB)
        self.examples.setGridSize(QSize(THUMB.width() + 12, THUMB.height() + 64))
        self.examples.setResizeMode(QListView.ResizeMode.Adjust)
        self.examples.setMovement(QListView.Movement.Static)
        self.examples.setWordWrap(True)
        self.examples.setSpacing(6)
        right.addWidget(self.examples, 1)
        columns.addLayout(right, 3)
        outer.addLayout(columns, 1)

        bottom = QHBoxLayout()
        self.at_startup = QCheckBox("Show this page when LayerLoom starts", self)
        bottom.addWidget(self.at_startup)
        bottom.addStretch(1)
        self.close_btn = QPushButton("Continue to the canvas", self)
        self.close_btn.setToolTip("Back to the current project (Esc)")
        bottom.addWidget(self.close_btn)
        outer.addLayout(bottom)

        self.new_btn.clicked.connect(self.new_requested)
        self.open_btn.clicked.connect(self.open_requested)
        self.close_btn.clicked.connect(self.dismissed)
        self.recent.itemActivated.connect(
            lambda item: self.recent_chosen.emit(item.data(PATH_ROLE)))
        self.examples.itemActivated.connect(
            lambda item: self.example_chosen.emit(item.data(PATH_ROLE)))
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.dismissed)

    def _heading(self, text: str) -> QLabel:
        label = QLabel(text, self)
        font = QFont(label.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setWeight(QFont.Weight.DemiBold)
        label.setFont(font)
        return label

    # ------------------------------------------------------------ contents
    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for path in paths:
            p = Path(path)
            exists = p.is_file()
            item = QListWidgetItem(f"{p.name}\n{p.parent}" + ("" if exists else "  (missing)"))
            item.setData(PATH_ROLE, str(p))
            item.setToolTip(str(p))
            if not exists:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.recent.addItem(item)
        if not paths:
            item = QListWidgetItem("No recent projects yet: start a new one, or open an "
                                   "example.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(item)

    def set_examples(self, examples: list[tuple[str, Path]], theme) -> None:
        """(title, path) of each example; thumbnails follow (one per event-loop turn)."""
        self.theme = theme
        self._drawn_theme = theme.name
        self.examples.clear()
        blank = QPixmap(THUMB)
        blank.fill(Qt.GlobalColor.transparent)
        self._pending = []
        for title, path in examples:
            item = QListWidgetItem(QIcon(blank), title)
            item.setData(PATH_ROLE, str(path))
            item.setToolTip(f"Open the example {title} as a new project")
            self.examples.addItem(item)
            self._pending.append(item)
        self._thumb_timer.start()

    def _next_thumbnail(self) -> None:
        """Draw (or read from the cache) one pending thumbnail, then schedule the next."""
        if not self._pending:
            return
        item = self._pending.pop(0)
        path = Path(item.data(PATH_ROLE))
        image = self.cache.get(path, self.theme, THUMB)
        if image is not None:
            item.setIcon(QIcon(QPixmap.fromImage(image)))
        description = self._description(path)
        if description:
            item.setText(f"{item.text().splitlines()[0]}\n{description}")
            item.setToolTip(f"{item.toolTip()}\n{description}")
        if self._pending:
            self._thumb_timer.start()

    @staticmethod
    def _description(path: Path) -> str:
        from engine.project import ProjectError, load_project
        try:
            return describe_project(load_project(path, inert_code=True))
        except (ProjectError, OSError):
            return "cannot be read"

    def thumbnails_pending(self) -> int:
        return len(self._pending)

    def refresh_theme(self, theme) -> None:
        """Redraw the thumbnails when the theme changed since they were drawn."""
        if theme.name != self._drawn_theme and self.examples.count():
            examples = [(self.examples.item(i).text().splitlines()[0],
                         Path(self.examples.item(i).data(PATH_ROLE)))
                        for i in range(self.examples.count())]
            self.set_examples(examples, theme)


class StartPageHost:
    """Puts the start page into ``window``: a stacked central widget (canvas, start page), the
    File → Start Page action, and hiding it when a project is opened or created."""

    def __init__(self, window: MainWindow, cache: ThumbnailCache | None = None):
        self.w = window
        self.page = StartPage(window, cache)
        canvas = window.takeCentralWidget()
        self.stack = QStackedWidget(window)
        self.stack.setObjectName("central_stack")
        self.stack.addWidget(canvas)
        self.stack.addWidget(self.page)
        window.setCentralWidget(self.stack)
        fo = window.file_ops
        self.page.new_requested.connect(fo.new_project)
        self.page.open_requested.connect(fo.open_dialog)
        self.page.recent_chosen.connect(fo.open_path)
        self.page.example_chosen.connect(fo.open_example)
        self.page.dismissed.connect(self.hide)
        self.page.at_startup.toggled.connect(
            lambda on: window.settings.setValue(SETTING, bool(on)))
        window.project_changed.connect(lambda _project: self.hide())
        self.action = QAction("Start &Page", window)
        self.action.setStatusTip("New, open, recent projects and examples")
        self.action.triggered.connect(lambda _=False: self.show())
        window.addAction(self.action)
        window.actions.actions["start_page"] = self.action
        window.actions.menus["file"].insertAction(window.actions.menus["recent"].menuAction(),
                                                  self.action)

    def wanted_at_startup(self) -> bool:
        value = self.w.settings.value(SETTING, True)
        return value if isinstance(value, bool) else str(value).lower() == "true"

    def is_shown(self) -> bool:
        return self.stack.currentWidget() is self.page

    def show(self) -> None:
        """Show the start page with today's recent files and examples."""
        page, fo = self.page, self.w.file_ops
        page.set_recent(fo.recent_files())
        if page.examples.count() == 0:
            page.set_examples(fo.examples(), self.w.theme)
        else:
            page.refresh_theme(self.w.theme)
        page.at_startup.blockSignals(True)
        page.at_startup.setChecked(self.wanted_at_startup())
        page.at_startup.blockSignals(False)
        self.stack.setCurrentWidget(page)
        page.new_btn.setFocus()

    def hide(self) -> None:
        if self.is_shown():
            self.stack.setCurrentIndex(0)
            self.w.view.setFocus()
