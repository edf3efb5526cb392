"""The live dashboard: buffered redraws, log scale, crosshair, run overlays, progress."""
import numpy as np
import pytest

from app.training.dashboard import (
    EPOCH_BAR_STEPS,
    REDRAW_HZ,
    TrainingDashboard,
    format_duration,
    run_label,
)
from app.training.worker import BatchPoint, FrameGate
from engine.project import RunRecord


def _points(epoch, steps=10, start=1, loss0=2.0):
    return [BatchPoint(epoch, s, steps, {}, {"loss": loss0 / (epoch * steps + s),
                                             "accuracy": 0.05 * s}, 0.001, 0.01 * s)
            for s in range(start, steps + 1)]


@pytest.fixture
def dash(qtbot):
    d = TrainingDashboard()
    qtbot.addWidget(d)
    d.resize(900, 500)
    d.start_run({"epochs": 3, "steps": 10, "initial_epoch": 0, "samples": 320,
                 "batch_size": 32}, continue_plots=False)
    return d


def test_timer_never_redraws_faster_than_30_hz(dash):
    assert REDRAW_HZ <= 30 and dash.timer.interval() >= 1000 / 30 - 1
    assert dash.timer.isActive()


def test_batches_are_buffered_and_drawn_once_per_frame(dash):
    # counted from here: pytest-qt runs the event loop after the fixture, and the 30 Hz
    # timer may draw the empty run once when that setup took longer than a frame
    before = dash.redraws
    dash.add_batches(_points(0)[:5])
    dash.add_batches(_points(0)[5:])
    assert dash.redraws == before                  # signals only fill the buffer
    dash.redraw()
    assert dash.redraws == before + 1
    dash.redraw()
    assert dash.redraws == before + 1              # nothing new: no redraw
    loss = dash.plots["loss"]
    x, _ = loss.raw.getData()
    np.testing.assert_allclose(x, np.arange(1, 11) / 10)
    assert len(loss.smooth.yData) == 10
    assert set(dash.plots) == {"loss", "accuracy"}
    assert dash.batch_bar.value() == 10
    assert dash.speed_label.text().endswith("samples/s") and "—" not in dash.speed_label.text()


def test_epoch_points_train_and_validation(dash):
    dash.add_batches(_points(0))
    dash.add_epoch(0, {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.7})
    dash.redraw()
    acc = dash.plots["accuracy"]
    assert acc.epoch_train.yData.tolist() == [0.8]
    assert acc.epoch_val.yData.tolist() == [0.7]
    assert dash.epoch_bar.value() == EPOCH_BAR_STEPS          # one of three epochs done
    assert dash.epoch_bar.format() == "Epoch 2 / 3"


def test_log_scale_and_raw_toggles(dash):
    dash.add_batches(_points(0))
    dash.redraw()
    dash.log_box.setChecked(True)
    assert all(p.getPlotItem().ctrl.logYCheck.isChecked() for p in dash.plots.values())
    dash.raw_box.setChecked(False)
    assert len(dash.plots["loss"].raw.xData or []) == 0
    assert len(dash.plots["loss"].smooth.xData) == 10


def test_crosshair_reads_values_in_every_plot(dash):
    dash.add_batches(_points(0))
    dash.redraw()
    dash._crosshair(0.5)
    for plot in dash.plots.values():
        assert plot.vline.isVisible() and plot.vline.value() == 0.5
    html = dash.plots["accuracy"].readout.textItem.toPlainText()
    assert "epoch 0.50" in html and "batch: 0.25" in html
    dash._hide_crosshair()
    assert not dash.plots["loss"].vline.isVisible()


