"""The window's actions, menus and toolbar, with their keyboard shortcuts.

Actions only call into the window's parts (file operations, editor, view); the behaviour lives
there.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QStyle, QToolBar

from app.icons import tool_icon

if TYPE_CHECKING:
    from app.main_window import MainWindow


class WindowActions:
    def __init__(self, window: MainWindow):
        self.w = window
        self.actions: dict[str, QAction] = {}
        self.menus: dict[str, QMenu] = {}
        self.toolbar = QToolBar("Main", window)
        self.toolbar.setObjectName("main_toolbar")
        self.toolbar.setMovable(False)
        window.addToolBar(self.toolbar)
        self._build()

    # ------------------------------------------------------------------ helpers
    def _action(self, key: str, text: str, slot: Callable | None = None,
                shortcuts=(), tip: str = "", icon=None, checkable: bool = False,
                checked: bool = False) -> QAction:
        a = QAction(text, self.w)
        if shortcuts:
            a.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(f"{tip} ({a.shortcut().toString()})" if shortcuts else tip)
        if isinstance(icon, str):
            a.setIcon(tool_icon(icon))
        elif icon is not None:
            a.setIcon(self.w.style().standardIcon(icon))
        a.setCheckable(checkable)
        a.setChecked(checkable and checked)       # before connecting: not a user's toggle
        if slot is not None:
            (a.toggled if checkable else a.triggered).connect(
                (lambda on, f=slot: f(on)) if checkable else (lambda _=False, f=slot: f()))
        self.w.addAction(a)
        self.actions[key] = a
        return a

    def __getitem__(self, key: str) -> QAction:
        return self.actions[key]

    # ------------------------------------------------------------------ menus
    def _build(self) -> None:
        w, fo, ed = self.w, self.w.file_ops, self.w
        sp = QStyle.StandardPixmap
        mb = w.menuBar()

        m = self.menus["file"] = mb.addMenu("&File")
        m.addAction(self._action("new", "&New", fo.new_project, [QKeySequence.New],
                                 "Start an empty project", sp.SP_FileIcon))
        m.addAction(self._action("open", "&Open…", fo.open_dialog, [QKeySequence.Open],
                                 "Open a LayerLoom project", sp.SP_DialogOpenButton))
        self.menus["recent"] = m.addMenu("Open &Recent")
        self.menus["recent"].aboutToShow.connect(self._fill_recent)
        self.menus["examples"] = m.addMenu("&Examples")
        self.menus["examples"].aboutToShow.connect(self._fill_examples)
        m.addSeparator()
        m.addAction(self._action("save", "&Save", fo.save, [QKeySequence.Save],
                                 "Save the project", sp.SP_DialogSaveButton))
        m.addAction(self._action("save_as", "Save &As…", fo.save_as, ["Ctrl+Shift+S"],
                                 "Save the project under a new name"))
        m.addSeparator()
        m.addAction(self._action("import_h5", "&Import Keras .h5…", fo.import_h5_dialog,
                                 ["Ctrl+I"], "Open a Keras HDF5 model as an editable graph"))
        export = self.menus["export"] = m.addMenu("E&xport")
        export.addAction(self._action("export_h5", "Keras model (.h5)…", fo.export_h5_dialog,
                                      ["Ctrl+E"], "Save the model as a Keras HDF5 file"))
        export.addAction(self._action("export_script", "Keras Python script (.py)…",
                                      fo.export_script_dialog, ["Ctrl+Shift+E"],
                                      "Write a Keras script that builds and trains this model"))
        export.addSeparator()
        export.addAction(self._action("export_png", "Canvas as PNG…", fo.export_png_dialog,
                                      tip="Save the graph as a high-resolution picture"))
        export.addAction(self._action("export_svg", "Canvas as SVG…", fo.export_svg_dialog,
                                      tip="Save the graph as a vector drawing"))
        m.addSeparator()
        m.addAction(self._action("quit", "&Quit", w.close, [QKeySequence.Quit], "Quit LayerLoom"))

        m = self.menus["edit"] = mb.addMenu("&Edit")
        undo = w.undo_stack.createUndoAction(w, "&Undo")
        undo.setShortcuts(QKeySequence.Undo)
        redo = w.undo_stack.createRedoAction(w, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        undo.setIcon(w.style().standardIcon(sp.SP_ArrowBack))
        redo.setIcon(w.style().standardIcon(sp.SP_ArrowForward))
        self.actions["undo"], self.actions["redo"] = undo, redo
        w.addAction(undo)
        w.addAction(redo)
        m.addAction(undo)
        m.addAction(redo)
        m.addSeparator()
        m.addAction(self._action("cut", "Cu&t", ed.cut_selection, [QKeySequence.Cut]))
        m.addAction(self._action("copy", "&Copy", ed.copy_selection, [QKeySequence.Copy]))
        m.addAction(self._action("paste", "&Paste", ed.paste, [QKeySequence.Paste]))
        m.addAction(self._action("duplicate", "D&uplicate", ed.duplicate_selection,
                                 ["Ctrl+D"], "Copy the selected layers next to themselves"))
        m.addAction(self._action("delete", "&Delete", ed.delete_selection,
                                 [QKeySequence.Delete, "Backspace"],
                                 "Delete the selected layers and connections"))
        m.addSeparator()
        m.addAction(self._action("select_all", "Select &All", w.scene.select_all,
                                 [QKeySequence.SelectAll]))
        m.addAction(self._action("rename", "Re&name Layer", ed.focus_rename, ["F2"]))
        m.addAction(self._action("find_layer", "&Find Layer Type", ed.focus_palette_search,
                                 [QKeySequence.Find], "Search the palette"))

        m = self.menus["graph"] = mb.addMenu("&Graph")
        m.addAction(self._action("quick_add", "&Add Layer…", w.view.open_quick_add,
                                 tip="Type a layer name to add it (Tab on the canvas)"))
        m.addAction(self._action("auto_layout", "Auto-&layout", w.auto_layout,
                                 ["Ctrl+L"], "Arrange the graph left to right",
                                 "auto_layout"))
        m.addAction(self._action("problems", "Show &Problems", ed.show_problems, ["F8"],
                                 "What keeps this graph from training"))

        m = self.menus["view"] = mb.addMenu("&View")
        m.addAction(self._action("zoom_in", "Zoom &In", w.view.zoom_in,
                                 [QKeySequence.ZoomIn, "Ctrl+="], "Zoom in", "zoom_in"))
        m.addAction(self._action("zoom_out", "Zoom &Out", w.view.zoom_out,
                                 [QKeySequence.ZoomOut], "Zoom out", "zoom_out"))
        m.addAction(self._action("zoom_reset", "&Actual Size", w.view.reset_zoom, ["Ctrl+0"]))
        m.addAction(self._action("fit", "&Fit to View", w.view.fit_all,
                                 ["Home", "Ctrl+Shift+F"], "Show the whole graph", "fit"))
        m.addSeparator()
        m.addAction(self._action("snap", "&Snap to Grid", ed.set_snap, ["Ctrl+'"],
                                 checkable=True, checked=w.scene.snap_enabled))
        m.addAction(self._action("minimap", "&Minimap", w.view.minimap.setVisible, ["Ctrl+M"],
                                 checkable=True, checked=True))
        themes = self.menus["theme"] = m.addMenu("&Theme")
        group = QActionGroup(w)
        for name in ("light", "dark"):
            a = self._action(f"theme_{name}", name.capitalize(),
                             lambda on, n=name: on and w.set_theme(n), checkable=True,
                             checked=w.theme.name == name)
            group.addAction(a)
            themes.addAction(a)
        self.menus["panels"] = m.addMenu("&Panels")
        for dock in w.docks.values():
            self.menus["panels"].addAction(dock.toggleViewAction())

        m = self.menus["help"] = mb.addMenu("&Help")
        m.addAction(self._action("shortcuts", "&Keyboard Shortcuts", ed.show_shortcuts,
                                 [QKeySequence.HelpContents]))
        m.addAction(self._action("about", "&About LayerLoom", ed.show_about))

        tb = self.toolbar
        for key in ("new", "open", "save"):
            tb.addAction(self.actions[key])
        tb.addSeparator()
        tb.addAction(undo)
        tb.addAction(redo)
        tb.addSeparator()
        for key in ("zoom_out", "zoom_in", "fit", "auto_layout"):
            tb.addAction(self.actions[key])

    # ------------------------------------------------------------------ dynamic menus
    def _fill_recent(self) -> None:
        menu = self.menus["recent"]
        menu.clear()
        recent = self.w.file_ops.recent_files()
        for path in recent:
            menu.addAction(path, lambda p=path: self.w.file_ops.open_path(p))
        if not recent:
            menu.addAction("(none)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear List", self.w.file_ops.clear_recent)

    def _fill_examples(self) -> None:
        menu = self.menus["examples"]
        menu.clear()
        examples = self.w.file_ops.examples()
        for title, path in examples:
            menu.addAction(title, lambda p=path: self.w.file_ops.open_example(p))
        if not examples:
            menu.addAction("(no examples found)").setEnabled(False)
