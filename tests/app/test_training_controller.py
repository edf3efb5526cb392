"""Training from the app, end to end: Train / Pause / Resume / Stop / Reset through the
controller on tiny data, run history and weights in the project, divergence, closing."""
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMainWindow, QMessageBox

from app.training.controller import TrainingController
from app.training.run_setup import DataArrays
from engine.graph import GraphDocument
from engine.project import Project, load_project, save_project


def blobs_graph(hidden=16, out_activation="softmax") -> GraphDocument:
    doc = GraphDocument(name="blobs")
    inp = doc.add_node("InputLayer", {"shape": [4]}, "features", (0, 0))
    h = doc.add_node("Dense", {"units": hidden, "activation": "relu"}, "hidden", (200, 0))
    out = doc.add_node("Dense", {"units": 3, "activation": out_activation}, "probs", (400, 0))
    doc.connect(inp.id, h.id)
    doc.connect(h.id, out.id)
    return doc


def blobs(n=300, seed=0):
    r = np.random.default_rng(seed)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=np.float32)
    y = r.integers(0, 3, n)
    return (centers[y] + 0.4 * r.standard_normal((n, 4))).astype(np.float32), y


class Harness:
    def __init__(self, qtbot, project):
        self.window = QMainWindow()
        qtbot.addWidget(self.window)
        self.project = project
        self.highlights = []
        self.outcomes = []
        self.warnings = []
        self.controller = TrainingController(self.window, lambda: self.project,
                                             lambda name, msg: self.highlights.append(name))
        self.menu = self.controller.install(self.window)
        self.controller.run_finished.connect(self.outcomes.append)
        self.controller.warn = lambda title, msg: self.warnings.append((title, msg))
        self.controller.project_changed()
        x, y = blobs()
        self.controller.use_data(DataArrays(x, y, class_names=["red", "green", "blue"]))
        self.qtbot = qtbot
        self.window.resize(1200, 800)
        self.window.show()

    def train_and_wait(self, timeout=60000):
        n = len(self.outcomes)
        assert self.controller.train()
        self.qtbot.waitUntil(lambda: len(self.outcomes) > n, timeout=timeout)
        return self.outcomes[-1]


def new_project(epochs=3, **training):
    p = Project.new()
    p.graph = blobs_graph()
    t = p.training
    t.loss, t.metrics, t.epochs, t.batch_size = "sparse_categorical_crossentropy", ["accuracy"], \
        epochs, 32
    t.validation_split = 0.2
    for k, v in training.items():
        setattr(t, k, v)
    return p


@pytest.fixture
def harness(qtbot):
    h = Harness(qtbot, new_project())
    yield h
    h.controller.stop_and_wait()


