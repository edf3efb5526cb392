"""The downloadable data sets as project data sources ({"kind": "keras_dataset"}): download with
per-file progress, cancel and resume, a user's own copy of Keras's files (checked), offline
messages, the CLI training on one, and the exported script loading it."""
import hashlib
import itertools

import numpy as np
import pytest

from engine.data import DataError, DataSource
from engine.datasets import (
    DatasetUnavailableError,
    DownloadCancelled,
    catalog,
    cifar10,
    download,
    fashion_mnist,
    mnist,
)
from tests.engine.fake_server import FakeServer
from tests.engine.test_datasets import cifar_batch, cifar_tar, idx_gz, npz_bytes


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLOOM_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path / "cache"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fashion_files(monkeypatch):
    rng = np.random.default_rng(1)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (8, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": np.arange(8, dtype=np.uint8) % 10,
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": np.array([4, 5, 9], np.uint8)}
    files = {name: idx_gz(a) for name, a in arrays.items()}
    monkeypatch.setattr(fashion_mnist, "FILE_HASHES", {k: sha(v) for k, v in files.items()})
    return files


@pytest.fixture
def cifar_archive(monkeypatch):
    archive = cifar_tar({name: cifar_batch(4, i) for i, name in enumerate(cifar10.BATCHES)})
    monkeypatch.setattr(cifar10, "SHA256", sha(archive))
    return archive


def serve(monkeypatch, files, **kwargs) -> FakeServer:
    server = FakeServer(files, **kwargs)
    monkeypatch.setattr(download, "urlopen", server)
    return server


def test_fashion_mnist_source_downloads_with_per_file_progress(monkeypatch, fashion_files):
    serve(monkeypatch, {fashion_mnist.BASE + k: v for k, v in fashion_files.items()})
    assert not catalog.is_downloaded("fashion_mnist")
    seen = []
    catalog.load("fashion_mnist", progress=lambda f, done, total: seen.append((f, done, total)))
    assert {f for f, _, _ in seen} == set(fashion_files)
    last = [s for s in seen if s[0] == "train-images-idx3-ubyte.gz"][-1]
    assert last[1] == last[2] == len(fashion_files["train-images-idx3-ubyte.gz"])
    assert catalog.is_downloaded("fashion_mnist")
    d = DataSource.from_dict({"kind": "keras_dataset", "name": "fashion_mnist",
                              "one_hot": True}).load()
    assert d.x_train.shape == (8, 28, 28) and d.x_train.dtype == np.float32
    assert d.x_train.max() <= 1.0 and d.y_train.shape == (8, 10)     # scaled 1/255, one-hot
    assert d.x_test.shape == (3, 28, 28) and d.class_names[9] == "Ankle boot"


def test_cifar10_source_has_flat_labels_and_class_names(monkeypatch, cifar_archive):
    serve(monkeypatch, {cifar10.ORIGIN: cifar_archive})
    src = DataSource.from_dict({"kind": "keras_dataset", "name": "cifar10"})
    d = src.load()
    assert d.x_train.shape == (20, 32, 32, 3) and d.y_train.shape == (20,)
    assert d.class_names == cifar10.CLASS_NAMES and src.to_dict() == {
        "kind": "keras_dataset", "name": "cifar10"}
    s = src.summary(4)
    assert s.count == 20 and s.test_count == 4 and len(s.samples) == 4


def test_a_cancelled_download_keeps_its_part_and_resumes(monkeypatch, cache, cifar_archive):
    monkeypatch.setattr(download, "CHUNK", 1000)
    server = serve(monkeypatch, {cifar10.ORIGIN: cifar_archive})

    def cancel_after_two_chunks(_f, done, _total):
        if done >= 2000:
            raise DownloadCancelled
    with pytest.raises(DownloadCancelled):
        catalog.load("cifar10", progress=cancel_after_two_chunks)
    part = cache / (cifar10.ARCHIVE + ".part")
    assert part.stat().st_size == 2000 and not catalog.is_downloaded("cifar10")
    (x, _), _ = catalog.load("cifar10", progress=lambda *a: None)
    assert x.shape == (20, 32, 32, 3) and not part.exists()
    assert server.requests[-1][1] == "bytes=2000-"


def test_cancelled_before_the_first_byte(monkeypatch, cache, cifar_archive):
    serve(monkeypatch, {cifar10.ORIGIN: cifar_archive})

    def cancel(_f, done, total):
        assert total == len(cifar_archive)         # the size is reported before any data
        raise DownloadCancelled
    with pytest.raises(DownloadCancelled):
        catalog.load("cifar10", progress=cancel)


def test_offline_the_error_says_so_and_names_the_bundled_data(monkeypatch):
    serve(monkeypatch, {}, offline=True)
    with pytest.raises(DatasetUnavailableError, match="are you offline.*bundled real MNIST"):
        DataSource.from_dict({"kind": "keras_dataset", "name": "fashion_mnist"}).load()


def test_the_users_copy_of_keras_files(tmp_path, monkeypatch, fashion_files, cifar_archive):
    serve(monkeypatch, {}, offline=True)                 # never downloads
    folder = tmp_path / "mine" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name, data in fashion_files.items():
        (folder / name).write_bytes(data)
    src = DataSource.from_dict({"kind": "keras_dataset", "name": "fashion_mnist",
                                "path": str(folder / "t10k-labels-idx1-ubyte.gz")})
    assert src.load().x_train.shape == (8, 28, 28)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not the file")
    with pytest.raises(DataError, match="is not the published Fashion-MNIST file "
                                        "t10k-labels-idx1-ubyte.gz: its sha256 differs"):
        src.load()
    (tmp_path / "c.tar.gz").write_bytes(cifar_archive)
    d = DataSource.from_dict({"kind": "keras_dataset", "name": "cifar10",
                              "path": str(tmp_path / "c.tar.gz")}).load()
    assert d.x_train.shape == (20, 32, 32, 3)
    extracted = tmp_path / "x" / cifar10.FOLDER
    extracted.mkdir(parents=True)
    for i, name in enumerate(cifar10.BATCHES[:-1]):
        (extracted / name).write_bytes(cifar_batch(2, i))
    src = DataSource.from_dict({"kind": "keras_dataset", "name": "cifar10",
                                "path": str(tmp_path / "x")})
    with pytest.raises(DataError, match="is not an extracted CIFAR-10 folder: no test_batch"):
        src.load()
    (extracted / "test_batch").write_bytes(cifar_batch(2, 9))
    assert src.load().x_test.shape == (2, 32, 32, 3)
    data = npz_bytes(x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.array([1, 2]),
                     x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.array([3]))
    (tmp_path / "mnist.npz").write_bytes(data)
    src = DataSource.from_dict({"kind": "keras_dataset", "name": "mnist",
                                "path": str(tmp_path / "mnist.npz")})
    with pytest.raises(DataError, match="is not the published mnist.npz"):
        src.load()
    monkeypatch.setattr(mnist, "SHA256", sha(data))
    assert src.load().y_test.tolist() == [3]
    with pytest.raises(DataError, match="no such file or folder .expected mnist.npz"):
        DataSource.from_dict({"kind": "keras_dataset", "name": "mnist",
                              "path": str(tmp_path / "nowhere.npz")}).load()


def test_spec_checks_the_name():
    with pytest.raises(DataError, match="no downloadable data set named 'cifar100'; data sets: "
                                        "mnist, fashion_mnist, cifar10"):
        DataSource.from_dict({"kind": "keras_dataset", "name": "cifar100"})


def test_cli_trains_a_keras_dataset_project(monkeypatch, tmp_path, fashion_files, capsys):
    from engine.cli import main
    from engine.graph import GraphDocument
    from engine.project import Project, TrainingConfig, load_project, save_project
    serve(monkeypatch, {fashion_mnist.BASE + k: v for k, v in fashion_files.items()})
    g = GraphDocument("f")
    nodes = [g.add_node("InputLayer", {"shape": [28, 28]}), g.add_node("Flatten", {}),
             g.add_node("Dense", {"units": 10, "activation": "softmax"})]
    for a, b in itertools.pairwise(nodes):
        g.connect(a.id, b.id)
    p = Project(g)
    p.data_source = {"kind": "keras_dataset", "name": "fashion_mnist", "one_hot": True}
    p.training = TrainingConfig(epochs=1, batch_size=4, validation_split=0.0)
    path = save_project(p, tmp_path / "f.loom")
    assert main(["train", str(path)]) == 0
    assert load_project(path).runs[-1].status == "completed"
    assert main(["export", str(path), str(tmp_path / "s.py")]) == 0
    script = (tmp_path / "s.py").read_text()
    assert "keras.datasets.fashion_mnist.load_data()" in script
    assert "keras.utils.to_categorical(y_train)" in script
