"""Training on Keras 3 from the app: the "Run on" setting (disabled with the install command
when Keras is missing, the backend and devices once chosen), and the same worker, dashboard,
pause/resume/stop, divergence and run record as on the engine."""
import numpy as np
import pytest

from app.training import run_on as run_on_module
from app.training.run_on import RunOnGroup
from app.training.run_setup import DataArrays
from app.training.settings_panel import SettingsPanel
from engine.keras_backend import INSTALL_COMMAND
from tests.app.test_training_controller import Harness, blobs, blobs_graph, new_project


def test_without_keras_the_choice_is_disabled_and_says_how_to_install(qtbot, monkeypatch):
    monkeypatch.setattr(run_on_module, "keras_installed", lambda: False)
    group = RunOnGroup()
    qtbot.addWidget(group)
    assert not group.choice.model().item(1).isEnabled()
    assert INSTALL_COMMAND in group.info.text() and not group.devices.isEnabled()


def test_choosing_keras_stores_it_and_shows_backend_and_devices(qtbot, keras):
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    project = new_project()
    panel.set_project(project)
    assert project.training.run_on == "engine" and not panel.run_on.devices.isEnabled()
    panel.run_on.choice.setCurrentIndex(panel.run_on.choice.findData("keras"))
    assert project.training.run_on == "keras" and panel.run_on.devices.isEnabled()
    qtbot.waitUntil(lambda: "jax" in panel.run_on.info.text(), timeout=60000)
    assert "cpu:0" in panel.run_on.info.text()
    panel.run_on.devices.setValue(3)
    assert project.training.devices == 3
    assert "training would stop with an error" in panel.run_on.info.text()


@pytest.fixture
def keras_harness(qtbot, keras):
    h = Harness(qtbot, new_project(run_on="keras", optimizer_args={"learning_rate": 0.03}))
    yield h
    h.controller.stop_and_wait()


def test_keras_run_feeds_the_dashboard_and_comes_back_into_the_project(keras_harness):
    h = keras_harness
    c, project = h.controller, h.project
    out = h.train_and_wait(timeout=180000)
    assert out.status == "completed" and out.epochs_done == 3, out.message
    assert len(c.dashboard.plots["loss"].raw.xData) == 3 * 8
    run = project.runs[-1]
    assert (run.backend, run.devices) == ("keras/jax", 1) and run.duration > 0
    from app.training.runs_panel import backend_title
    assert backend_title(run.backend, 2) == "Keras 3 (jax) × 2"
    assert set(run.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert run.history["accuracy"][-1] > 0.8
    model = c.session.model                         # the trained weights are the engine's now
    np.testing.assert_array_equal(project.weights["hidden"][0],
                                  model.get_layer("hidden").get_weights()[0])
    x, y = blobs()
    assert (model.predict(x, verbose=0).argmax(1) == y).mean() > 0.8
    assert c.evaluation.result is not None and c.evaluation.result.confusion.sum() == 60
    assert model.optimizer.iterations == 24        # Adam's state came back too


def test_keras_run_pauses_resumes_and_stops(keras_harness, qtbot):
    c, project = keras_harness.controller, keras_harness.project
    project.training.epochs, project.training.batch_size = 500, 4
    n = len(keras_harness.outcomes)
    assert c.train()
    qtbot.waitUntil(lambda: c.dashboard.buffer.version > 0, timeout=180000)
    c.pause()
    qtbot.waitUntil(lambda: c.dashboard.status_label.text() == "Paused", timeout=60000)
    seen = len(c.dashboard.plots["loss"].raw.xData)
    before = c.session.model.get_layer("hidden").get_weights()[0].copy()
    qtbot.wait(200)
    assert len(c.dashboard.plots["loss"].raw.xData) == seen
    c.activations.select_layer("hidden")          # the preview runs the synced engine model
    assert c.activations.bars.opts["height"].shape == (16,)
    c.resume()
    qtbot.waitUntil(lambda: len(c.dashboard.plots["loss"].raw.xData) > seen + 5, timeout=60000)
    c.stop()
    qtbot.waitUntil(lambda: len(keras_harness.outcomes) > n, timeout=60000)
    assert keras_harness.outcomes[-1].status == "stopped"
    assert project.runs[-1].status == "stopped" and project.runs[-1].backend == "keras/jax"
    assert not np.array_equal(before, project.weights["hidden"][0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_keras_divergence_stops_and_names_a_layer(qtbot, keras):
    project = new_project(optimizer="sgd", optimizer_args={"learning_rate": 1e6},
                          loss="mean_squared_error", metrics=[], run_on="keras")
    project.graph = blobs_graph(out_activation="linear")
    h = Harness(qtbot, project)
    x, _ = blobs()
    h.controller.use_data(DataArrays(x * 10, np.random.default_rng(1).standard_normal(
        (len(x), 3)).astype(np.float32)))
    out = h.train_and_wait(timeout=180000)
    assert out.status == "diverged" and out.layer in ("hidden", "probs"), out.message
    assert h.project.runs[-1].status == "diverged" and h.project.weights is None


def test_more_devices_than_exist_fail_naming_the_available_ones(qtbot, keras):
    h = Harness(qtbot, new_project(run_on="keras", devices=64))
    out = h.train_and_wait(timeout=180000)
    assert out.status == "failed"
    assert "64 devices" in out.message and "cpu:0" in out.message
    assert "\n" not in out.message
