"""The data panel: each kind of source, its summary, fitting it to the network, bad files,
and the validation split it shares with the settings panel."""
import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from app.training.data_panel import DataPanel
from engine.graph import GraphDocument
from engine.project import Project


def project_for(input_shape, loss="sparse_categorical_crossentropy", units=10):
    p = Project.new()
    doc = GraphDocument(name="m")
    inp = doc.add_node("InputLayer", {"shape": list(input_shape)}, "input")
    flat = doc.add_node("Flatten", {}, "flatten")
    out = doc.add_node("Dense", {"units": units, "activation": "softmax"}, "out")
    doc.connect(inp.id, flat.id)
    doc.connect(flat.id, out.id)
    p.graph = doc
    p.training.loss = loss
    return p


@pytest.fixture
def panel(qtbot):
    w = DataPanel()
    qtbot.addWidget(w)
    w.resize(420, 800)
    w.show()
    return w


def choose(panel, kind):
    panel.kind_box.setCurrentIndex(panel.kind_box.findData(kind))


def test_bundled_mnist_is_fitted_to_a_cnn(panel, qtbot):
    project = project_for((28, 28, 1), loss="categorical_crossentropy")
    panel.set_project(project)
    choose(panel, "bundled")
    assert panel.dataset_box.currentText() == "mnist"
    with qtbot.waitSignal(panel.changed):
        assert panel.load()
    assert project.data_source == {"kind": "bundled", "name": "mnist", "shape": [28, 28, 1],
                                   "one_hot": True}
    assert "reshaped to (28, 28, 1)" in panel.message.text()
    assert "one-hot" in panel.message.text()
    assert panel.shape_edit.text() == "28, 28, 1" and panel.one_hot_box.isChecked()
    s = panel.summary
    assert s.count == 24000 and s.test_count == 10000 and s.sample_shape == (28, 28, 1)
    assert len(s.class_counts) == 10 and sum(s.class_counts) == 24000
    assert "24,000" in panel.info.text() and "10 classes" in panel.info.text()
    assert len(panel.samples.tiles) == 16
    tile = panel.samples.tiles[0]
    assert tile.picture.pixmap() is not None and tile.caption.text() in list("0123456789")
    assert panel.bars.opts["height"].tolist() == s.class_counts
    panel.split_box.setValue(0.25)
    assert project.training.validation_split == 0.25
    assert panel.split_label.text() == "train 18,000 · validation 6,000"


def test_stored_source_fills_the_form(panel):
    project = project_for((28, 28))
    project.data_source = {"kind": "bundled", "name": "mnist"}
    panel.set_project(project)
    assert panel.kind() == "bundled" and panel.summary.sample_shape == (28, 28)
    assert panel.shape_edit.text() == "" and not panel.one_hot_box.isChecked()


def test_csv_with_text_labels(panel, tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text("a,b,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n")
    project = project_for((2,), units=2)
    panel.set_project(project)
    choose(panel, "csv")
    panel.path_edit.setText(str(path))
    panel.label_edit.setText("species")
    assert panel.load()
    assert project.data_source == {"kind": "csv", "path": str(path), "label": "species"}
    assert panel.summary.class_names == ["setosa", "virginica"]
    assert panel.summary.class_counts == [2, 1]
    assert "[1, 2]" in panel.samples.tiles[0].picture.text()
    assert panel.samples.tiles[0].caption.text() == "setosa"


def test_bad_csv_names_line_and_column(panel, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,y\n1,2,0\n3,oops,1\n")
    project = project_for((2,))
    panel.set_project(project)
    choose(panel, "csv")
    panel.path_edit.setText(str(path))
    assert not panel.load()
    text = panel.message.text()
    assert "bad.csv" in text and "line 3" in text and "'b'" in text and "oops" in text
    assert project.data_source is None


def test_form_errors_are_explained(panel):
    panel.set_project(project_for((2,)))
    choose(panel, "npz")
    assert not panel.load()
    assert "Choose a file" in panel.message.text()
    panel.path_edit.setText("x.npz")
    panel.shape_edit.setText("28, zero")
    assert not panel.load()
    assert "Sample shape" in panel.message.text()
    panel.shape_edit.setText("")
    panel.scale_edit.setText("1/0")
    assert not panel.load() and "Scale" in panel.message.text()


def test_npz_and_regression_targets(panel, tmp_path):
    path = tmp_path / "d.npz"
    x = np.random.default_rng(0).random((20, 3)).astype(np.float32)
    np.savez(path, x=x, y=x.sum(axis=1))
    project = project_for((3,), loss="mean_squared_error", units=1)
    panel.set_project(project)
    choose(panel, "npz")
    panel.path_edit.setText(str(path))
    assert panel.load()
    assert panel.summary.class_counts is None and panel.balance_plot.isHidden()
    assert "regression" in panel.info.text()


def _idx(path, arr, code):
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I",
                                                                      *arr.shape)
    path.write_bytes(gzip.compress(header + arr.tobytes()))


def test_idx_images_with_labels_file(panel, tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (6, 8, 8), dtype=np.uint8)
    labels = np.array([0, 1, 2, 1, 0, 2], dtype=np.uint8)
    _idx(tmp_path / "img-idx3-ubyte.gz", images, 0x08)
    _idx(tmp_path / "lab-idx1-ubyte.gz", labels, 0x08)
    project = project_for((8, 8), units=3)
    panel.set_project(project)
    choose(panel, "idx")
    panel.path_edit.setText(str(tmp_path / "img-idx3-ubyte.gz"))
    panel.labels_edit.setText(str(tmp_path / "lab-idx1-ubyte.gz"))
    panel.scale_edit.setText("1/255")
    assert panel.load()
    assert panel.summary.class_counts == [2, 2, 2]
    assert panel.summary.value_range[1] <= 1.0
    assert project.data_source["scale"] == pytest.approx(1 / 255)


def test_image_folder(panel, tmp_path):
    for k, cls in enumerate(("cats", "dogs")):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (10, 12), (80 * k, 40 * i, 0)).save(tmp_path / cls / f"{i}.png")
    project = project_for((8, 8, 3), units=2)
    panel.set_project(project)
    choose(panel, "image_folder")
    panel.path_edit.setText(str(tmp_path))
    panel.size_edit.setText("8, 8")
    assert panel.load()
    assert panel.summary.class_names == ["cats", "dogs"]
    assert panel.summary.sample_shape == (8, 8, 3)
    assert panel.samples.tiles[-1].caption.text() == "dogs"
    assert panel.samples.tiles[0].picture.pixmap() is not None


