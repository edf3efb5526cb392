"""Compare runs: an earlier run overlaid on the plots is drawn whole, however long it was."""
from app.training.dashboard import TrainingDashboard
from engine.project import RunRecord


def _run(epochs: int, start: int = 0) -> RunRecord:
    return RunRecord(settings={"initial_epoch": start}, status="completed",
                     history={"loss": [1.0 / (k + 1) for k in range(epochs)],
                              "val_loss": [1.2 / (k + 1) for k in range(epochs)]})


def test_overlay_of_a_longer_run_widens_the_epoch_axis(qtbot):
    dash = TrainingDashboard()
    qtbot.addWidget(dash)
    dash.resize(900, 500)
    dash.show()
    long_run, last = _run(6), _run(1)
    dash.set_history([long_run, last])
    dash.show_record(last)                         # what a reopened project shows
    loss = dash.plots["loss"]
    assert loss.getPlotItem().vb.viewRange()[0][1] < 2
    dash.compare_menu.actions()[0].setChecked(True)
    x0, x1 = loss.getPlotItem().vb.viewRange()[0]
    assert x0 <= 1 and x1 >= 6
    y0, y1 = loss.getPlotItem().vb.viewRange()[1]
    assert y0 <= 1.0 / 6 and y1 >= 1.2           # its values are in view, too
    dash.compare_menu.actions()[0].setChecked(False)
    assert loss.getPlotItem().vb.viewRange()[0][1] < 2     # and the axis shrinks back