def test_full_run_plots_evaluates_and_records(harness):
    c, project = harness.controller, harness.project
    out = harness.train_and_wait()
    assert out.status == "completed" and out.epochs_done == 3
    assert not c.is_running and c.thread is None and c.train_action.isEnabled()
    # plots received every batch and epoch point
    loss = c.dashboard.plots["loss"]
    assert len(loss.raw.xData) == 3 * 8            # 240 samples / 32 per batch
    assert loss.epoch_val.yData.size == 3
    assert c.dashboard.status_label.text() == "Finished"
    # evaluation on the validation split
    ev = c.evaluation.result
    assert ev is not None and ev.kind == "multiclass" and ev.confusion.sum() == 60
    assert ev.class_names == ["red", "green", "blue"]
    assert c.evaluation.class_table.rowCount() == 3 and len(c.evaluation.samples.tiles) == 32
    # run record and weights in the project
    run = project.runs[-1]
    assert run.status == "completed" and len(run.history["loss"]) == 3
    assert set(run.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert run.settings["initial_epoch"] == 0 and run.settings["epochs"] == 3
    assert len(run.batch_history["epoch"]) == len(run.batch_history["loss"]) == 24
    assert run.finished >= run.started
    model = c.session.model
    np.testing.assert_array_equal(project.weights["hidden"][0], model.get_layer("hidden")
                                  .get_weights()[0])
    # the activation preview now shows the trained model
    assert c.activations.layer_box.count() == 3
    c.activations.select_layer("hidden")
    assert c.activations.bars.opts["height"].shape == (16,)


def test_train_again_continues_from_the_weights(harness):
    c = harness.controller
    harness.train_and_wait()
    first = c.session.model.get_weights()
    model = c.session.model
    harness.train_and_wait()
    assert c.session.model is model                        # same model, same weights object
    run = harness.project.runs[-1]
    assert run.settings["initial_epoch"] == 3 and c.session.epochs_done == 6
    assert c.dashboard.plots["loss"].epoch_train.xData.tolist() == [1, 2, 3, 4, 5, 6]
    assert any(not np.array_equal(a, b) for a, b in zip(first, model.get_weights()))
    assert len(c.dashboard.compare_menu.actions()) == 2


def test_reset_starts_afresh(harness):
    c = harness.controller
    harness.train_and_wait()
    c.reset()
    assert c.session.model is None and harness.project.weights is None
    assert len(c.dashboard.plots["loss"].raw.xData or []) == 0
    harness.train_and_wait()
    assert harness.project.runs[-1].settings["initial_epoch"] == 0


def test_pause_resume_stop(harness, qtbot):
    c, project = harness.controller, harness.project
    project.training.epochs = 100000           # a run that cannot end before the stop below
    project.training.batch_size = 4
    n = len(harness.outcomes)
    assert c.train()
    qtbot.waitUntil(lambda: c.dashboard.buffer.version > 0, timeout=60000)
    c.pause()
    assert c.activations._blocked                 # asked, but the batch may still be running
    qtbot.waitUntil(lambda: c.dashboard.status_label.text() == "Paused", timeout=60000)
    assert c.resume_action.isEnabled() and not c.pause_action.isEnabled()
    assert c.activations._blocked is None         # parked between batches: preview allowed
    c.activations.select_layer("hidden")
    assert c.activations.bars.opts["height"].shape == (16,)
    steps = c.session.model.optimizer.iterations
    qtbot.wait(100)
    assert c.session.model.optimizer.iterations == steps
    c.resume()
    qtbot.waitUntil(lambda: c.session.model.optimizer.iterations > steps + 5, timeout=60000)
    c.stop()
    qtbot.waitUntil(lambda: len(harness.outcomes) > n, timeout=60000)
    assert harness.outcomes[-1].status == "stopped"
    assert project.runs[-1].status == "stopped" and project.weights is not None
    assert c.dashboard.status_label.text() == "Stopped"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_marks_the_run_and_names_the_layer(qtbot):
    project = new_project(optimizer="sgd", optimizer_args={"learning_rate": 1e6},
                          loss="mean_squared_error", metrics=[])
    project.graph = blobs_graph(out_activation="linear")
    h = Harness(qtbot, project)
    x, _ = blobs()
    h.controller.use_data(DataArrays(x * 10, np.random.default_rng(1).standard_normal(
        (len(x), 3)).astype(np.float32)))
    out = h.train_and_wait()
    assert out.status == "diverged" and out.layer in ("hidden", "probs")
    assert h.highlights[-1] == out.layer
    run = h.project.runs[-1]
    assert run.status == "diverged" and f"'{out.layer}'" in run.message
    assert h.project.weights is None                      # non-finite weights are not stored
    assert h.controller.session.model is None             # next Train rebuilds
    assert h.controller.dashboard.status_label.text() == "Diverged"


def test_graph_problem_blocks_training_and_points_at_the_node(qtbot):
    project = new_project()
    doc = project.graph
    doc.set_param(doc.node_by_name("features").id, "shape", [4, 4, 4])
    doc.add_node("Dense", {"units": 3}, "orphan", (0, 300))
    h = Harness(qtbot, project)
    assert not h.controller.train()
    assert h.warnings and h.controller.thread is None


def test_closing_during_training_asks_then_stops_cleanly(harness, qtbot, monkeypatch):
    c, project = harness.controller, harness.project
    # the settings panel's largest number of epochs: 500 tiny epochs once finished before this
    # thread (slowed by other processes) got to the stop below, and the run was "completed"
    project.training.epochs = 100000
    assert c.train()
    qtbot.waitUntil(lambda: c.dashboard.buffer.version > 0, timeout=60000)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Cancel)
    assert not c.confirm_stop("close the window") and c.is_running
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    thread = c.thread
    assert c.confirm_stop("close the window")
    assert c.thread is None and thread.isFinished()
    assert project.runs[-1].status == "stopped" and project.weights is not None
    assert c.confirm_stop()                                # idle: nothing to ask


