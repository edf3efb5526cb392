"""Export the canvas as a picture: PNG (raster, high resolution) or SVG (vector).

Only the graph is drawn — no grid, no selection — on the theme's canvas colour (PNG) or on a
transparent background (SVG), so figures drop into papers and slides.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem

from app.canvas.scene import GraphScene

MARGIN = 24.0


def graph_rect(scene: GraphScene) -> QRectF:
    """The graph's nodes and edges with a margin, in scene coordinates."""
    rect = QRectF()
    for item in list(scene.node_items.values()) + list(scene.edge_items.values()):
        rect = rect.united(item.sceneBoundingRect())
    return rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)


def render_scene(scene: GraphScene, painter: QPainter, target: QRectF, source: QRectF,
                 aspect: Qt.AspectRatioMode = Qt.KeepAspectRatio) -> None:
    """Draw ``source`` (scene coordinates) into ``target`` without selection highlights."""
    # Cached item pixmaps would end up as bitmaps inside the SVG: draw them afresh.
    selected = scene.selectedItems()
    cached = [(item, item.cacheMode()) for item in scene.items()
              if item.cacheMode() != QGraphicsItem.NoCache]
    for item in selected:
        item.setSelected(False)
    for item, _mode in cached:
        item.setCacheMode(QGraphicsItem.NoCache)
    try:
        scene.render(painter, target, source, aspect)
    finally:
        for item, mode in cached:
            item.setCacheMode(mode)
        for item in selected:
            item.setSelected(True)


def export_png(scene: GraphScene, path: str | Path, scale: float = 3.0) -> QSize:
    """Render the graph at ``scale`` × (3 = about 300 dpi at 100% zoom); returns the size."""
    scene.flush()
    source = graph_rect(scene)
    size = QSize(max(1, round(source.width() * scale)), max(1, round(source.height() * scale)))
    image = QImage(size, QImage.Format_ARGB32_Premultiplied)
    image.setDotsPerMeterX(round(96 * scale / 0.0254))
    image.setDotsPerMeterY(round(96 * scale / 0.0254))
    image.fill(QColor(scene.theme.canvas_bg))
    painter = QPainter(image)
    painter.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
    render_scene(scene, painter, QRectF(0, 0, size.width(), size.height()), source)
    painter.end()
    if not image.save(str(path), "PNG"):
        raise OSError(f"could not write the PNG file {path}")
    return size


def export_svg(scene: GraphScene, path: str | Path, title: str = "LayerLoom graph") -> None:
    """Write the graph as an SVG vector drawing."""
    from PySide6.QtSvg import QSvgGenerator
    scene.flush()
    source = graph_rect(scene)
    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(source.size().toSize())
    gen.setViewBox(QRectF(0, 0, source.width(), source.height()))
    gen.setTitle(title)
    gen.setDescription("Exported from LayerLoom")
    painter = QPainter()
    if not painter.begin(gen):
        raise OSError(f"could not write the SVG file {path}")
    painter.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
    render_scene(scene, painter, QRectF(0, 0, source.width(), source.height()), source)
    painter.end()
    if not Path(path).is_file():
        raise OSError(f"could not write the SVG file {path}")
