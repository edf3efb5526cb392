"""MainWindow: puts the parts together — canvas in the centre, palette left, inspector and
summary right, problems/log/history at the bottom — and wires their signals.

Responsibilities live elsewhere: menus and shortcuts in ``app.actions``, file operations in
``app.file_ops``, edits in ``app.editor`` (undo commands), drawing in ``app.canvas``, training
in ``app.training`` (its controller adds its own docks, menu and toolbar).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QPointF, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabBar,
    QUndoView,
    QWidget,
)

from app.actions import WindowActions
from app.canvas.empty_hint import EmptyCanvasHint
from app.canvas.node_item import WIDTH as NODE_WIDTH
from app.canvas.scene import GraphScene
from app.canvas.view import GraphView
from app.canvas_interactions import CanvasInteractions
from app.editor import GraphEditor
from app.exception_hook import ExceptionHook
from app.file_ops import FileOps
from app.panels.inspector import InspectorPanel
from app.panels.log import LOGGER_NAME, LogPanel
from app.panels.palette import PalettePanel
from app.panels.problems import ProblemsPanel
from app.panels.summary import SummaryPanel
from app.start_page import StartPageHost
from app.theme import apply_theme, get_theme
from engine.registry import get_spec

log = logging.getLogger(LOGGER_NAME)
STATE_VERSION = 1


class MainWindow(QMainWindow):
    project_changed = Signal(object)      # the Project now shown

    def __init__(self, settings: QSettings | None = None, theme: str | None = None,
                 restore_state: bool = True, catch_exceptions: bool = True):
        super().__init__()
        self.settings = settings or QSettings()
        self.theme = get_theme(theme or str(self.settings.value("theme", "light")))
        self.project = None
        self._extra_modified = False
        # callables asked before the project is closed or replaced (e.g. "stop training?");
        # any returning False keeps the current project open
        self.close_guards: list[Callable[[], bool]] = []
        self.setObjectName("main_window")
        self.resize(1440, 900)

        self.undo_stack = QUndoStack(self)
        self.editor = GraphEditor(self.undo_stack, self)
        self.scene = GraphScene(self.theme, self)
        self.view = GraphView(self.scene)
        self.setCentralWidget(self.view)

        self.palette = PalettePanel()
        self.inspector = InspectorPanel(self.editor)
        self.summary = SummaryPanel()
        self.problems = ProblemsPanel()
        self.log_panel = LogPanel()
        self.undo_view = QUndoView(self.undo_stack)
        self.undo_view.setEmptyLabel("<opened>")
        self.docks: dict[str, QDockWidget] = {}
        self.setDockNestingEnabled(True)
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        self.add_dock("palette", "Layers", self.palette, Qt.LeftDockWidgetArea)
        self.add_dock("inspector", "Inspector", self.inspector, Qt.RightDockWidgetArea)
        self.add_dock("summary", "Model summary", self.summary, Qt.RightDockWidgetArea)
        self.add_dock("history", "Undo history", self.undo_view, Qt.RightDockWidgetArea)
        self.tabifyDockWidget(self.docks["summary"], self.docks["history"])
        self.docks["summary"].raise_()
        self.add_dock("problems", "Problems", self.problems, Qt.BottomDockWidgetArea)
        self.add_dock("log", "Log", self.log_panel, Qt.BottomDockWidgetArea)
        self.tabifyDockWidget(self.docks["problems"], self.docks["log"])
        self.docks["problems"].raise_()
        self.resizeDocks([self.docks["palette"]], [230], Qt.Horizontal)
        self.resizeDocks([self.docks["inspector"]], [400], Qt.Horizontal)
        self.resizeDocks([self.docks["inspector"], self.docks["summary"]], [430, 300],
                         Qt.Vertical)
        self.resizeDocks([self.docks["problems"]], [130], Qt.Vertical)

        self.zoom_label = QLabel("100%")
        self.totals_label = QLabel("")
        self.statusBar().addPermanentWidget(self.totals_label)
        self.statusBar().addPermanentWidget(self.zoom_label)

        self.file_ops = FileOps(self)
        self.actions = WindowActions(self)
        self.canvas_interactions = CanvasInteractions(self)
        self.start_page = StartPageHost(self)
        self.empty_hint = EmptyCanvasHint(self.view, self.scene)
        self._wire()
        apply_theme(QApplication.instance(), self.theme)
        self.exception_hook = ExceptionHook(self, self.file_ops.autosave)
        if catch_exceptions:
            self.exception_hook.install()
        self.training = None
        self._install_training()
        if restore_state:
            self.restore_window_state()

    # ------------------------------------------------------------------ layout
    def add_dock(self, key: str, title: str, widget: QWidget,
                 area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable
                         | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        return dock

    def _install_training(self) -> None:
        """Training panels, menu and toolbar from ``app.training`` (the app still opens for
        editing if they cannot be loaded; the log says why)."""
        try:
            from app.training.controller import TrainingController
        except ImportError as e:
            log.warning("training panels are not available: %s", e)
            return
        self.training = TrainingController(self, lambda: self.project, self.highlight_node)
        self.training.install(self)
        # its docks join the tab groups of their area: right ones beside the summary, bottom
        # ones (dashboard, evaluation …) beside problems and log; the canvas keeps the room
        anchor = {Qt.RightDockWidgetArea: self.docks["history"],
                  Qt.BottomDockWidgetArea: self.docks["log"]}
        for dock in self.training.docks.values():
            target = anchor.get(self.dockWidgetArea(dock))
            if target is not None:
                self.tabifyDockWidget(target, dock)
        self.docks["summary"].raise_()
        self.docks["problems"].raise_()
        help_menu = self.actions.menus["help"].menuAction()     # Help stays the last menu
        self.menuBar().removeAction(help_menu)
        self.menuBar().addAction(help_menu)
        self.close_guards.append(lambda: self.training.confirm_stop("close this project"))
        self.project_changed.connect(lambda _project: self.training.project_changed())
        self.training.project_modified.connect(self.set_modified)
        self.training.status_changed.connect(self._training_status)

    def _hide_stale_tab_bars(self) -> None:
        """Moving docks from one tab group into another leaves Qt's tab bar of the old group
        on screen (with its old tabs, at its old place). A bar whose tabs are all listed by a
        bigger bar, or again by a later bar, is such a left-over."""
        bars = [b for b in self.findChildren(QTabBar) if b.parentWidget() is self]
        tabs = [frozenset(b.tabText(i) for i in range(b.count())) for b in bars]
        for k, bar in enumerate(bars):
            if any(tabs[k] < other for other in tabs) or tabs[k] in tabs[k + 1:]:
                bar.hide()

    def _training_status(self, text: str) -> None:
        self.show_status(text, 0)
        self.update_title(text)

    # ------------------------------------------------------------------ wiring
    def _wire(self) -> None:
        ed, sc = self.editor, self.scene
        ed.document_replaced.connect(self._document_replaced)
        ed.status.connect(self.show_status)
        sc.connect_requested.connect(self._connect_ports)
        sc.nodes_moved.connect(ed.move_nodes)
        sc.status_message.connect(self.show_status)
        sc.selectionChanged.connect(self._selection_changed)
        sc.node_double_clicked.connect(lambda _nid: self.focus_rename())
        sc.refreshed.connect(self._update_totals)
        sc.refreshed.connect(self.view.minimap.refresh)
        sc.nodes_moved.connect(lambda _m: self.view.minimap.refresh())
        self.view.add_requested.connect(self.add_layer_at)
        self.view.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.palette.add_requested.connect(lambda t: self.add_layer_at(t, None))
        self.summary.node_activated.connect(self.select_node)
        self.problems.node_activated.connect(self.select_node)
        self.problems.count_changed.connect(self._problems_counted)
        self.undo_stack.cleanChanged.connect(self._clean_changed)

    def _connect_ports(self, src: str, src_port: int, dst: str, dst_port: int) -> None:
        """A connection dragged on the canvas; a refusal is said where it was dropped."""
        reason = self.editor.connect(src, src_port, dst, None if dst_port < 0 else dst_port,
                                     replace=dst_port >= 0)
        if reason:
            log.warning("Cannot connect %s → %s: %s", self.editor.doc.node(src).name,
                        self.editor.doc.node(dst).name, reason)
            self.view.show_notice(f"Cannot connect: {reason}", self.scene.last_drop)

    def _clean_changed(self, _clean: bool) -> None:
        if shiboken6.isValid(self.undo_stack):     # not while the window is being destroyed
            self.update_title()

    def _document_replaced(self, doc) -> None:
        self.scene.set_document(doc)
        self.summary.set_document(doc)
        self.problems.set_document(doc)

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.inspector.show_nodes(ids)
        if self.training is not None and len(ids) == 1:     # activation preview follows
            self.training.show_layer(self.editor.doc.node(ids[0]).name)

    def _problems_counted(self, n: int) -> None:
        self.docks["problems"].setWindowTitle(f"Problems ({n})" if n else "Problems")

    def _update_totals(self) -> None:
        doc = self.editor.doc
        self.totals_label.setText(f"{len(doc.nodes)} layers · {doc.total_params():,} params")

    # ------------------------------------------------------------------ project
    def set_project(self, project, modified: bool = False) -> None:
        """Show ``project``: its graph on the canvas, its view (zoom, centre) restored."""
        self.project = project
        self._extra_modified = modified
        self.editor.set_document(project.graph)
        self.undo_stack.setClean()
        self.update_title()
        self.project_changed.emit(project)
        QTimer.singleShot(0, self.restore_view_state)

    def restore_view_state(self) -> None:
        view = getattr(self.project, "view", None) or {}
        zoom, center = view.get("zoom"), view.get("center")
        if zoom and center and len(center) == 2:
            self.view.set_zoom(float(zoom))
            self.view.center_on(QPointF(float(center[0]), float(center[1])))
        else:
            self.view.show_graph()

    def store_view_state(self) -> None:
        """Put zoom and centre into the project (saved with it)."""
        if self.project is None:
            return
        c = self.view.view_center()
        self.project.view = {"zoom": round(self.view.zoom(), 4),
                             "center": [round(c.x(), 1), round(c.y(), 1)]}

    def project_title(self) -> str:
        if self.project is not None and self.project.path:
            return Path(self.project.path).name
        return f"{self.editor.doc.name or 'untitled'} (unsaved)"

    def is_modified(self) -> bool:
        return self._extra_modified or not self.undo_stack.isClean()

    def set_modified(self) -> None:
        """Mark changes that are not on the undo stack (training runs, data settings)."""
        self._extra_modified = True
        self.update_title()

    def mark_saved(self) -> None:
        self._extra_modified = False
        self.undo_stack.setClean()
        self.update_title()

    def update_title(self, activity: str = "") -> None:
        extra = f" — {activity}" if activity else ""
        self.setWindowTitle(f"{self.project_title()}[*]{extra} — LayerLoom")
        self.setWindowModified(self.is_modified())

    # ------------------------------------------------------------------ canvas commands
    def add_layer_at(self, type_name: str, scene_pos: QPointF | None) -> str | None:
        """Add a layer centred on ``scene_pos`` (the view centre when None) and select it."""
        if scene_pos is None:
            scene_pos = self.view.view_center()
        pos = self.scene.snap(QPointF(scene_pos.x() - NODE_WIDTH / 2, scene_pos.y() - 40))
        taken = {tuple(n.position) for n in self.editor.doc.nodes.values()}
        while (pos.x(), pos.y()) in taken:           # cascade repeated adds at one spot
            pos += QPointF(20, 20)
        # a required argument starts at a typical value (Dense 64, Conv2D 32×3×3): the new
        # node works at once, and the inspector shows what to change
        nid = self.editor.add_node(type_name, (pos.x(), pos.y()),
                                   params=get_spec(type_name).suggested())
        if nid is not None:
            self.scene.select_nodes([nid])
        return nid

    def highlight_node(self, name: str | None, message: str) -> None:
        """Mark the layer called ``name`` (e.g. where training went non-finite) and show it;
        None clears every mark."""
        if name is None:
            self.scene.clear_alerts()
            return
        node = self.editor.doc.node_by_name(name)
        if node is not None:
            self.scene.set_alert(node.id, message)
            self.select_node(node.id)

    def select_node(self, node_id: str) -> None:
        """Select a node and bring it into view (from problems, summary, training)."""
        item = self.scene.node_items.get(node_id)
        if item is None:
            return
        self.scene.select_nodes([node_id])
        if not self.view.visible_scene_rect().contains(item.sceneBoundingRect()):
            self.view.center_on(item.sceneBoundingRect().center())

    def auto_layout(self) -> None:
        """Arrange the graph, then show it (the layout may move it out of view)."""
        self.editor.auto_layout()
        self.scene.flush()
        self.view.show_graph()

    def copy_selection(self) -> None:
        self.editor.copy(self.scene.selected_node_ids())

    def cut_selection(self) -> None:
        self.editor.cut(self.scene.selected_node_ids())

    def paste(self) -> None:
        ids = self.editor.paste()
        if ids:
            self.scene.select_nodes(ids)

    def duplicate_selection(self) -> None:
        ids = self.editor.duplicate(self.scene.selected_node_ids())
        if ids:
            self.scene.select_nodes(ids)

    def delete_selection(self) -> None:
        self.editor.delete(self.scene.selected_node_ids(), self.scene.selected_edges())

    def set_snap(self, on: bool) -> None:
        self.scene.snap_enabled = on
        self.settings.setValue("snap_to_grid", on)

    def focus_rename(self) -> None:
        self.docks["inspector"].show()
        self.docks["inspector"].raise_()
        if self.inspector.name_edit is not None:
            self.inspector.name_edit.setFocus()
            self.inspector.name_edit.selectAll()

    def focus_palette_search(self) -> None:
        self.docks["palette"].show()
        self.palette.search.setFocus()
        self.palette.search.selectAll()

    def show_problems(self) -> None:
        self.docks["problems"].show()
        self.docks["problems"].raise_()

    def all_actions(self) -> dict[str, QAction]:
        """The window's actions and the training actions (Train, Pause, ...), by name."""
        merged = dict(self.actions.actions)
        for act in getattr(self.training, "actions", []):
            merged.setdefault("training:" + act.text(), act)
        return merged

    def show_shortcuts(self) -> None:
        from app.help_dialogs import show_shortcuts
        self._shortcuts_dialog = show_shortcuts(self, self.all_actions())

    def show_about(self) -> None:
        from app.help_dialogs import show_about
        show_about(self)

    # ------------------------------------------------------------------ appearance, messages
    def set_theme(self, name: str) -> None:
        self.theme = get_theme(name)
        apply_theme(QApplication.instance(), self.theme)
        self.scene.set_theme(self.theme)
        self.view.apply_theme()
        self.settings.setValue("theme", self.theme.name)

    def show_status(self, message: str, timeout_ms: int = 6000) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    def report_error(self, title: str, message: str) -> None:
        """A problem the user should read (bad file, failed save): log, status bar, dialog."""
        log.error("%s: %s", title, message)
        self.show_status(f"{title}: {message}", 15000)
        box = QMessageBox(QMessageBox.Warning, title, message, QMessageBox.Ok, self)
        box.setModal(False)
        box.show()
        self._last_error_box = box

    # ------------------------------------------------------------------ window state
    def restore_window_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state, STATE_VERSION)
        snap = self.settings.value("snap_to_grid", True)
        snap = snap if isinstance(snap, bool) else str(snap).lower() == "true"
        self.actions["snap"].setChecked(snap)
        self.scene.snap_enabled = snap

    def save_window_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(STATE_VERSION))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self._hide_stale_tab_bars)     # after the docks are laid out

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.file_ops.maybe_save():
            event.ignore()
            return
        self.save_window_state()
        self.settings.sync()
        self.exception_hook.uninstall()
        self.log_panel.detach()
        self.scene.detach()
        event.accept()
