"""Render the canvas-interaction screenshots in docs/ (offscreen, no display needed):

    .venv/bin/python docs/make_canvas_screenshots.py

``canvas_context_menu.png``: the seed MNIST CNN (examples/mnist_cnn.loom) with the right-click
menu of its first Dense layer open; ``canvas_port_quick_add.png``: the output port of the last
layer dragged into empty canvas, the quick-add list filtered by what was typed.

A popup menu is a window of its own, so the picture is the main window's grab with the menu's
grab painted where the menu stands.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, QRect
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]


def settle(app) -> None:
    for _ in range(5):
        app.processEvents()


def composite(window, popup, out: Path, area: QRect) -> None:
    """The window with ``popup`` painted over it, cropped to ``area`` (window coordinates)."""
    picture = window.grab()
    painter = QPainter(picture)
    painter.drawPixmap(window.mapFromGlobal(popup.mapToGlobal(QPoint(0, 0))), popup.grab())
    painter.end()
    picture.copy(area).save(str(out))
    print(f"wrote docs/{out.name}")


def canvas_area(window) -> QRect:
    view = window.view
    return QRect(view.mapTo(window, QPoint(0, 0)), view.size())


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))        # run as a script from anywhere
    from app import main as app_main

    out = ROOT / "docs"
    args = app_main.parse_args(["--open", str(ROOT / "examples" / "mnist_cnn.loom"),
                                "--screenshot", "unused.png", "--theme", "light"])
    app = app_main.make_application()
    window = app_main.create_window(args)
    window.resize(1500, 900)
    window.show()
    settle(app)
    window.restore_view_state()
    settle(app)
    scene, view = window.scene, window.view

    # the right-click menu of the first Dense layer
    dense = window.editor.doc.node_by_name("dense")
    rect = scene.node_items[dense.id].sceneBoundingRect()
    view.center_on(rect.center() + QPointF(200, 120))
    settle(app)
    at = QPointF(rect.right() - 30, rect.bottom() - 14)     # the card stays in sight
    window.canvas_interactions.show_menu(at, view.viewport().mapToGlobal(view.mapFromScene(at)))
    menu = window.canvas_interactions.menu
    menu.setActiveAction(next(a for a in menu.actions() if a.text() == "Disconnect"))
    settle(app)
    composite(window, menu, out / "canvas_context_menu.png", canvas_area(window))
    menu.hide()

    # an output port dragged into empty canvas: quick-add, filtered
    last = window.editor.doc.output_nodes()[0]
    item = scene.node_items[last.id]
    view.center_on(item.sceneBoundingRect().center() + QPointF(120, 130))
    settle(app)
    port = item.ports_out[0].scenePos()
    drop = port + QPointF(110, 150)
    scene.begin_connection(item.ports_out[0], port)
    scene._update_drag(drop)                 # the rubber wire as the mouse leaves it
    settle(app)
    window.canvas_interactions.port_released(last.id, 0, True, drop)
    popup = view.quick_add
    popup.search.setText("drop")
    settle(app)
    picture_area = canvas_area(window)
    composite(window, popup, out / "canvas_port_quick_add.png", picture_area)
    popup.hide()
    scene._cancel_drag()
    window.file_ops.ask_save_changes = lambda: "discard"
    window.close()


if __name__ == "__main__":
    main()
