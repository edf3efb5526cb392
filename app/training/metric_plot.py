"""One live plot of the training dashboard: a quantity (loss, a metric, the learning rate) per
batch (raw faint + smoothed) and per epoch (training and validation markers), with runs from the
project history overlaid and a crosshair that reads out the values under the mouse. A legend
names the curves that have data (batch, smoothed, epoch, validation, earlier runs); the
right-click menu exports the plot as a PNG or its curves as CSV (:mod:`.plot_export`)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QWidget

from app.training.plot_export import PlotExportMenu
from app.training.run_buffer import MetricSeries, Series
from app.training.themed_plot import ThemedPlot

TRAIN = "#1f77b4"
VAL = "#e8710a"
LR = "#2ca02c"
LEGEND_MAX_COLUMNS = 4
LEGEND_MAX_SHARE = 0.4             # a legend taller than this share of the plot is hidden
OVERLAY = ("#7f7f7f", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#e377c2")


def faint(color: str, alpha: int = 70) -> QColor:
    c = QColor(color)
    c.setAlpha(alpha)
    return c


def nice_bounds(lo: float, hi: float, log: bool = False) -> tuple[float, float]:
    """Round ``lo``..``hi`` outwards to a 1-2-5 step (about six steps per range); in log mode
    (values are log10) to whole or half decades. A constant value gets a range around it."""
    if hi - lo <= 1e-12 * max(abs(hi), 1.0):
        if log:
            return lo - 0.5, hi + 0.5
        return (0.0, 2 * hi) if hi > 0 else (2 * lo, 0.0) if lo < 0 else (-1.0, 1.0)
    raw = (hi - lo) / 6
    if log:
        step = 0.5 if raw <= 0.5 else float(np.ceil(raw))
    else:
        mag = 10 ** np.floor(np.log10(raw))
        step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return float(np.floor(lo / step) * step), float(np.ceil(hi / step) * step)


class MetricPlot(ThemedPlot):
    """Plot of one quantity over epochs (x axis: fractional epochs)."""

    hovered = Signal(float)            # x under the mouse, for linked crosshairs
    left = Signal()

    def __init__(self, name: str, parent: QWidget | None = None, color: str = TRAIN,
                 legend: bool = False):
        super().__init__(parent)
        bg, fg = self.bg, self.fg
        self.name = name
        self.setMinimumSize(220, 150)
        item = self.getPlotItem()
        self.set_title(f"<span style='font-size:10pt; font-weight:600'>{name}</span>")
        item.showGrid(x=True, y=True, alpha=0.15)
        for axis in ("left", "bottom"):
            ax = item.getAxis(axis)
            # grid lines at major ticks only: minor-level grid lines made every frame ~6x
            # slower to paint, time the training thread then waits for the GIL
            ax.setStyle(maxTickLevel=0)
            ax.enableAutoSIPrefix(False)
        item.getAxis("left").setWidth(58)       # room for 0.0005; plots line up
        item.setLabel("bottom", "epoch")
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        self.raw = self.plot(pen=pg.mkPen(faint(color, 55), width=1), name="batch")
        self.smooth = self.plot(pen=pg.mkPen(color, width=2), name="smoothed")
        self.epoch_train = self.plot(pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DotLine),
                                     symbol="o", symbolSize=7, symbolBrush=color,
                                     symbolPen=pg.mkPen(bg), name="epoch")
        self.epoch_val = self.plot(pen=pg.mkPen(VAL, width=2), symbol="s", symbolSize=7,
                                   symbolBrush=VAL, symbolPen=pg.mkPen(bg), name="validation")
        self.legend = None
        self._legend_key: tuple = ()
        self._legend_fits = False
        if legend:       # after the curves: it lists only those with data (_sync_legend)
            # top right where values fall (a loss), bottom right where they rise (accuracy)
            falling = name.endswith("loss") or "error" in name
            self.legend = item.addLegend(offset=(-8, 8) if falling else (-8, -8),
                                         labelTextColor=fg, labelTextSize="8pt",
                                         brush=faint(bg.name(), 200), colCount=2)
        self._overlays: list[pg.PlotDataItem] = []
        self._overlay_named: list[pg.PlotDataItem] = []   # one legend entry per earlier run
        self._overlay_data: list[tuple[np.ndarray, np.ndarray]] = []
        self._drawn: dict[int, tuple[int, int]] = {}    # curve → (series, points) it shows
        self._sources: list[tuple[str, Series]] = []
        self._log = False
        self._x_hi = 1.0
        self._x_range: tuple[float, float] | None = None
        self._y_range: tuple[float, float] | None = None
        item.vb.disableAutoRange()
        item.vb.setMouseEnabled(x=False, y=False)      # the view follows the run by itself
        self.vline = pg.InfiniteLine(angle=90, movable=False,
                                     pen=pg.mkPen(faint(fg.name(), 120), width=1))
        self.readout = pg.TextItem("", color=fg, anchor=(0, 0), fill=faint(bg.name(), 215))
        for it in (self.vline, self.readout):
            it.setZValue(100)
            it.hide()
            self.addItem(it, ignoreBounds=True)
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.export_menu = PlotExportMenu(self, name, self.exported_curves, self.hide_crosshair)

    def recolor(self, bg: QColor, fg: QColor) -> None:
        if self.legend is not None:
            self.legend.setLabelTextColor(fg)
            self.legend.setBrush(faint(bg.name(), 200))
        for curve in (self.epoch_train, self.epoch_val):
            curve.setSymbolPen(pg.mkPen(bg))
        self.vline.setPen(pg.mkPen(faint(fg.name(), 120), width=1))
        self.readout.setColor(fg)
        self.readout.fill = pg.mkBrush(faint(bg.name(), 215))

    # ------------------------------------------------------------ data
    def show_metric(self, series: MetricSeries, show_raw: bool = True) -> None:
        """Draw the current buffer of one metric."""
        shown = [series.batch_raw if show_raw else None, series.batch_smooth,
                 series.epoch_train, series.epoch_val]
        for curve, part in zip((self.raw, self.smooth, self.epoch_train, self.epoch_val), shown):
            self._set(curve, part)
        self._sources = [("batch", series.batch_raw), ("smoothed", series.batch_smooth),
                         ("epoch", series.epoch_train), ("validation", series.epoch_val)]
        self._fit_view([p for p in shown if p is not None])
        self._sync_legend()

    def show_series(self, series: Series, label: str) -> None:
        """Draw a single curve (the learning rate)."""
        self._set(self.smooth, series)
        self._sources = [(label, series)]
        self._fit_view([series])

    def set_epoch_span(self, epochs: float) -> None:
        """The x axis spans epochs 0..``epochs`` (the planned run), so it stays still."""
        self._x_hi = float(max(epochs, 1))
        self._fit_view([])

    def _fit_view(self, parts: list[Series]) -> None:
        """Fit the view to the data with 'nice' bounds that change only when the data leaves
        them (or fills much less): the axes are laid out again a few times per run rather
        than every frame (slow), and the curves do not jitter."""
        xs = [p.x for p in parts if len(p)] + [x for x, _ in self._overlay_data]
        ys = [p.y for p in parts if len(p)] + [y for _, y in self._overlay_data]
        x_hi = max([self._x_hi] + [float(np.max(x)) for x in xs if len(x)])
        vb = self.getPlotItem().vb
        if self._x_range != (0.0, x_hi):
            self._x_range = (0.0, x_hi)
            vb.setXRange(0.0, x_hi, padding=0.02)
        values = np.concatenate([np.asarray(y, dtype=np.float64) for y in ys]) if ys else \
            np.empty(0)
        if self._log:
            values = np.log10(values[values > 0])
        values = values[np.isfinite(values)]
        if not values.size:
            return
        lo, hi = float(values.min()), float(values.max())
        cur, fit = self._y_range, nice_bounds(lo, hi, self._log)
        if fit != cur and (cur is None or lo < cur[0] or hi > cur[1]
                           or cur[1] - cur[0] > 1.5 * (fit[1] - fit[0])):
            self._y_range = fit
            vb.setYRange(*fit, padding=0.02)

    def _set(self, curve: pg.PlotDataItem, series: Series | None) -> None:
        """Give ``curve`` the series' points, unless it already shows exactly those (setData
        is the costly part of a frame; epoch curves change once per epoch)."""
        key = (id(series), 0 if series is None else len(series))
        if self._drawn.get(id(curve)) == key:
            return
        self._drawn[id(curve)] = key
        if series is None or len(series) == 0:
            curve.setData([], [])
        else:
            curve.setData(series.x, series.y)

    def set_overlays(self, runs: list[tuple[str, np.ndarray, np.ndarray | None,
                                            np.ndarray | None]]) -> None:
        """Earlier runs: (label, epoch x, training values or None, validation values or None)."""
        for c in self._overlays:
            self.getPlotItem().removeItem(c)
        self._overlays, self._overlay_named = [], []
        self._overlay_data = [(x[:len(v)], v) for _, x, t, vv in runs for v in (t, vv)
                              if v is not None and len(v)]
        for k, (label, x, train, val) in enumerate(runs):
            color = OVERLAY[k % len(OVERLAY)]
            for values, style, name in ((train, Qt.PenStyle.DashLine, label),
                                        (val, Qt.PenStyle.DotLine, f"{label} (validation)")):
                if values is None or len(values) == 0:
                    continue
                curve = pg.PlotDataItem(x[:len(values)], values,
                                        pen=pg.mkPen(color, width=1.5, style=style),
                                        symbol="t", symbolSize=5, symbolBrush=color,
                                        symbolPen=None, name=name)
                curve.setZValue(-10)
                self.getPlotItem().addItem(curve)
                if values is train or train is None or len(train) == 0:
                    self._overlay_named.append(curve)   # the run's first curve names it
                self._overlays.append(curve)
        self._fit_view([series for _, series in self._sources])   # the runs are drawn whole
        self._sync_legend()

    def _sync_legend(self) -> None:
        """List the curves that have data, this run's first; rebuilt only when that set
        changes (a few times per run)."""
        if self.legend is None:
            return
        own = [c for c in (self.raw, self.smooth, self.epoch_train, self.epoch_val)
               if c.xData is not None and len(c.xData)]
        curves = own + self._overlay_named
        key = tuple(id(c) for c in curves)
        if key == self._legend_key:
            return
        self._legend_key = key
        self.legend.clear()
        for c in curves:
            self.legend.addItem(c, c.name().removesuffix(" (validation)"))
        self._layout_legend()

    def _layout_legend(self) -> None:
        """As many columns as the plot's width allows; hidden when it would cover too much of
        the plot (a small plot shows the curves alone)."""
        if self.legend is None:
            return
        names = [label.text for _, label in self.legend.items]
        if not names:
            self._legend_fits = False
        else:
            font = QFont(self.font())
            font.setPointSizeF(8.0)
            fm = QFontMetrics(font)
            entry = 34 + max(fm.horizontalAdvance(n) for n in names)  # sample, text, gaps
            cols = max(1, min(LEGEND_MAX_COLUMNS, len(names), (self.width() - 90) // entry))
            rows = -(-len(names) // cols)
            self.legend.setColumnCount(cols)
            self._legend_fits = (cols * entry <= self.width() - 90 and
                                 rows * (fm.height() + 6) <= LEGEND_MAX_SHARE * self.height())
        self.legend.setVisible(self._legend_fits and not self.readout.isVisible())

    def exported_curves(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(label, epochs, values) of every curve with data, for the CSV export."""
        out = [(label, s.x, s.y) for label, s in self._sources if len(s)]
        out += [(c.name(), c.xData, c.yData) for c in self._overlays]
        return out

    def set_log(self, on: bool) -> None:
        self._log = on
        self._y_range = None
        self.setLogMode(y=on)
        parts = [series for _, series in self._sources]
        self._fit_view(parts)

    def clear_data(self) -> None:
        for curve in (self.raw, self.smooth, self.epoch_train, self.epoch_val):
            curve.setData([], [])
        self._drawn.clear()
        self._sources = []
        self._sync_legend()
        self._y_range = None
        self.hide_crosshair()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if getattr(self, "legend", None) is not None:
            self._layout_legend()

    # ------------------------------------------------------------ crosshair
    def _mouse_moved(self, pos) -> None:
        vb = self.getPlotItem().vb
        if not self.sceneBoundingRect().contains(pos) or \
                not vb.sceneBoundingRect().contains(pos):
            self.left.emit()
            return
        self.hovered.emit(float(vb.mapSceneToView(pos).x()))

    def show_crosshair(self, x: float) -> None:
        """Vertical line at epoch ``x`` and the value of each curve nearest to it."""
        lines = [f"<b>epoch {x:.2f}</b>"]
        for label, series in self._sources:
            v = series.value_at(x)
            if v is not None:
                lines.append(f"{label}: {v:.4g}")
        self.vline.setPos(x)
        self.readout.setHtml("<div style='font-size:8pt'>" + "<br>".join(lines) + "</div>")
        (x0, x1), (_, y1) = self.getPlotItem().vb.viewRange()
        self.readout.setPos(min(x0 + 0.6 * (x1 - x0), x), y1)
        self.vline.show()
        self.readout.show()
        if self.legend is not None:
            self.legend.hide()              # the readout takes its place while hovering

    def hide_crosshair(self) -> None:
        self.vline.hide()
        self.readout.hide()
        if self.legend is not None:
            self.legend.setVisible(self._legend_fits)
