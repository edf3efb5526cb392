"""The evaluation view: how the trained model does on held-out data.

Tabs: scores (loss and metrics, per-class precision/recall/F1), the confusion matrix (a
pyqtgraph image with the counts written in the cells), sample predictions with their true labels,
the worst-classified samples, and for regression a predicted-vs-true scatter. It shows an
:class:`app.training.scoring.EvaluationResult` computed in the training thread.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.training.metric_plot import TRAIN
from app.training.sample_grid import SampleGrid
from app.training.scoring import EvaluationResult
from app.training.themed_plot import ThemedPlot

MAX_LABELLED_CELLS = 30     # classes up to which every confusion cell shows its count
GRID_SAMPLES = 32


def _table(headers: list[str], parent: QWidget) -> QTableWidget:
    t = QTableWidget(0, len(headers), parent)
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setAlternatingRowColors(True)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    return t


def _fill(table: QTableWidget, rows: list[list]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            text = f"{v:.4f}" if isinstance(v, (float, np.floating)) else str(v)
            item = QTableWidgetItem(text)
            if c > 0:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


class ConfusionMatrixPlot(ThemedPlot):
    """Confusion matrix as an image (rows: true class, columns: predicted) with count labels."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        item = self.getPlotItem()
        item.setLabel("bottom", "predicted class")
        item.setLabel("left", "true class")
        item.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.ColorMap([0.0, 1.0], [QColor("#f7fbff"), QColor("#08306b")]))
        self.addItem(self.image)
        self.labels: list[pg.TextItem] = []

    def set_matrix(self, cm: np.ndarray, names: list[str]) -> None:
        for t in self.labels:
            self.removeItem(t)
        self.labels = []
        c = len(cm)
        # colour by the row-normalised rate so rare classes stay readable; counts are printed
        rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        self.image.setImage(rates.astype(np.float32), levels=(0.0, 1.0))
        self.image.setRect(0, 0, c, c)
        ticks = [(i + 0.5, n) for i, n in enumerate(names)]
        item = self.getPlotItem()
        item.getAxis("bottom").setTicks([ticks])
        item.getAxis("left").setTicks([ticks])
        if c <= MAX_LABELLED_CELLS:
            font = QFont()
            font.setPointSizeF(9 if c <= 12 else 7)
            for i in range(c):
                for j in range(c):
                    dark = rates[i, j] > 0.5
                    t = pg.TextItem(str(int(cm[i, j])), anchor=(0.5, 0.5),
                                    color="white" if dark else "#202020")
                    t.setFont(font)
                    t.setPos(j + 0.5, i + 0.5)
                    self.addItem(t)
                    self.labels.append(t)
        item.setRange(xRange=(0, c), yRange=(0, c), padding=0.02)