def test_no_training_settings_disables_the_panel(panel):
    from types import SimpleNamespace
    panel.set_project(SimpleNamespace(graph=GraphDocument(), view={}, path=None))
    assert not panel.isEnabled()


def test_hdf5_datasets_by_name(panel, tmp_path):
    import h5py
    path = tmp_path / "data.h5"
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f["group/images"] = rng.random((20, 4, 4)).astype("float32")
        f["group/labels"] = np.arange(20) % 3
    project = project_for((4, 4), units=3)
    panel.set_project(project)
    choose(panel, "hdf5")
    assert panel.form.isRowVisible(panel.keys_edit) and not panel.form.isRowVisible(panel.size_edit)
    panel.path_edit.setText(str(path))
    panel.keys_edit.setText("/group/images, /group/labels")
    assert panel.load()
    assert project.data_source["x_key"] == "/group/images"
    assert project.data_source["y_key"] == "/group/labels"
    assert panel.summary.count == 20 and len(panel.summary.class_counts) == 3
    panel.keys_edit.setText("/group/nothing, /group/labels")
    assert not panel.load()
    assert "nothing" in panel.message.text()
    panel.keys_edit.setText("a, b, c")
    assert not panel.load() and panel.message.text().startswith("Arrays:")


def test_text_folder_as_token_ids(panel, tmp_path):
    for cls, words in (("neg", "bad awful dull"), ("pos", "good great fine")):
        (tmp_path / cls).mkdir()
        for i in range(4):
            (tmp_path / cls / f"{i}.txt").write_text(f"{words} film number {i}", "utf-8")
    project = project_for((6,), units=2)
    panel.set_project(project)
    choose(panel, "text_folder")
    assert panel.form.isRowVisible(panel.maxlen_edit)
    panel.path_edit.setText(str(tmp_path))
    panel.maxlen_edit.setText("6")
    panel.words_edit.setText("50")
    assert panel.load()
    assert project.data_source["maxlen"] == 6 and project.data_source["num_words"] == 50
    assert panel.summary.class_names == ["neg", "pos"] and panel.summary.sample_shape == (6,)
    panel.maxlen_edit.setText("6, 7")
    assert not panel.load() and "Text length" in panel.message.text()


def test_options_the_form_does_not_show_are_kept(panel, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a;b;label\n" + "".join(f"{i};{i * 2};{i % 2}\n" for i in range(20)))
    project = project_for((2,), units=2)
    project.data_source = {"kind": "csv", "path": str(path), "delimiter": ";",
                           "test_fraction": 0.25, "seed": 7}
    panel.set_project(project)
    panel.scale_edit.setText("0.5")
    assert panel.load()
    kept = project.data_source
    assert kept["delimiter"] == ";" and kept["test_fraction"] == 0.25 and kept["seed"] == 7
    assert kept["scale"] == 0.5
    choose(panel, "npz")                     # another kind starts from the form alone
    assert "delimiter" not in panel.source_spec()


def test_a_slow_source_is_read_without_freezing_the_window(panel, monkeypatch):
    import time

    from PySide6.QtCore import QTimer

    from engine.data import DataSource
    real = DataSource.summary

    def slow(self, *a, **k):
        time.sleep(0.3)
        return real(self, *a, **k)

    monkeypatch.setattr(DataSource, "summary", slow)
    project = project_for((28, 28))
    panel.set_project(project)
    choose(panel, "bundled")
    ticks, enabled = [], []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: (ticks.append(1), enabled.append(panel.isEnabled())))
    timer.start()
    assert panel.load()
    timer.stop()
    assert len(ticks) >= 20 and not all(enabled) and panel.isEnabled()
    assert project.data_source["name"] == "mnist"


def test_a_hidden_panel_reads_its_source_when_first_shown(qtbot):
    """At start-up the Data tab is hidden: the stored source is read when it is shown, not
    before (reading MNIST takes a few hundred ms)."""
    panel = DataPanel()
    qtbot.addWidget(panel)
    project = project_for((28, 28))
    project.data_source = {"kind": "bundled", "name": "mnist"}
    panel.set_project(project)
    assert panel.kind() == "bundled" and panel.summary is None
    panel.show()
    qtbot.waitUntil(lambda: panel.summary is not None, timeout=10000)
    assert panel.summary.count == 24000
