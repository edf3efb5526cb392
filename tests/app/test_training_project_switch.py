"""What the training panels show when the window switches to another project: nothing of the
previous project's run, no message about the previous project left open."""
from tests.app import tiny_training


def test_new_project_resets_the_dashboard(window, qtbot):
    tiny_training.prepare(window)
    assert tiny_training.train(window, qtbot).status == "completed"
    dash = window.training.dashboard
    assert dash.status_label.text() == "Finished" and dash.epoch_bar.format() == "Epoch 1 / 1"
    window.file_ops.new_project()
    assert dash.status_label.text() == "Ready"
    assert dash.epoch_bar.format() == "Epoch" and dash.epoch_bar.value() == 0
    assert dash.batch_bar.value() == 0 and "ETA —" in dash.time_label.text()


def test_a_message_about_the_previous_project_closes_with_it(window):
    window.project.data_source = None
    window.training.use_data(None)
    assert not window.training.train()           # "choose a data source first"
    box = window.training._message_box
    assert box.isVisible() and "data source" in box.text()
    window.file_ops.new_project()
    assert not box.isVisible()
