"""A grid of data samples with captions: images shown as images (grey or RGB, channels last),
other samples as a short row of values. Used by the data panel and the evaluation view."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

OK_COLOR = "#2e7d32"
BAD_COLOR = "#c62828"


def is_image(sample: np.ndarray) -> bool:
    """True for (H, W), (H, W, 1), (H, W, 3) and (H, W, 4) samples of at least 4x4 pixels."""
    a = np.asarray(sample)
    if a.ndim == 2:
        return min(a.shape) >= 4
    return a.ndim == 3 and a.shape[2] in (1, 3, 4) and min(a.shape[:2]) >= 4


def to_qimage(sample: np.ndarray) -> QImage:
    """An 8-bit QImage of an image sample (H, W[, C]), contrast-stretched to its own range."""
    a = np.asarray(sample, dtype=np.float64)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    finite = a[np.isfinite(a)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if 0.0 <= lo and hi <= 1.0:
        lo, hi = 0.0, 1.0          # already [0, 1]: keep true black and white
    elif 0.0 <= lo and hi <= 255.0 and hi > 1.0:
        lo, hi = 0.0, 255.0
    scaled = np.nan_to_num((a - lo) / (hi - lo if hi > lo else 1.0))
    u8 = np.ascontiguousarray(np.clip(scaled * 255.0, 0, 255).astype(np.uint8))
    h, w = u8.shape[:2]
    if u8.ndim == 2:
        img = QImage(u8.data, w, h, w, QImage.Format.Format_Grayscale8)
    else:
        img = QImage(u8.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return img.copy()               # own the pixels: the numpy buffer goes away


def describe_row(sample: np.ndarray, limit: int = 6) -> str:
    """``[0.12, 3, -1.5, …] (20 values)`` for a non-image sample."""
    a = np.asarray(sample).reshape(-1)
    vals = ", ".join(f"{v:.3g}" if isinstance(v, (float, np.floating)) else str(v)
                     for v in a[:limit].tolist())
    more = f", … ({a.size} values)" if a.size > limit else ""
    return f"[{vals}{more}]"


class SampleTile(QFrame):
    """One sample: its picture (or values) above a caption; a coloured frame marks right/wrong."""

    def __init__(self, sample: np.ndarray, caption: str, ok: bool | None = None,
                 size: int = 72, parent: QWidget | None = None):
        super().__init__(parent)
        border = {True: OK_COLOR, False: BAD_COLOR}.get(ok, "#b0b0b0")
        self.setObjectName("tile")
        self.setStyleSheet(f"#tile {{ border: 2px solid {border}; border-radius: 4px; }}")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(2)
        self.picture = QLabel(self)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if is_image(sample):
            pix = QPixmap.fromImage(to_qimage(sample)).scaled(
                size, size, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation)
            self.picture.setPixmap(pix)
        else:
            self.picture.setText(describe_row(sample))
            self.picture.setWordWrap(True)
            self.picture.setFixedWidth(max(size, 120))
        self.caption = QLabel(caption, self)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if ok is not None:
            self.caption.setStyleSheet(f"color: {OK_COLOR if ok else BAD_COLOR}")
        lay.addWidget(self.picture)
        lay.addWidget(self.caption)


class SampleGrid(QScrollArea):
    """A scrollable grid of :class:`SampleTile`."""

    def __init__(self, parent: QWidget | None = None, columns: int = 8, tile_size: int = 72):
        super().__init__(parent)
        self.columns = columns
        self.tile_size = tile_size
        self.setWidgetResizable(True)
        self.tiles: list[SampleTile] = []
        self._inner = QWidget()
        self._layout = QGridLayout(self._inner)
        self._layout.setSpacing(6)
        self._layout.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.setWidget(self._inner)

    def set_samples(self, samples: list[tuple[np.ndarray, str, bool | None]]) -> None:
        """Replace the grid with (sample, caption, right-or-wrong or None) entries."""
        for tile in self.tiles:
            self._layout.removeWidget(tile)
            tile.deleteLater()
        self.tiles = []
        for i, (sample, caption, ok) in enumerate(samples):
            tile = SampleTile(sample, caption, ok, self.tile_size, self._inner)
            self._layout.addWidget(tile, i // self.columns, i % self.columns)
            self.tiles.append(tile)
