"""The CIFAR-10 example can be trained: it comes with CIFAR-10 as its data source, the Data
panel shows it, and Train either trains or says how to get the data."""
import numpy as np

from app.file_ops import EXAMPLES_DIR
from app.training.run_setup import DataArrays
from engine.data import DataSource
from engine.project import load_project

EXAMPLE = EXAMPLES_DIR / "cifar10_cnn.loom"


def test_the_example_reads_cifar10():
    spec = load_project(EXAMPLE).data_source
    assert spec is not None and (spec["kind"], spec["name"]) == ("keras_dataset", "cifar10")
    DataSource.from_dict(spec)                  # a valid source


def test_train_says_how_to_get_the_data_or_trains(window, qtbot, monkeypatch):
    from engine.datasets import catalog
    monkeypatch.setattr(catalog, "is_downloaded", lambda name: False)
    assert window.file_ops.open_example(EXAMPLE)
    c = window.training
    panel = c.data_panel
    assert panel.kind() == "keras_dataset" and panel.download_row.name() == "cifar10"
    assert not c.train()
    assert "CIFAR-10 is not downloaded yet" in c._message_box.text()
    r = np.random.default_rng(0)
    c.use_data(DataArrays(r.random((64, 32, 32, 3), dtype=np.float32), r.integers(0, 10, 64)))
    window.project.training.epochs, window.project.training.batch_size = 1, 16
    done = []
    c.run_finished.connect(done.append)
    assert c.train()
    qtbot.waitUntil(lambda: bool(done), timeout=120000)
    assert done[0].status == "completed", done[0].message
