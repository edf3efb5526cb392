"""Activation preview: pick a layer (node) and a sample, see what that layer outputs.

Feature maps of convolution-like outputs (1, H, W, C) are tiled into one image, one tile per
channel, each scaled to its own range; vectors (1, units) are a bar chart; sequences (1, T, F)
a heat map (time along x). The output is computed with the model's execution plan, stopping at
the chosen layer (``Plan.forward(..., upto=layer)``), in inference mode.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.training.metric_plot import TRAIN
from app.training.sample_grid import describe_row, is_image, to_qimage
from app.training.themed_plot import themed_plot
from engine.models import data_adapter

MAX_BARS = 512


def layer_output(model, xs: list[np.ndarray], layer_name: str) -> np.ndarray:
    """The first output of layer ``layer_name`` for inputs ``xs`` (each (n, ...))."""
    plan = model._plan
    layer = model.get_layer(layer_name)
    if layer in plan.input_layers:
        return xs[plan.input_layers.index(layer)]
    return plan.forward(xs, training=False, upto=layer)[0]


def tile_feature_maps(maps: np.ndarray, gap: int = 1) -> tuple[np.ndarray, int]:
    """(H, W, C) → one 2-D mosaic (rows*(H+gap)-gap, cols*(W+gap)-gap) with each channel scaled
    to [0, 1] separately (gaps NaN, drawn as background); returns (mosaic, columns)."""
    h, w, c = maps.shape
    cols = max(1, math.ceil(math.sqrt(c)))
    rows = math.ceil(c / cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan, dtype=np.float32)
    for k in range(c):
        m = maps[:, :, k].astype(np.float64)
        lo, hi = np.nanmin(m), np.nanmax(m)
        m = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
        r, q = divmod(k, cols)
        out[r * (h + gap):r * (h + gap) + h, q * (w + gap):q * (w + gap) + w] = m
    return out, cols


class ActivationPreview(QWidget):
    """Layer + sample pickers above a view of that layer's output."""

    needed = Signal()          # shown without a model: the owner may offer one

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = None
        self.x = None
        self.labels = None
        self.class_names: list[str] = []
        self._blocked: str | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        row = QHBoxLayout()
        row.addWidget(QLabel("Layer", self))
        self.layer_box = QComboBox(self)
        self.layer_box.setMinimumContentsLength(14)
        row.addWidget(self.layer_box, 1)
        row.addWidget(QLabel("Sample", self))
        self.sample_box = QSpinBox(self)
        self.sample_box.setRange(0, 0)
        row.addWidget(self.sample_box)
        self.thumb = QLabel(self)
        self.thumb.setFixedSize(40, 40)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        row.addWidget(self.thumb)
        lay.addLayout(row)
        self.info = QLabel("Train or build a model and choose a data source to preview "
                           "what each layer computes.", self)
        self.info.setWordWrap(True)
        lay.addWidget(self.info)
        self.stack = QStackedWidget(self)
        self.image_plot = themed_plot(self)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_item.setColorMap(pg.colormap.get("viridis"))
        self.image_plot.addItem(self.image_item)
        self.image_plot.getPlotItem().invertY(True)
        self.image_plot.getPlotItem().setAspectLocked(True)
        for axis in ("left", "bottom"):                 # pixel indices tell the user nothing
            self.image_plot.getPlotItem().hideAxis(axis)
        self.bar_plot = themed_plot(self)
        self.bar_plot.getPlotItem().showGrid(y=True, alpha=0.15)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=QColor(TRAIN))
        self.bar_plot.addItem(self.bars)
        self.stack.addWidget(self.image_plot)
        self.stack.addWidget(self.bar_plot)
        lay.addWidget(self.stack, 1)
        self.layer_box.currentTextChanged.connect(lambda _: self.refresh())
        self.sample_box.valueChanged.connect(lambda _: self.refresh())

    # ------------------------------------------------------------ inputs
    def set_model(self, model) -> None:
        """Offer the layers of ``model`` (None: nothing to show)."""
        self.model = model
        current = self.layer_box.currentText()
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        if model is not None:
            names = [layer.name for layer in model.layers]
            self.layer_box.addItems(names)
            if current in names:
                self.layer_box.setCurrentText(current)
            elif len(names) > 1:
                self.layer_box.setCurrentIndex(1)
        self.layer_box.blockSignals(False)
        self.refresh()

    def set_data(self, x, labels=None, class_names: list[str] | None = None) -> None:
        """Samples to choose from: ``x`` (n, ...) or a list of input arrays; labels (n,)."""
        self.x = x
        self.labels = labels
        self.class_names = list(class_names or [])
        n = 0 if x is None else len(x[0] if isinstance(x, (list, tuple)) else x)
        self.sample_box.setRange(0, max(n - 1, 0))
        self.refresh()

    def select_layer(self, name: str) -> None:
        """Show ``name`` (e.g. when the canvas selection changes); unknown names are ignored."""
        if self.layer_box.findText(name) >= 0:
            self.layer_box.setCurrentText(name)

    def set_blocked(self, reason: str | None) -> None:
        """While training runs the model is busy: show ``reason`` instead of computing."""
        self._blocked = reason
        self.refresh()

    def show_message(self, text: str) -> None:
        """Say why there is nothing to show."""
        self.info.setText(text)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.model is None and not self._blocked:
            self.needed.emit()

    # ------------------------------------------------------------ drawing
    def refresh(self) -> None:
        name = self.layer_box.currentText()
        if self._blocked:
            self.info.setText(self._blocked)
            return
        if self.model is None or self.x is None or not name:
            self.info.setText("Train or build a model and choose a data source to preview "
                              "what each layer computes.")
            return
        i = self.sample_box.value()
        xs = [a[i:i + 1] for a in self.x] if isinstance(self.x, (list, tuple)) \
            else self.x[i:i + 1]
        self._show_thumb(xs[0][0] if isinstance(xs, list) else xs[0])
        try:
            prepared = data_adapter.prepare_inputs(xs, self.model._plan.input_layers)
            out = np.asarray(layer_output(self.model, prepared, name))[0]
        except (ValueError, TypeError, FloatingPointError) as e:
            self.info.setText(f"Cannot compute the output of '{name}' for sample {i}: {e}")
            return
        label = ""
        if self.labels is not None and i < len(self.labels):
            lab = int(np.asarray(self.labels[i]).argmax()) if np.ndim(self.labels[i]) else \
                self.labels[i]
            label = f", true label {self._name(lab)}"
        self.info.setText(f"<b>{name}</b> output {tuple(out.shape)} for sample {i}{label}; "
                          f"range [{np.nanmin(out):.3g}, {np.nanmax(out):.3g}]")
        self.show_output(out)

    def show_output(self, out: np.ndarray) -> None:
        """Draw one sample's layer output (no batch axis)."""
        if out.ndim == 3:
            mosaic, _ = tile_feature_maps(out)
            self._show_image(mosaic)
            self.info.setText(self.info.text() + f" — {out.shape[2]} feature maps")
        elif out.ndim == 2:
            self._show_image(out.T.astype(np.float32))       # features down, time across
        else:
            self._show_bars(out.reshape(-1))

    def _show_image(self, img: np.ndarray) -> None:
        finite = img[np.isfinite(img)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        self.image_item.setImage(img, levels=(lo, hi if hi > lo else lo + 1))
        self.image_plot.getPlotItem().autoRange(padding=0.02)
        self.stack.setCurrentWidget(self.image_plot)

    def _show_bars(self, values: np.ndarray) -> None:
        values = values[:MAX_BARS].astype(np.float64)
        x = np.arange(len(values))
        self.bars.setOpts(x=x, height=values, width=0.8)
        axis = self.bar_plot.getPlotItem().getAxis("bottom")
        if self.class_names and len(values) == len(self.class_names) and len(values) <= 30:
            axis.setTicks([[(i, n) for i, n in enumerate(self.class_names)]])
        else:
            axis.setTicks(None)
        self.bar_plot.getPlotItem().autoRange(padding=0.05)
        self.stack.setCurrentWidget(self.bar_plot)

    def _show_thumb(self, sample: np.ndarray) -> None:
        if is_image(sample):
            self.thumb.setPixmap(QPixmap.fromImage(to_qimage(sample)).scaled(
                38, 38, Qt.AspectRatioMode.KeepAspectRatio))
            self.thumb.setToolTip("")
        else:
            self.thumb.clear()
            self.thumb.setToolTip(describe_row(sample))

    def _name(self, label) -> str:
        try:
            k = int(label)
        except (TypeError, ValueError):
            return str(label)
        return self.class_names[k] if 0 <= k < len(self.class_names) else str(k)