def test_overlay_of_earlier_runs(dash):
    runs = [RunRecord(id="a1", status="completed", started=1764000000.0,
                      settings={"initial_epoch": 0},
                      history={"loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
                               "learning_rate": [0.1, 0.1]}),
            RunRecord(id="b2", status="diverged", settings={}, history={})]
    dash.set_history(runs)
    assert dash.compare_btn.isEnabled() and len(dash.compare_menu.actions()) == 1
    dash.compare_menu.actions()[0].setChecked(True)
    overlays = dash.plots["loss"]._overlays
    assert len(overlays) == 2
    np.testing.assert_allclose(overlays[0].xData, [1, 2])
    assert "learning_rate" not in dash.plots
    dash.compare_menu.actions()[0].setChecked(False)
    assert dash.plots["loss"]._overlays == []
    assert run_label(runs[0], 1).startswith("run 1 · 2 epochs · completed · 2025-11-2")


def test_frame_inside_gate_and_progress(dash):
    gate = FrameGate()
    dash.set_gate(gate)
    before = dash.redraws, len(dash.frame_times)        # (see the test above)
    dash.add_batches(_points(0))
    dash.redraw()
    assert (dash.redraws, len(dash.frame_times)) == (before[0] + 1, before[1] + 1)
    assert not gate._lock.locked()
    dash.finish_run("diverged", "the output of Dense 'd' is not finite")
    assert dash.status_label.text() == "Diverged" and "Dense 'd'" in dash.status_label.toolTip()
    assert not dash.timer.isActive()


def test_clear_forgets_the_run(dash):
    dash.add_batches(_points(0))
    dash.redraw()
    dash.clear()
    assert len(dash.plots["loss"].raw.xData or []) == 0 and dash.buffer.metrics == {}


def test_format_duration():
    assert format_duration(None) == "—"
    assert format_duration(65) == "1:05" and format_duration(3725) == "1:02:05"


def test_view_ranges_are_nice_and_change_only_when_the_data_needs_it():
    from app.training.metric_plot import nice_bounds
    assert nice_bounds(0.09, 0.5) == (0.0, 0.5)
    assert nice_bounds(0.0, 0.9) == (0.0, 1.0)
    assert nice_bounds(0.001, 0.001) == (0.0, 0.002)          # a constant learning rate
    assert nice_bounds(0.0, 0.0) == (-1.0, 1.0)
    assert nice_bounds(-1.2, -0.1, log=True) == (-1.5, 0.0)     # log10: half decades,
    assert nice_bounds(-3.2, 0.4, log=True) == (-4.0, 1.0)      # or whole ones


def test_y_range_shrinks_after_a_constant_start(dash):
    dash.add_batches([BatchPoint(0, 1, 10, {}, {"loss": 1.0, "accuracy": 0.0}, 0.001, 0.1)])
    dash.redraw()
    acc = dash.plots["accuracy"]
    assert acc._y_range == (-1.0, 1.0)
    dash.add_batches([BatchPoint(0, s, 10, {}, {"loss": 1.0, "accuracy": 0.1 * s}, 0.001, s)
                      for s in range(2, 10)])
    dash.redraw()
    assert acc._y_range == (0.0, 1.0)
    x_range = acc.getPlotItem().vb.viewRange()[0]
    assert x_range[0] < 0 and 3.0 < x_range[1] < 3.1              # the planned 3 epochs


def test_a_run_stopped_between_two_epochs_names_the_last_epoch_it_finished(dash):
    dash.add_batches(_points(0))
    dash.add_epoch(0, {"loss": 0.5})
    dash.redraw()
    assert dash.epoch_bar.format() == "Epoch 2 / 3"          # running: the next one is due
    dash.finish_run("stopped", "stopped by the user after epoch 1/3")
    assert dash.epoch_bar.format() == "Epoch 1 / 3"          # epoch 2 never began
    assert dash.batch_bar.value() == 10
    dash.raw_box.toggle()                                     # a redraw keeps it
    assert dash.epoch_bar.format() == "Epoch 1 / 3"


def test_a_run_stopped_inside_an_epoch_names_that_epoch(dash):
    dash.add_batches(_points(0))
    dash.add_epoch(0, {"loss": 0.5})
    dash.add_batches(_points(1)[:4])
    dash.finish_run("stopped")
    assert dash.epoch_bar.format() == "Epoch 2 / 3" and dash.batch_bar.value() == 4
