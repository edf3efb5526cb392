"""The Train button streams an image folder too big to hold: batch Sequences decoded ahead on
worker threads, the Data panel says "streamed" and counts the first pass, the evaluation runs
on a decoded sample."""
import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QMainWindow

from app.training import run_setup
from app.training.controller import TrainingController
from engine.graph import GraphDocument
from engine.project import Project


def image_folder(root, per_class=24, size=8):
    """Two classes that differ in brightness: learnable in a few epochs."""
    rng = np.random.default_rng(0)
    for k, base in enumerate((40, 200)):
        folder = root / f"class{k}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(base + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def project_on(folder, loss="sparse_categorical_crossentropy"):
    doc = GraphDocument(name="folder")
    inp = doc.add_node("InputLayer", {"shape": [8, 8, 3]}, "image", (0, 0))
    flat = doc.add_node("Flatten", {}, "flat", (150, 0))
    out = doc.add_node("Dense", {"units": 2, "activation": "softmax"}, "probs", (300, 0))
    doc.connect(inp.id, flat.id)
    doc.connect(flat.id, out.id)
    p = Project.new()
    p.graph = doc
    t = p.training
    t.loss, t.metrics, t.epochs, t.batch_size, t.validation_split = loss, ["accuracy"], 3, 8, 0.25
    p.data_source = {"kind": "image_folder", "path": str(folder), "scale": 1 / 255}
    return p


@pytest.fixture
def stream_everything(monkeypatch):
    monkeypatch.setattr(run_setup, "STREAM_ABOVE_BYTES", 0)


def test_a_big_folder_is_streamed_not_loaded(tmp_path, stream_everything):
    project = project_on(image_folder(tmp_path / "imgs"))
    got = run_setup.load_data_source(project)
    assert isinstance(got, run_setup.StreamedSource)
    assert got.decoded_bytes == 48 * 8 * 8 * 3 * 4
    data = run_setup.stream_data(got, 0.25, 8, "categorical_crossentropy")
    assert data.streamed and data.x_train.n == 36 and data.x_val.n == 12
    assert data.x_train.workers > 1                      # decoded ahead on worker threads
    assert data.x_train.first_pass == (0, 36)            # the evaluation sample not counted
    assert data.x_train[0][1].shape == (8, 2)            # one-hot for the loss
    assert len(data.x_test) == 12 and data.x_test.shape[1:] == (8, 8, 3)
    assert "sample of 12 held-out images" in data.evaluation_name


def test_a_small_folder_is_loaded(tmp_path):
    project = project_on(image_folder(tmp_path / "imgs"))
    assert isinstance(run_setup.load_data_source(project), run_setup.DataArrays)


def test_train_button_streams_and_the_data_panel_counts_the_first_pass(qtbot, tmp_path,
                                                                        stream_everything):
    window = QMainWindow()
    qtbot.addWidget(window)
    project = project_on(image_folder(tmp_path / "imgs"))
    outcomes = []
    c = TrainingController(window, lambda: project, lambda name, msg: None)
    c.install(window)
    c.run_finished.connect(outcomes.append)
    c.warn = lambda title, msg: outcomes.append(("warning", title, msg))
    c.project_changed()
    window.show()
    try:
        assert c.train()
        qtbot.waitUntil(lambda: len(outcomes) > 0, timeout=120000)
    finally:
        c.stop_and_wait()
    out = outcomes[-1]
    assert getattr(out, "status", out) == "completed", out
    text = c.data_panel.stream_label.text()
    assert "Streamed" in text and "all 36 images read" in text
    assert project.runs[-1].history["val_accuracy"]            # validation streamed too
    assert c.evaluation.result.n_samples == 12                 # the decoded sample
    assert "streamed" in c.evaluation.header.text()
