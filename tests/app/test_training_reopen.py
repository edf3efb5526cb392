"""A trained project saved and opened again: it evaluates, previews activations and shows its
last run, as it did before it was closed."""
import numpy as np

from tests.app import tiny_training


def _trained_and_reopened(window, qtbot, tmp_path):
    window.project.data_source = tiny_training.write_npz(tmp_path)
    tiny_training.prepare(window)
    window.training.use_data(None)                 # train on the project's data source
    assert tiny_training.train(window, qtbot).status == "completed"
    trained = window.training.session.model.get_layer("dense").get_weights()[0]
    path = tmp_path / "trained.loom"
    assert window.file_ops._save_to(str(path))
    window.file_ops.new_project()
    assert window.file_ops.open_path(str(path))
    return trained


def test_reopened_project_evaluates(window, qtbot, tmp_path):
    _trained_and_reopened(window, qtbot, tmp_path)
    c = window.training
    assert c.evaluate_action.isEnabled() and c.export_h5_action.isEnabled()
    assert "Evaluate" in c.evaluation.header.text()
    done = []
    c.run_finished.connect(done.append)
    c.evaluate_action.trigger()
    qtbot.waitUntil(lambda: bool(done), timeout=60000)
    assert c.evaluation.result is not None and c.evaluation.result.n_samples == 24
    assert len(window.project.runs) == 1                # evaluating records no run


def test_reopened_project_shows_its_last_run(window, qtbot, tmp_path):
    _trained_and_reopened(window, qtbot, tmp_path)
    dash = window.training.dashboard
    run = window.project.runs[-1]
    loss = dash.plots["loss"]
    assert loss.epoch_train.yData.tolist() == run.history["loss"]
    assert loss.epoch_val.yData.tolist() == run.history["val_loss"]
    assert len(loss.raw.xData) == len(run.batch_history["loss"]) == 4    # 54 samples / 16
    assert dash.status_label.text() == "Finished"
    assert dash.epoch_bar.format() == "Epoch 1 / 1"
    # nothing of the run before the reopen: no speed, no batch count
    assert dash.speed_label.text() == "— samples/s" and dash.batch_bar.format() == "Batch"
    assert dash.time_label.text().startswith("took ")


def test_reopened_project_previews_activations(window, qtbot, tmp_path):
    trained = _trained_and_reopened(window, qtbot, tmp_path)
    c = window.training
    c.docks["activations"].show()
    c.docks["activations"].raise_()
    qtbot.waitUntil(lambda: c.activations.model is not None, timeout=30000)
    np.testing.assert_array_equal(
        c.activations.model.get_layer("dense").get_weights()[0], trained)
    c.activations.select_layer("dense")
    assert c.activations.bars.opts["height"].shape == (64,)
    assert "Train or build" not in c.activations.info.text()
    assert c.dashboard.status_label.text() == "Finished"      # reading the data kept it