class RegressionScatter(ThemedPlot):
    """Predicted against true values, with the ideal y = x line."""

    MAX_POINTS = 20000

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        item = self.getPlotItem()
        item.setLabel("bottom", "true value")
        item.setLabel("left", "predicted value")
        item.showGrid(x=True, y=True, alpha=0.15)
        c = QColor(TRAIN)
        c.setAlpha(120)
        self.scatter = pg.ScatterPlotItem(size=5, pen=None, brush=c)
        self.ideal = pg.PlotDataItem(pen=pg.mkPen("#888888", width=1, style=Qt.PenStyle.DashLine))
        self.addItem(self.ideal)
        self.addItem(self.scatter)

    def set_values(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        n = len(y_true)
        if n > self.MAX_POINTS:
            idx = np.random.default_rng(0).choice(n, self.MAX_POINTS, replace=False)
            y_true, y_pred = y_true[idx], y_pred[idx]
        self.scatter.setData(y_true, y_pred)
        if n:
            lo = float(min(y_true.min(), y_pred.min()))
            hi = float(max(y_true.max(), y_pred.max()))
            self.ideal.setData([lo, hi], [lo, hi])


class EvaluationView(QWidget):
    """Shows one :class:`EvaluationResult`."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.result: EvaluationResult | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.header = QLabel("Train a model to see how it does on held-out data.", self)
        self.header.setWordWrap(True)
        lay.addWidget(self.header)
        self.tabs = QTabWidget(self)
        lay.addWidget(self.tabs, 1)

        scores = QSplitter(Qt.Orientation.Vertical, self)
        self.scores_table = _table(["metric", "value"], scores)
        self.class_table = _table(["class", "precision", "recall", "F1", "support"], scores)
        scores.addWidget(self.scores_table)
        scores.addWidget(self.class_table)
        scores.setSizes([100, 500])
        self.confusion = ConfusionMatrixPlot(self)
        self.samples = SampleGrid(self)
        self.worst = SampleGrid(self)
        self.scatter = RegressionScatter(self)
        self.tabs.addTab(scores, "Scores")
        self.tabs.addTab(self.confusion, "Confusion matrix")
        self.tabs.addTab(self.samples, "Predictions")
        self.tabs.addTab(self.worst, "Worst classified")
        self.tabs.addTab(self.scatter, "Predicted vs true")
        self._show_tabs(set())

    def _show_tabs(self, visible: set[QWidget]) -> None:
        for i in range(1, self.tabs.count()):
            self.tabs.setTabVisible(i, self.tabs.widget(i) in visible)

    def show_result(self, result: EvaluationResult, source: str = "validation data") -> None:
        self.result = result
        self.header.setText(f"<b>Evaluation</b> on {result.n_samples:,} samples of {source}"
                            + (f" — accuracy {self._accuracy(result):.2%}"
                               if result.confusion is not None else ""))
        _fill(self.scores_table, [[k, float(v)] for k, v in result.logs.items()])
        if result.confusion is not None:
            self._show_classification(result)
            self.tabs.setTabText(self.tabs.indexOf(self.samples), "Predictions")
            self._show_tabs({self.confusion, self.samples, self.worst})
        elif result.kind == "regression":
            self.class_table.setRowCount(0)
            self.scatter.set_values(result.y_true, result.y_pred)
            self._show_tabs({self.scatter, self.samples})
            self._show_regression_samples(result)
        else:
            self.class_table.setRowCount(0)
            self._show_tabs(set())

    @staticmethod
    def _accuracy(result: EvaluationResult) -> float:
        cm = result.confusion
        return float(np.trace(cm) / max(cm.sum(), 1))

    def _show_classification(self, r: EvaluationResult) -> None:
        names = r.class_names
        _fill(self.class_table, [[names[i], float(r.precision[i]), float(r.recall[i]),
                                  float(r.f1[i]), int(r.support[i])] for i in range(len(names))])
        self.confusion.set_matrix(r.confusion, names)
        if r.x is None:
            return
        first = range(min(GRID_SAMPLES, r.n_samples))
        self.samples.set_samples([self._tile(r, i) for i in first])
        self.worst.set_samples([self._tile(r, int(i)) for i in r.worst[:GRID_SAMPLES]])

    @staticmethod
    def _tile(r: EvaluationResult, i: int) -> tuple[np.ndarray, str, bool]:
        t, p = int(r.y_true[i]), int(r.y_pred[i])
        ok = t == p
        caption = f"{r.class_names[p]} ({r.confidence[i]:.0%})"
        if not ok:
            caption += f"\ntrue: {r.class_names[t]}"
        return r.x[i], caption, ok

    def _show_regression_samples(self, r: EvaluationResult) -> None:
        if r.x is None:
            return
        per = len(r.y_true) // max(r.n_samples, 1)
        tiles = []
        for i in [int(j) for j in r.worst[:GRID_SAMPLES]]:
            t = r.y_true[i * per:(i + 1) * per]
            p = r.y_pred[i * per:(i + 1) * per]
            tiles.append((r.x[i], f"pred {_short(p)}\ntrue {_short(t)}", None))
        self.samples.set_samples(tiles)
        self.tabs.setTabText(self.tabs.indexOf(self.samples), "Largest errors")

    def clear(self, message: str | None = None) -> None:
        """No result; ``message`` (or the default hint) says how to get one."""
        self.result = None
        self.header.setText(message or "Train a model to see how it does on held-out data.")
        self.scores_table.setRowCount(0)
        self.class_table.setRowCount(0)
        self._show_tabs(set())


def _short(values: np.ndarray) -> str:
    return ", ".join(f"{v:.3g}" for v in values[:3]) + ("…" if len(values) > 3 else "")
