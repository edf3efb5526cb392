"""Thumbnails of projects' graphs (the start page's example cards), rendered with the canvas's own
items and kept in a cache folder so they are drawn once per example file, theme and size.

The cache key is the sha1 of the project file's bytes (an edited or updated example gets a new
thumbnail; renaming it does not matter), the theme name, the size and :data:`VERSION` (bumped
when the drawing changes). Rendering happens in the GUI thread (a QGraphicsScene); callers
spread it over event-loop turns, one thumbnail at a time.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, QStandardPaths, Qt
from PySide6.QtGui import QColor, QImage, QPainter

from app.theme import Theme

VERSION = 1
MAX_CACHED = 64                  # older thumbnails beyond this are removed


def default_cache_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation)
    return Path(base or Path.home() / ".cache" / "LayerLoom") / "thumbnails"


def render_graph(graph, theme: Theme, size: QSize) -> QImage:
    """The whole graph drawn into a ``size`` image on the canvas colour, centred."""
    from app.canvas.export import graph_rect, render_scene
    from app.canvas.scene import GraphScene
    scene = GraphScene(theme)
    try:
        scene.set_document(graph)
        scene.flush()
        image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(QColor(theme.canvas_bg))
        if scene.node_items:
            painter = QPainter(image)
            painter.setRenderHints(QPainter.RenderHint.Antialiasing
                                   | QPainter.RenderHint.TextAntialiasing
                                   | QPainter.RenderHint.SmoothPixmapTransform)
            pad = 6.0
            source = graph_rect(scene)
            scale = min((size.width() - 2 * pad) / source.width(),
                        (size.height() - 2 * pad) / source.height())
            w, h = source.width() * scale, source.height() * scale
            target = QRectF((size.width() - w) / 2, (size.height() - h) / 2, w, h)   # centred
            render_scene(scene, painter, target, source, Qt.AspectRatioMode.IgnoreAspectRatio)
            painter.end()
        return image
    finally:
        scene.detach()


class ThumbnailCache:
    """Thumbnails of project files, from ``folder`` or rendered (and then stored there)."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder is not None else default_cache_dir()
        self.rendered = 0                 # how many were drawn (not read from the cache)

    def key(self, path: Path, theme: Theme, size: QSize) -> str:
        digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()[:16]
        return f"{digest}-{theme.name}-{size.width()}x{size.height()}-v{VERSION}"

    def cached(self, path: Path, theme: Theme, size: QSize) -> QImage | None:
        """The stored thumbnail, or None (not drawn yet, or unreadable)."""
        try:
            file = self.folder / f"{self.key(path, theme, size)}.png"
        except OSError:
            return None
        image = QImage(str(file)) if file.is_file() else QImage()
        return None if image.isNull() or image.size() != size else image

    def get(self, path: Path, theme: Theme, size: QSize) -> QImage | None:
        """The thumbnail of the project file ``path`` (None if the project cannot be read)."""
        image = self.cached(path, theme, size)
        if image is not None:
            return image
        from engine.project import ProjectError, load_project
        try:
            project = load_project(path)
        except (ProjectError, OSError):
            return None
        image = render_graph(project.graph, theme, size)
        self.rendered += 1
        self._store(image, self.key(path, theme, size))
        return image

    def _store(self, image: QImage, key: str) -> None:
        """Keep the picture (best effort: a read-only cache only costs a re-render)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f"{key}.tmp.png"
            if image.save(str(tmp), "PNG"):
                tmp.replace(self.folder / f"{key}.png")
            files = sorted(self.folder.glob("*.png"), key=lambda p: p.stat().st_mtime)
            for old in files[:-MAX_CACHED]:
                old.unlink(missing_ok=True)
        except OSError:
            pass
