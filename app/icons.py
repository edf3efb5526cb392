"""Layer icons drawn in code: a white glyph per palette category on the category's colour.

``draw_glyph`` paints the glyph into any rectangle (node headers use it too); ``layer_icon``
returns a cached QIcon for the palette. A PNG/SVG in ``resources/icons/<spec.icon>.(svg|png)``
overrides the drawn icon of that layer type.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

from app.theme import CATEGORY_COLORS, DEFAULT_CATEGORY_COLOR

ICON_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"


def _lines(p: QPainter, r: QRectF, pts: list[tuple[float, float, float, float]]) -> None:
    for x1, y1, x2, y2 in pts:
        p.drawLine(QPointF(r.x() + x1 * r.width(), r.y() + y1 * r.height()),
                   QPointF(r.x() + x2 * r.width(), r.y() + y2 * r.height()))


def _dot(p: QPainter, r: QRectF, x: float, y: float, rad: float) -> None:
    p.drawEllipse(QPointF(r.x() + x * r.width(), r.y() + y * r.height()),
                  rad * r.width(), rad * r.height())


def _glyph_input(p: QPainter, r: QRectF) -> None:
    _lines(p, r, [(0.15, 0.5, 0.8, 0.5), (0.55, 0.28, 0.8, 0.5), (0.55, 0.72, 0.8, 0.5)])


def _glyph_core(p: QPainter, r: QRectF) -> None:
    left, right = (0.25, 0.5, 0.75), (0.3, 0.7)
    _lines(p, r, [(0.22, a, 0.78, b) for a in left for b in right])
    for y in left:
        _dot(p, r, 0.22, y, 0.06)
    for y in right:
        _dot(p, r, 0.78, y, 0.06)


def _glyph_conv(p: QPainter, r: QRectF) -> None:
    for k in range(3):
        off = k * 0.12
        p.drawRect(QRectF(r.x() + (0.18 + off) * r.width(), r.y() + (0.42 - off) * r.height(),
                          0.42 * r.width(), 0.42 * r.height()))


def _glyph_pool(p: QPainter, r: QRectF) -> None:
    p.drawRect(QRectF(r.x() + 0.15 * r.width(), r.y() + 0.2 * r.height(),
                      0.36 * r.width(), 0.6 * r.height()))
    p.drawRect(QRectF(r.x() + 0.66 * r.width(), r.y() + 0.38 * r.height(),
                      0.2 * r.width(), 0.24 * r.height()))
    _lines(p, r, [(0.51, 0.2, 0.66, 0.38), (0.51, 0.8, 0.66, 0.62)])


def _glyph_norm(p: QPainter, r: QRectF) -> None:
    path = QPainterPath(QPointF(r.x() + 0.12 * r.width(), r.y() + 0.78 * r.height()))
    path.cubicTo(QPointF(r.x() + 0.42 * r.width(), r.y() + 0.78 * r.height()),
                 QPointF(r.x() + 0.38 * r.width(), r.y() + 0.18 * r.height()),
                 QPointF(r.x() + 0.5 * r.width(), r.y() + 0.18 * r.height()))
    path.cubicTo(QPointF(r.x() + 0.62 * r.width(), r.y() + 0.18 * r.height()),
                 QPointF(r.x() + 0.58 * r.width(), r.y() + 0.78 * r.height()),
                 QPointF(r.x() + 0.88 * r.width(), r.y() + 0.78 * r.height()))
    p.drawPath(path)


def _glyph_recurrent(p: QPainter, r: QRectF) -> None:
    box = QRectF(r.x() + 0.2 * r.width(), r.y() + 0.2 * r.height(), 0.6 * r.width(),
                 0.6 * r.height())
    p.drawArc(box, 40 * 16, 280 * 16)
    _lines(p, r, [(0.75, 0.22, 0.8, 0.38), (0.8, 0.38, 0.64, 0.38)])


def _glyph_embedding(p: QPainter, r: QRectF) -> None:
    for y in (0.25, 0.42, 0.59, 0.76):
        _lines(p, r, [(0.38, y, 0.82, y)])
        _dot(p, r, 0.22, y, 0.05)


def _glyph_merge(p: QPainter, r: QRectF) -> None:
    _lines(p, r, [(0.15, 0.25, 0.5, 0.5), (0.15, 0.75, 0.5, 0.5), (0.5, 0.5, 0.85, 0.5)])


def _glyph_reshape(p: QPainter, r: QRectF) -> None:
    p.drawRect(QRectF(r.x() + 0.14 * r.width(), r.y() + 0.3 * r.height(),
                      0.26 * r.width(), 0.4 * r.height()))
    p.drawRect(QRectF(r.x() + 0.58 * r.width(), r.y() + 0.42 * r.height(),
                      0.3 * r.width(), 0.16 * r.height()))
    _lines(p, r, [(0.43, 0.5, 0.55, 0.5)])


def _glyph_dropout(p: QPainter, r: QRectF) -> None:
    for i, x in enumerate((0.25, 0.5, 0.75)):
        for j, y in enumerate((0.25, 0.5, 0.75)):
            if (i + j) % 2 == 0:
                _dot(p, r, x, y, 0.07)
            else:
                _lines(p, r, [(x - 0.06, y - 0.06, x + 0.06, y + 0.06)])


def _glyph_wrapper(p: QPainter, r: QRectF) -> None:
    _lines(p, r, [(0.3, 0.2, 0.2, 0.2), (0.2, 0.2, 0.2, 0.8), (0.2, 0.8, 0.3, 0.8),
                  (0.7, 0.2, 0.8, 0.2), (0.8, 0.2, 0.8, 0.8), (0.8, 0.8, 0.7, 0.8)])
    _dot(p, r, 0.5, 0.5, 0.08)


def _glyph_activation(p: QPainter, r: QRectF) -> None:
    _lines(p, r, [(0.15, 0.72, 0.5, 0.72), (0.5, 0.72, 0.85, 0.25)])


GLYPHS = {
    "Input": _glyph_input, "Core": _glyph_core, "Convolution": _glyph_conv,
    "Pooling": _glyph_pool, "Normalization": _glyph_norm, "Recurrent": _glyph_recurrent,
    "Embedding": _glyph_embedding, "Merge": _glyph_merge, "Reshaping": _glyph_reshape,
    "Regularization": _glyph_dropout, "Wrappers": _glyph_wrapper, "Activation": _glyph_activation,
}


def draw_glyph(p: QPainter, rect: QRectF, category: str, color: QColor | str = "#ffffff",
               width: float = 1.6) -> None:
    """Paint the line glyph of ``category`` into ``rect`` (no background)."""
    p.save()
    pen = QPen(QColor(color), width)
    pen.setCapStyle(Qt.RoundCap)
    pen.setJoinStyle(Qt.RoundJoin)
    p.setPen(pen)
    p.setBrush(Qt.NoBrush)
    GLYPHS.get(category, _glyph_core)(p, rect)
    p.restore()


@lru_cache(maxsize=256)
def layer_icon(category: str, icon_name: str = "", size: int = 32) -> QIcon:
    """The palette icon of a layer type: a file from resources/icons when present, else drawn."""
    for ext in ("svg", "png"):
        path = ICON_DIR / f"{icon_name}.{ext}"
        if icon_name and path.is_file():
            return QIcon(str(path))
    pix = QPixmap(size, size)
    pix.fill(Qt.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(Qt.NoPen)
    p.setBrush(QColor(CATEGORY_COLORS.get(category, DEFAULT_CATEGORY_COLOR)))
    p.drawRoundedRect(QRectF(1, 1, size - 2, size - 2), size * 0.22, size * 0.22)
    draw_glyph(p, QRectF(size * 0.14, size * 0.14, size * 0.72, size * 0.72), category,
               width=max(1.4, size / 16))
    p.end()
    return QIcon(pix)


def _tool_zoom(p: QPainter, s: float, sign: str) -> None:
    p.drawEllipse(QPointF(s * 0.42, s * 0.42), s * 0.26, s * 0.26)
    p.drawLine(QPointF(s * 0.61, s * 0.61), QPointF(s * 0.86, s * 0.86))
    p.drawLine(QPointF(s * 0.30, s * 0.42), QPointF(s * 0.54, s * 0.42))
    if sign == "+":
        p.drawLine(QPointF(s * 0.42, s * 0.30), QPointF(s * 0.42, s * 0.54))


def _tool_fit(p: QPainter, s: float) -> None:
    a, b, k = s * 0.16, s * 0.84, s * 0.22
    for x, y, dx, dy in ((a, a, 1, 1), (b, a, -1, 1), (a, b, 1, -1), (b, b, -1, -1)):
        p.drawLine(QPointF(x, y), QPointF(x + dx * k, y))
        p.drawLine(QPointF(x, y), QPointF(x, y + dy * k))
    p.drawRect(QRectF(s * 0.36, s * 0.38, s * 0.28, s * 0.24))


def _tool_layout(p: QPainter, s: float) -> None:
    boxes = (QRectF(s * 0.08, s * 0.40, s * 0.22, s * 0.2), QRectF(s * 0.58, s * 0.16, s * 0.3,
             s * 0.2), QRectF(s * 0.58, s * 0.64, s * 0.3, s * 0.2))
    for r in boxes:
        p.drawRoundedRect(r, s * 0.04, s * 0.04)
    p.drawLine(QPointF(s * 0.30, s * 0.5), QPointF(s * 0.58, s * 0.26))
    p.drawLine(QPointF(s * 0.30, s * 0.5), QPointF(s * 0.58, s * 0.74))


TOOL_ICONS = {
    "zoom_in": lambda p, s: _tool_zoom(p, s, "+"),
    "zoom_out": lambda p, s: _tool_zoom(p, s, "-"),
    "fit": _tool_fit,
    "auto_layout": _tool_layout,
}


@lru_cache(maxsize=64)
def tool_icon(name: str, color: str = "#5d6673", size: int = 32) -> QIcon:
    """Line icons for the toolbar actions that the Qt style lacks (zoom, fit, layout)."""
    pix = QPixmap(size, size)
    pix.fill(Qt.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.Antialiasing)
    pen = QPen(QColor(color), max(1.6, size / 14))
    pen.setCapStyle(Qt.RoundCap)
    p.setPen(pen)
    p.setBrush(Qt.NoBrush)
    TOOL_ICONS[name](p, float(size))
    p.end()
    return QIcon(pix)
