"""Fixtures for the desktop-app tests (Qt offscreen, set in tests/conftest.py).

``window`` is a MainWindow with its own settings file (nothing touches the user's settings)
showing a small graph; ``mouse`` sends real mouse events to the canvas in scene coordinates.
"""
from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from engine.graph import GraphDocument


def small_graph() -> GraphDocument:
    """input(28, 28) → flatten → dense(64, relu) → dense_1(10, softmax)."""
    doc = GraphDocument(name="small")
    inp = doc.add_node("InputLayer", {"shape": [28, 28]}, "input", (0, 0))
    flat = doc.add_node("Flatten", {}, "flatten", (240, 0))
    d1 = doc.add_node("Dense", {"units": 64, "activation": "relu"}, "dense", (480, 0))
    d2 = doc.add_node("Dense", {"units": 10, "activation": "softmax"}, "dense_1", (720, 0))
    for a, b in ((inp, flat), (flat, d1), (d1, d2)):
        doc.connect(a.id, b.id)
    return doc


def canvas_project(doc: GraphDocument):
    """An unsaved project showing ``doc`` with no stored view (the canvas fits it)."""
    from engine.project import Project
    project = Project(graph=doc)
    project.view = {}
    return project


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def window(qtbot, settings, tmp_path):
    from app.main_window import MainWindow
    w = MainWindow(settings=settings, theme="light", restore_state=False,
                   catch_exceptions=False)
    # pytest-qt closes the window before this fixture's teardown: never ask about saving
    w.file_ops.ask_save_changes = lambda: "discard"
    w.file_ops.autosave_folder = lambda: tmp_path / "app-data"   # not the user's folder
    w.setAttribute(Qt.WA_DeleteOnClose)          # do not let closed windows pile up
    qtbot.addWidget(w)
    w.set_project(canvas_project(small_graph()))
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    QApplication.processEvents()
    w.scene.flush()
    w.view.reset_zoom()
    w.view.center_on(w.scene.nodes_rect().center())
    yield w


def node_id(window, name: str) -> str:
    return window.editor.doc.node_by_name(name).id


class Mouse:
    """Mouse gestures on the canvas viewport, positions given in scene coordinates."""

    def __init__(self, view):
        self.view = view
        self.vp = view.viewport()

    def _send(self, kind, scene_pos: QPointF, button, buttons, modifiers=Qt.NoModifier):
        pos = QPointF(self.view.mapFromScene(scene_pos))
        ev = QMouseEvent(kind, pos, self.vp.mapToGlobal(pos.toPoint()).toPointF(), button,
                         buttons, modifiers)
        QApplication.sendEvent(self.vp, ev)

    def drag(self, start: QPointF, end: QPointF, button=Qt.LeftButton, steps: int = 6,
             modifiers=Qt.NoModifier) -> None:
        self._send(QEvent.MouseButtonPress, start, button, button, modifiers)
        for k in range(1, steps + 1):
            p = start + (end - start) * (k / steps)
            self._send(QEvent.MouseMove, p, Qt.NoButton, button, modifiers)
        self._send(QEvent.MouseButtonRelease, end, button, Qt.NoButton, modifiers)
        QApplication.processEvents()

    def click(self, pos: QPointF, modifiers=Qt.NoModifier) -> None:
        self._send(QEvent.MouseButtonPress, pos, Qt.LeftButton, Qt.LeftButton, modifiers)
        self._send(QEvent.MouseButtonRelease, pos, Qt.LeftButton, Qt.NoButton, modifiers)
        QApplication.processEvents()


@pytest.fixture
def mouse(window) -> Mouse:
    return Mouse(window.view)
