"""Switching to the dark theme recolours every plot (dashboard, evaluation, activations,
data), not only the widgets around them — and back."""
import pyqtgraph as pg
from PySide6.QtWidgets import QApplication


def _plots(window):
    return [p for p in window.findChildren(pg.PlotWidget)]


def _lightness(plot) -> int:
    return plot.backgroundBrush().color().lightness()


def test_theme_switch_recolours_all_plots(window):
    plots = _plots(window)
    assert len(plots) >= 6                     # loss, lr, confusion, scatter, activations …
    assert all(_lightness(p) > 200 for p in plots)
    window.actions["theme_dark"].trigger()
    QApplication.processEvents()
    assert all(_lightness(p) < 60 for p in plots), [type(p).__name__ for p in plots
                                                     if _lightness(p) >= 60]
    axis = window.training.dashboard.plots["loss"].getPlotItem().getAxis("left")
    assert axis.textPen().color().lightness() > 180          # light text on dark
    title = window.training.data_panel.balance_plot.getPlotItem().titleLabel
    assert title.opts["color"].lower() == window.theme.text.lower()
    window.actions["theme_light"].trigger()
    QApplication.processEvents()
    assert all(_lightness(p) > 200 for p in plots)
    assert axis.textPen().color().lightness() < 80
