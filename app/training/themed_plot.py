"""Plots in the window's theme: background and axes take the palette's base and text colours,
and follow a switch between the light and dark themes (the application palette changes, every
``ThemedPlot`` re-colours itself)."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget


def theme_colors(widget: QWidget | None) -> tuple[QColor, QColor]:
    """(background, foreground) for plots from the widget's (or the application's) palette,
    so plots follow the light or dark theme."""
    pal = widget.palette() if widget is not None else QApplication.palette()
    return pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text)


def color_axes(widget: pg.PlotWidget, fg: QColor) -> None:
    item = widget.getPlotItem()
    for axis in ("left", "bottom"):
        ax = item.getAxis(axis)
        ax.setPen(pg.mkPen(fg.name()))
        ax.setTextPen(pg.mkPen(fg.name()))


def style_plot(widget: pg.PlotWidget, fg: QColor) -> None:
    """Axes in the theme's text colour; no pyqtgraph context menu or auto-range button."""
    widget.getPlotItem().hideButtons()
    widget.setMenuEnabled(False)
    color_axes(widget, fg)


class ThemedPlot(pg.PlotWidget):
    """A PlotWidget in the theme's colours that re-colours itself when the theme changes;
    subclasses re-colour their own items in :meth:`recolor`."""

    # (background, foreground) drawn with; None until __init__ ends (palette events arrive
    # during construction; a class attribute, as PlotWidget forwards unknown names)
    _colors: tuple[QColor, QColor] | None = None
    _title = ""

    def __init__(self, parent: QWidget | None = None, **kwargs):
        bg, fg = theme_colors(parent)
        super().__init__(parent, background=bg, **kwargs)
        style_plot(self, fg)
        self._colors = (bg, fg)

    @property
    def bg(self) -> QColor:
        return self._colors[0]

    @property
    def fg(self) -> QColor:
        return self._colors[1]

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if self._colors is not None and event.type() in (
                QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.restyle()

    def restyle(self) -> None:
        bg, fg = theme_colors(self)
        if (bg, fg) == self._colors:
            return
        self._colors = (bg, fg)
        self.setBackground(bg)
        color_axes(self, fg)
        if self._title:
            self.getPlotItem().setTitle(self._title, color=fg.name())
        self.recolor(bg, fg)

    def set_title(self, html: str) -> None:
        """The plot's title in the theme's text colour (kept across theme switches)."""
        self._title = html
        self.getPlotItem().setTitle(html, color=self.fg.name())

    def recolor(self, bg: QColor, fg: QColor) -> None:
        """Items drawn in the theme's colours (titles, legends, labels) take ``bg``/``fg``."""


def themed_plot(parent: QWidget | None = None) -> ThemedPlot:
    """A plain plot in the theme's colours."""
    return ThemedPlot(parent)
