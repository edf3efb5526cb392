"""Legends and the right-click menu of the training plots: PNG and CSV export of the curves."""
import csv
import io

import numpy as np
import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QContextMenuEvent, QImage
from PySide6.QtWidgets import QApplication

from app.training.dashboard import TrainingDashboard
from app.training.metric_plot import MetricPlot
from app.training.plot_export import curves_csv, safe_file_stem
from tests.app.test_training_dashboard import _points


@pytest.fixture
def dash(qtbot):
    d = TrainingDashboard()
    qtbot.addWidget(d)
    d.resize(1000, 600)
    d.show()
    d.start_run({"epochs": 3, "steps": 10, "initial_epoch": 0, "samples": 320,
                 "batch_size": 32}, continue_plots=False)
    d.add_batches(_points(0))
    d.add_epoch(0, {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.7})
    d.add_batches(_points(1))
    d.redraw()
    return d


def legend_labels(plot):
    return [label.text for _, label in plot.legend.items]


def test_every_plot_has_a_legend_of_the_curves_with_data(dash, qtbot):
    for name in ("loss", "accuracy"):
        plot = dash.plots[name]
        assert legend_labels(plot) == ["batch", "smoothed", "epoch", "validation"]
        assert plot.legend.isVisible()
    dash.raw_box.setChecked(False)                  # hidden raw batches leave the legend
    assert legend_labels(dash.plots["loss"]) == ["smoothed", "epoch", "validation"]
    dash.clear()
    dash.start_run({"epochs": 2, "steps": 10, "initial_epoch": 0, "samples": 320,
                    "batch_size": 32}, continue_plots=False)
    dash.add_batches(_points(0)[:3])
    dash.redraw()                                   # no epoch yet, no validation
    assert legend_labels(dash.plots["loss"]) == ["smoothed"]


def test_overlaid_runs_are_named_in_the_legend(dash):
    plot = dash.plots["loss"]
    plot.set_overlays([("run 1", np.arange(1, 4.0), np.array([1.0, 0.8, 0.7]),
                        np.array([1.1, 0.9, 0.8]))])
    assert legend_labels(plot)[-1] == "run 1"             # one entry per run
    assert "run 1 (validation)" not in legend_labels(plot)
    plot.set_overlays([])
    assert "run 1" not in legend_labels(plot)


def test_a_legend_that_would_cover_a_small_plot_is_hidden(dash, qtbot):
    plot = MetricPlot("loss", legend=True)
    qtbot.addWidget(plot)
    plot.resize(900, 500)
    plot.show()
    plot.show_metric(dash.buffer.metrics["loss"])
    plot.set_overlays([(f"run {k}", np.arange(1, 3.0), np.array([1.0, 0.5]), None)
                       for k in range(1, 9)])
    qtbot.waitUntil(lambda: plot.legend.isVisible())
    assert plot.legend.columnCount == 4                       # 12 entries, 3 rows
    plot.resize(320, 180)
    qtbot.waitUntil(lambda: not plot.legend.isVisible())      # it would cover the curves
    plot.set_overlays([])
    plot.resize(320, 260)
    qtbot.waitUntil(lambda: plot.legend.isVisible())


def test_csv_export_holds_every_curve(dash, tmp_path):
    plot = dash.plots["accuracy"]
    plot.set_overlays([("run 1", np.arange(1, 3.0), np.array([0.5, np.nan]), None)])
    path = plot.export_menu.export_csv(str(tmp_path / "acc"))
    assert path == tmp_path / "acc.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    curves = {r["curve"] for r in rows}
    assert curves == {"batch", "smoothed", "epoch", "validation", "run 1"}
    batch = [r for r in rows if r["curve"] == "batch"]
    assert len(batch) == 20 and float(batch[0]["epoch"]) == pytest.approx(0.1)
    assert float(batch[0]["value"]) == pytest.approx(0.05)
    val = [r for r in rows if r["curve"] == "validation"]
    assert val == [{"metric": "accuracy", "curve": "validation", "epoch": "1", "value": "0.7"}]
    assert [r["value"] for r in rows if r["curve"] == "run 1"] == ["0.5", ""]


def test_png_export_and_errors_are_reported(dash, tmp_path):
    plot = dash.plots["loss"]
    plot.show_crosshair(1.0)
    path = plot.export_menu.export_png(str(tmp_path / "loss.png"))
    assert not plot.readout.isVisible()            # the crosshair is not in the picture
    img = QImage(str(path))
    assert img.width() == plot.width() and img.height() == plot.height()
    messages = []
    plot.export_menu.report = messages.append
    assert plot.export_menu.export_csv(str(tmp_path / "missing" / "x.csv")) is None
    assert "Could not write" in messages[0] and "x.csv" in messages[0]


def test_the_menu_opens_on_right_click_and_from_the_keyboard(dash, qtbot):
    plot = dash.plots["loss"]
    menu = plot.export_menu.build_menu()
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts == ["Export Image (PNG)…", "Export Curves (CSV)…", "Copy Image"]
    at = QPoint(120, 90)
    QApplication.sendEvent(plot.viewport(), QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, at, plot.viewport().mapToGlobal(at)))
    shown = plot.export_menu._menu
    assert shown.isVisible() and [a.text() for a in shown.actions() if a.text()] == texts
    shown.close()
    plot.setFocus()
    QApplication.sendEvent(plot, QContextMenuEvent(QContextMenuEvent.Reason.Keyboard, at,
                                                   plot.mapToGlobal(at)))
    assert plot.export_menu._menu is not shown and plot.export_menu._menu.isVisible()
    plot.export_menu._menu.close()


def test_csv_text_and_file_stems():
    text = curves_csv("loss", [("epoch", np.array([1.0, 2.0]), np.array([0.5, np.inf]))])
    assert text == "metric,curve,epoch,value\nloss,epoch,1,0.5\nloss,epoch,2,\n"
    assert safe_file_stem("val loss/acc") == "val_loss_acc" and safe_file_stem("..") == "plot"
