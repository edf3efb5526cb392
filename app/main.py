"""``layerloom``: start the desktop app.

    layerloom                       open the last project (or the MNIST CNN example)
    layerloom --open model.loom     open a project
    layerloom --theme dark          light or dark (remembered)
    layerloom --open m.loom --screenshot out.png [--select conv2d] [--size 1600x1000]
                                    render the window with the file loaded, save a PNG, exit

Keep this module's imports light: the window must paint within 2 s of a cold start, so numba
compilation and heavy engine modules (HDF5, training) load when first used.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="layerloom", description="Build neural networks "
                                     "visually and train them on your own machine.")
    parser.add_argument("--open", metavar="FILE", help="project (.loom) to open")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="render the window to a PNG file and exit")
    parser.add_argument("--select", metavar="LAYER", help="with --screenshot: select this "
                        "layer (by name) so the inspector shows it")
    parser.add_argument("--size", default="1600x1000", metavar="WxH",
                        help="window size for --screenshot (default 1600x1000)")
    parser.add_argument("--theme", choices=("light", "dark"), help="colour theme")
    return parser.parse_args(argv)


def make_application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("LayerLoom")
    app.setApplicationName("LayerLoom")
    app.setApplicationDisplayName("LayerLoom")
    return app


def create_window(args: argparse.Namespace, settings: QSettings | None = None):
    """The main window showing the startup project (raises ProjectError if --open fails)."""
    from app.main_window import MainWindow
    screenshot = bool(args.screenshot)
    window = MainWindow(settings=settings, theme=args.theme, restore_state=not screenshot,
                        catch_exceptions=not screenshot)
    if args.theme:
        window.settings.setValue("theme", args.theme)
    project = window.file_ops.startup_project(args.open)
    window.set_project(project)
    if not args.open and not screenshot and window.start_page.wanted_at_startup():
        window.start_page.show()          # the last project waits behind it
    if args.open and not screenshot:
        window.file_ops.add_recent(args.open)
        window.settings.setValue("last_project", str(Path(args.open).resolve()))
    return window


def take_screenshot(window, path: str, size: str = "1600x1000",
                    select: str | None = None) -> None:
    """Lay the window out at ``size`` and save what it shows as a PNG: the project's saved
    zoom and centre, or the whole graph when the project has no view."""
    app = QApplication.instance()
    w, h = (int(v) for v in size.lower().split("x"))
    window.resize(w, h)
    window.show()
    app.processEvents()
    app.processEvents()
    window.scene.flush()
    if select:
        node = window.editor.doc.node_by_name(select)
        if node is None:
            raise SystemExit(f"layerloom: --select: no layer named '{select}'")
        window.scene.select_nodes([node.id])
    for _ in range(3):
        app.processEvents()
    window.restore_view_state()          # after the layout settled: the saved view, or fit
    app.processEvents()
    if not window.grab().save(path, "PNG"):
        raise SystemExit(f"layerloom: could not write the screenshot {path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    app = make_application()
    try:
        window = create_window(args)
    except Exception as e:
        from engine.project import ProjectError
        if not isinstance(e, (ProjectError, OSError)):
            raise
        print(f"layerloom: {e}", file=sys.stderr)
        return 2
    if args.screenshot:
        take_screenshot(window, args.screenshot, args.size, args.select)
        print(f"layerloom: wrote {args.screenshot}")
        return 0
    window.show()                      # set_project queued the view restore for now
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
