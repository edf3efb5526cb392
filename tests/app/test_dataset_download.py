"""CIFAR-10 / Fashion-MNIST in the Data panel: download off the GUI thread with a progress bar,
Cancel (the part is kept), offline → the bundled data, the user's copy of Keras's files, and
Train refusing a data set that is not downloaded yet."""
import hashlib
import threading

import numpy as np
import pytest

from app.training import run_setup
from app.training.data_panel import DataPanel
from engine.datasets import catalog, cifar10, download, fashion_mnist
from tests.app.test_training_data_panel import choose, project_for
from tests.engine.fake_server import FakeResponse, FakeServer
from tests.engine.test_datasets import cifar_batch, cifar_tar, idx_gz


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLOOM_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path / "cache"


@pytest.fixture
def archive(monkeypatch):
    data = cifar_tar({name: cifar_batch(4, i) for i, name in enumerate(cifar10.BATCHES)})
    monkeypatch.setattr(cifar10, "SHA256", hashlib.sha256(data).hexdigest())
    return data


@pytest.fixture
def panel(qtbot):
    w = DataPanel()
    qtbot.addWidget(w)
    w.resize(460, 800)
    w.show()
    return w


class SlowResponse(FakeResponse):
    """Sends one 100-byte chunk per permit of ``permits`` (the test controls time)."""

    def __init__(self, body, permits):
        super().__init__(body, 200, len(body))
        self.permits = permits

    def read(self, n=-1):
        self.permits.acquire(timeout=10)
        return super().read(100)


def test_download_shows_progress_then_becomes_the_source(panel, qtbot, monkeypatch, archive):
    monkeypatch.setattr(download, "urlopen", FakeServer({cifar10.ORIGIN: archive}))
    project = project_for((32, 32, 3), loss="categorical_crossentropy")
    panel.set_project(project)
    choose(panel, "keras_dataset")
    row = panel.download_row
    row.set_name("cifar10")
    assert row.download_btn.isVisibleTo(panel) and "Download (170 MB)" == row.download_btn.text()
    assert not panel.scale_edit.isVisibleTo(panel)          # 1/255 is the default here
    assert not panel.load()                                  # starts the download instead
    assert row.downloading and row.cancel_btn.isVisibleTo(panel)
    qtbot.waitUntil(lambda: project.data_source is not None, timeout=20000)
    assert project.data_source == {"kind": "keras_dataset", "name": "cifar10", "one_hot": True}
    assert catalog.is_downloaded("cifar10") and not row.download_btn.isVisibleTo(panel)
    assert panel.summary.count == 20 and panel.summary.sample_shape == (32, 32, 3)
    assert "airplane" in panel.info.text()


def test_cancel_keeps_the_part_and_the_gui_never_waits(panel, qtbot, monkeypatch, archive,
                                                        cache):
    permits = threading.Semaphore(0)
    monkeypatch.setattr(download, "urlopen",
                        lambda request, timeout=None: SlowResponse(archive, permits))
    panel.set_project(project_for((32, 32, 3)))
    choose(panel, "keras_dataset")
    row = panel.download_row
    row.set_name("cifar10")
    row.start_download()
    permits.release(3)                                       # three chunks arrive
    qtbot.waitUntil(lambda: row.thread.progress is not None and row.thread.progress[1] == 300)
    qtbot.waitUntil(lambda: row.progress.maximum() == 1000 and row.progress.value() > 0)
    assert "cifar-10-batches-py.tar.gz:" in row.progress.format()
    row.cancel_download()                                    # returns at once
    assert "Cancelling" in row.status.text() and row.downloading
    permits.release()                                        # the next chunk: cancelled
    qtbot.waitUntil(lambda: not row.downloading, timeout=10000)
    assert "cancelled; the part downloaded so far is kept" in row.status.text()
    assert (cache / (cifar10.ARCHIVE + ".part")).stat().st_size >= 100
    assert row.download_btn.isVisibleTo(panel) and not row.progress.isVisibleTo(panel)


def test_offline_offers_the_bundled_mnist_when_it_fits(panel, qtbot, monkeypatch):
    monkeypatch.setattr(download, "urlopen", FakeServer({}, offline=True))
    project = project_for((28, 28))
    panel.set_project(project)
    choose(panel, "keras_dataset")
    panel.download_row.set_name("fashion_mnist")
    panel.load()
    row = panel.download_row
    qtbot.waitUntil(lambda: not row.downloading, timeout=10000)
    assert "You seem to be offline" in row.status.text()
    assert row.bundled_btn.isVisibleTo(panel)
    row.bundled_btn.click()
    qtbot.waitUntil(lambda: project.data_source is not None, timeout=10000)
    assert project.data_source["kind"] == "bundled" and project.data_source["name"] == "mnist"


def test_offline_says_when_the_bundled_data_cannot_feed_the_network(panel, qtbot, monkeypatch):
    monkeypatch.setattr(download, "urlopen", FakeServer({}, offline=True))
    panel.set_project(project_for((32, 32, 3)))
    choose(panel, "keras_dataset")
    panel.download_row.set_name("cifar10")
    panel.download_row.start_download()
    qtbot.waitUntil(lambda: not panel.download_row.downloading, timeout=10000)
    assert not panel.download_row.bundled_btn.isVisibleTo(panel)
    assert "does not fit this network's input (3,072 values" in panel.download_row.status.text()


def test_the_users_copy_of_keras_files(panel, qtbot, monkeypatch, tmp_path):
    monkeypatch.setattr(download, "urlopen", FakeServer({}, offline=True))
    rng = np.random.default_rng(0)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": np.arange(6, dtype=np.uint8),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": np.array([1, 2], np.uint8)}
    hashes = {}
    for name, a in arrays.items():
        (folder / name).write_bytes(idx_gz(a))
        hashes[name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    monkeypatch.setattr(fashion_mnist, "FILE_HASHES", hashes)
    project = project_for((28, 28))
    panel.set_project(project)
    choose(panel, "keras_dataset")
    panel.download_row.set_name("fashion_mnist")
    panel.download_row.ask_copy_path = lambda folder: str(tmp_path / "fashion-mnist")
    panel.download_row.copy_btn.menu().actions()[1].trigger()
    assert project.data_source == {"kind": "keras_dataset", "name": "fashion_mnist",
                                   "path": str(folder)}
    assert panel.summary.count == 6 and "Ankle boot" in panel.info.text()


def test_train_asks_for_the_download_first():
    project = project_for((32, 32, 3))
    project.data_source = {"kind": "keras_dataset", "name": "cifar10"}
    with pytest.raises(run_setup.SetupError, match="CIFAR-10 is not downloaded yet: download "
                                                   "it in the Data panel .170 MB."):
        run_setup.load_data_source(project)


def test_a_stored_source_that_is_not_downloaded_does_not_download_when_shown(panel,
                                                                             monkeypatch):
    server = FakeServer({}, offline=True)
    monkeypatch.setattr(download, "urlopen", server)
    project = project_for((32, 32, 3))
    project.data_source = {"kind": "keras_dataset", "name": "cifar10"}
    panel.set_project(project)
    assert panel.kind() == "keras_dataset" and panel.download_row.name() == "cifar10"
    assert "not downloaded yet" in panel.message.text() and server.requests == []

