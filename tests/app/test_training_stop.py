"""Stop in the middle of an epoch: the epoch counts as not done — no epoch line, no
end-of-epoch point, the bar at the epoch that was running, no ETA left on screen."""
from tests.app import tiny_training


def _pause_mid_epoch(c, qtbot) -> None:
    """Pause the run at a batch that is not the last of its epoch."""
    while True:
        c.pause()
        qtbot.waitUntil(lambda: c.dashboard.status_label.text() == "Paused", timeout=60000)
        p = c.dashboard._last_point
        if p.step < p.steps:
            return
        c.resume()


def test_stop_mid_epoch_does_not_count_the_epoch(window, qtbot):
    tiny_training.prepare(window, epochs=500, batch_size=4)    # 72 samples: 18 batches an epoch
    c = window.training
    done = []
    c.run_finished.connect(done.append)
    assert c.train()
    qtbot.waitUntil(lambda: c.dashboard.buffer.version > 0, timeout=60000)
    _pause_mid_epoch(c, qtbot)
    epoch, step = c.dashboard._last_point.epoch, c.dashboard._last_point.step
    c.stop_action.trigger()
    qtbot.waitUntil(lambda: bool(done), timeout=60000)
    dash = c.dashboard
    assert done[0].status == "stopped" and done[0].epochs_done == epoch
    assert dash.epoch_bar.format() == f"Epoch {epoch + 1} / 500"
    assert dash.status_label.text() == "Stopped"
    assert "ETA" not in dash.time_label.text()
    lines = c.log.toPlainText().splitlines()
    assert not any(line.startswith(f"Epoch {epoch + 1}/500:") for line in lines)
    assert f"Stopped during epoch {epoch + 1}/500, after batch {step} of 18" in lines
    loss = dash.plots["loss"]
    plotted = 0 if loss.epoch_train.yData is None else len(loss.epoch_train.yData)
    assert plotted == epoch == len(window.project.runs[-1].history.get("loss", []))
    assert c.session.epochs_done == epoch          # Train again redoes the stopped epoch