def test_project_saved_with_history_and_weights_reopens_intact(harness, tmp_path):
    harness.train_and_wait()
    path = tmp_path / "blobs.loom"
    save_project(harness.project, path)
    again = load_project(path)
    assert [r.status for r in again.runs] == ["completed"]
    assert again.runs[0].history == harness.project.runs[0].history
    model = again.build_model()
    trained = harness.controller.session.model
    x, _ = blobs(5)
    np.testing.assert_allclose(model.predict(x, verbose=0), trained.predict(x, verbose=0),
                               rtol=1e-6)


def test_exports_trained_model(harness, tmp_path):
    pytest.importorskip("engine.io.keras_h5")
    harness.train_and_wait()
    out = harness.controller.exports.export_h5(str(tmp_path / "m.h5"))
    assert out is not None and out.stat().st_size > 0
    pytest.importorskip("engine.io.codegen")
    script = harness.controller.exports.export_script(str(tmp_path / "train.py"))
    text = script.read_text()
    compile(text, str(script), "exec")
    assert (tmp_path / "train.weights.h5").exists() and "train.weights.h5" in text


def test_a_failing_run_is_recorded_and_explained(harness):
    x, _ = blobs()
    harness.controller.use_data(DataArrays(x, np.zeros((len(x), 7), np.float32)))
    out = harness.train_and_wait()
    assert out.status == "failed" and harness.project.runs[-1].status == "failed"
    assert harness.warnings[-1][0] == "Training failed" and out.message in harness.warnings[-1][1]
    assert harness.controller.dashboard.status_label.text() == "Failed"
    assert harness.controller.session.model is None


def test_trains_on_the_projects_data_source_with_labels_fitted_to_the_loss(qtbot):
    example = Path(__file__).resolve().parents[2] / "examples" / "mnist_mlp.loom"
    if not example.exists():
        pytest.skip("examples/mnist_mlp.loom is missing")
    project = load_project(example)
    project.data_source = {"kind": "bundled", "name": "mnist"}      # integer labels
    project.training.epochs, project.training.validation_split = 1, 0.5
    assert project.training.loss == "categorical_crossentropy"
    h = Harness(qtbot, project)
    h.controller.use_data(None)
    out = h.train_and_wait(timeout=120000)
    assert out.status == "completed", out.message
    ev = h.controller.evaluation.result
    assert ev.n_samples == 10000 and ev.kind == "multiclass"    # the test set, scored
    assert "test set" in h.controller.evaluation.header.text()
    assert ev.class_names == [str(i) for i in range(10)]
    assert h.project.runs[-1].history["val_accuracy"][0] > 0.8


def test_evaluate_scores_without_training_or_recording(harness, qtbot):
    c = harness.controller
    assert not c.evaluate_action.isEnabled()               # nothing trained yet
    harness.train_and_wait()
    c.evaluation.clear()
    iterations = c.session.model.optimizer.iterations
    n = len(harness.outcomes)
    assert c.evaluate()
    qtbot.waitUntil(lambda: len(harness.outcomes) > n, timeout=60000)
    assert c.evaluation.result is not None and c.evaluation.result.n_samples == 60
    assert c.session.model.optimizer.iterations == iterations
    assert len(harness.project.runs) == 1
