"""Right-click menu of the training plots: save the plot as a PNG picture, the curves it shows as
CSV, or copy the picture. Also reachable from the keyboard (the context-menu key or Shift+F10
on a focused plot).

The CSV is long ("tidy") format, one row per point — ``metric,curve,epoch,value`` — because the
curves have different x positions (batches at fractional epochs, epoch means at whole epochs).
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

Curve = tuple[str, np.ndarray, np.ndarray]        # (label, epochs, values)


def curves_csv(metric: str, curves: Iterable[Curve]) -> str:
    """The curves as CSV text with a header; non-finite values are left empty."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["metric", "curve", "epoch", "value"])
    for label, xs, ys in curves:
        for x, y in zip(np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)):
            out.writerow([metric, label, f"{x:.6g}", f"{y:.9g}" if math.isfinite(y) else ""])
    return buf.getvalue()


def safe_file_stem(name: str) -> str:
    """``val loss/acc`` → ``val_loss_acc``: a metric name usable as a file name."""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
    return stem or "plot"


class PlotExportMenu:
    """Installs the menu on ``plot``; ``curves()`` gives what the plot shows, ``before_grab``
    hides transient items (crosshair) first. ``ask_save_path`` and ``report`` are replaceable
    (tests); a failed export is shown in a message box."""

    def __init__(self, plot: QWidget, metric: str, curves: Callable[[], list[Curve]],
                 before_grab: Callable[[], None] = lambda: None):
        self.plot, self.metric, self.curves, self.before_grab = plot, metric, curves, before_grab
        self.report: Callable[[str], None] = self._warn
        plot.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        plot.customContextMenuRequested.connect(self.show_menu)

    def ask_save_path(self, title: str, suggested: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self.plot, title, suggested, filters)
        return path

    def build_menu(self) -> QMenu:
        menu = QMenu(self.plot)
        menu.addAction("Export Image (PNG)…", self.export_png)
        menu.addAction("Export Curves (CSV)…", self.export_csv).setEnabled(
            any(len(x) for _, x, _ in self.curves()))
        menu.addSeparator()
        menu.addAction("Copy Image", self.copy_image)
        return menu

    def show_menu(self, pos: QPoint) -> None:
        self._menu = self.build_menu()
        self._menu.popup(self.plot.mapToGlobal(pos))

    def grab(self):
        self.before_grab()
        return self.plot.grab()

    def _target(self, path: str | None, what: str, suffix: str, filters: str) -> str | None:
        """``path``, else asked for; with ``suffix`` added when missing (None: cancelled)."""
        path = path or self.ask_save_path(f"Export the {self.metric} {what}",
                                          f"{safe_file_stem(self.metric)}{suffix}", filters)
        if path and not path.lower().endswith(suffix):
            path += suffix
        return path or None

    def export_png(self, path: str | None = None) -> Path | None:
        path = self._target(path, "plot", ".png", "PNG images (*.png)")
        if path is None:
            return None
        if not self.grab().save(path, "PNG"):
            self.report(f"Could not write the picture {path} (folder missing or not "
                        f"writable?)")
            return None
        return Path(path)

    def export_csv(self, path: str | None = None) -> Path | None:
        path = self._target(path, "curves", ".csv", "CSV files (*.csv)")
        if path is None:
            return None
        try:
            Path(path).write_text(curves_csv(self.metric, self.curves()), encoding="utf-8")
        except OSError as e:
            self.report(f"Could not write {path}: {e.strerror or e}")
            return None
        return Path(path)

    def _warn(self, message: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Export failed", message,
                          QMessageBox.StandardButton.Ok, self.plot)
        box.setModal(False)
        box.show()
        self._box = box

    def copy_image(self) -> None:
        QGuiApplication.clipboard().setPixmap(self.grab())
