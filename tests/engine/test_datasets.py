"""mnist / fashion_mnist / cifar10 / imdb load_data on small files in the real published formats
(IDX gz, CIFAR python batches — pickles, written here — imdb.npz with object arrays), served
by a fake server; the bundled offline samples."""
import gzip
import hashlib
import io
import json
import pickle
import struct
import tarfile

import numpy as np
import pytest

from engine.data import DataError
from engine.datasets import (DatasetUnavailableError, bundled, cifar10, download, fashion_mnist,
                             imdb, mnist, sentences)
from tests.engine.fake_server import FakeServer

QUIET = {"progress": lambda done, total: None}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLOOM_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path / "cache"


def serve(monkeypatch, files: dict, **kwargs) -> FakeServer:
    server = FakeServer(files, **kwargs)
    monkeypatch.setattr(download, "urlopen", server)
    return server


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


# ------------------------------------------------------------------ MNIST
def test_mnist_from_the_published_npz(monkeypatch):
    rng = np.random.default_rng(0)
    data = npz_bytes(x_train=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
                     y_train=np.arange(6, dtype=np.uint8), x_test=np.zeros((2, 28, 28), np.uint8),
                     y_test=np.array([9, 0], np.uint8))
    monkeypatch.setattr(mnist, "SHA256", sha(data))
    serve(monkeypatch, {mnist.ORIGIN: data})
    (x, y), (xt, yt) = mnist.load_data(**QUIET)
    assert x.shape == (6, 28, 28) and x.dtype == np.uint8 and yt.tolist() == [9, 0]


def test_mnist_with_wrong_arrays_is_refused(monkeypatch):
    data = npz_bytes(x_train=np.zeros((2, 28, 28)), y_train=[0, 1],
                     x_test=np.zeros((1, 28, 28), np.uint8), y_test=[0])
    monkeypatch.setattr(mnist, "SHA256", sha(data))
    serve(monkeypatch, {mnist.ORIGIN: data})
    with pytest.raises(DataError, match=r"x_train: expected uint8 images of shape \(28, 28\)"):
        mnist.load_data(**QUIET)


def test_mnist_offline_says_what_is_bundled_and_falls_back_only_when_asked(monkeypatch):
    serve(monkeypatch, {}, offline=True)
    with pytest.raises(DatasetUnavailableError, match="allow_bundled=True") as e:
        mnist.load_data()
    assert "mnist.npz" in str(e.value) and "24,000 training" in str(e.value)
    with pytest.warns(RuntimeWarning, match="Using the bundled MNIST subset"):
        (x, y), (xt, yt) = mnist.load_data(allow_bundled=True)
    assert x.shape == (24000, 28, 28) and xt.shape == (10000, 28, 28) and x.dtype == np.uint8


# ------------------------------------------------------------------ Fashion-MNIST
def idx_gz(arr: np.ndarray) -> bytes:
    head = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return gzip.compress(head + arr.tobytes())


def test_fashion_mnist_from_idx_gz(monkeypatch, cache):
    rng = np.random.default_rng(1)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": np.array([0, 1, 2, 3, 9], np.uint8),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": np.array([4, 5], np.uint8)}
    files = {name: idx_gz(a) for name, a in arrays.items()}
    monkeypatch.setattr(fashion_mnist, "FILE_HASHES", {k: sha(v) for k, v in files.items()})
    serve(monkeypatch, {fashion_mnist.BASE + k: v for k, v in files.items()})
    (x, y), (xt, yt) = fashion_mnist.load_data(**QUIET)
    np.testing.assert_array_equal(x, arrays["train-images-idx3-ubyte.gz"])
    assert y.tolist() == [0, 1, 2, 3, 9] and xt.shape == (2, 28, 28) and yt.tolist() == [4, 5]
    assert (cache / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").is_file()
    assert fashion_mnist.CLASS_NAMES[9] == "Ankle boot"


# ------------------------------------------------------------------ CIFAR-10
def cifar_batch(n: int, seed: int, protocol: int = 2) -> bytes:
    """A batch in the published format: a pickled dict with bytes keys."""
    rng = np.random.default_rng(seed)
    return pickle.dumps({b"batch_label": b"batch", b"labels": [int(v) for v in
                                                               rng.integers(0, 10, n)],
                         b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         b"filenames": [b"f%d.png" % i for i in range(n)]}, protocol=protocol)


def cifar_tar(batches: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_cifar10_from_the_python_archive_then_from_its_cache(monkeypatch, cache):
    batches = {name: cifar_batch(3, i, protocol=2 + i % 4) for i, name in
               enumerate(cifar10.BATCHES)}
    archive = cifar_tar(batches)
    monkeypatch.setattr(cifar10, "SHA256", sha(archive))
    server = serve(monkeypatch, {cifar10.ORIGIN: archive})
    (x, y), (xt, yt) = cifar10.load_data(**QUIET)
    assert x.shape == (15, 32, 32, 3) and y.shape == (15, 1) and xt.shape == (3, 32, 32, 3)
    assert x.dtype == np.uint8 and y.dtype == np.uint8 and yt.shape == (3, 1)
    first = pickle.loads(batches["data_batch_1"])
    r, c, ch = 5, 7, 2                                    # data rows are R plane, G, B
    assert x[0, r, c, ch] == first[b"data"][0, ch * 1024 + r * 32 + c]
    assert y[:3, 0].tolist() == first[b"labels"]
    assert (cache / "cifar10.npz").is_file()
    server.offline = True
    (x2, _), _ = cifar10.load_data(**QUIET)               # no network needed any more
    np.testing.assert_array_equal(x2, x)


def test_cifar10_from_keras_extracted_folder(tmp_path):
    folder = tmp_path / "keras" / "datasets" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate(cifar10.BATCHES):
        (folder / name).write_bytes(cifar_batch(2, i))
    (x, y), (xt, yt) = cifar10.load_data(**QUIET)
    assert x.shape == (10, 32, 32, 3) and yt.shape == (2, 1)


class Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_cifar_batches_are_unpickled_safely(tmp_path, capsys):
    bad = pickle.dumps({b"data": Evil(), b"labels": [0]}, protocol=2)
    with pytest.raises(DataError, match="refusing to load (__builtin__|builtins).print") as e:
        cifar10.read_batch(bad, tmp_path / "data_batch_1")
    assert "this must never run" not in capsys.readouterr().out
    assert e.value.file == tmp_path / "data_batch_1"
    with pytest.raises(DataError, match="damaged or truncated pickle"):
        cifar10.read_batch(cifar_batch(2, 0)[:100], "batch")
    odd = pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]})
    with pytest.raises(DataError, match=r"'data' must be uint8 \(n, 3072\)"):
        cifar10.read_batch(odd, "batch")


def test_cifar_archive_without_a_batch_is_named(tmp_path):
    (tmp_path / "a.tar.gz").write_bytes(cifar_tar({"data_batch_1": cifar_batch(1, 0)}))
    with pytest.raises(DataError, match="the archive has no cifar-10-batches-py/data_batch_2"):
        cifar10.read_archive(tmp_path / "a.tar.gz")


# ------------------------------------------------------------------ IMDB
def keras_reference(x_train, y_train, x_test, y_test, num_words=None, skip_top=0, maxlen=None,
                    seed=113, start_char=1, oov_char=2, index_from=3):
    """Keras's imdb.load_data algorithm, list by list, to compare against."""
    rng = np.random.RandomState(seed)
    idx = np.arange(len(x_train))
    rng.shuffle(idx)
    x_train, y_train = x_train[idx], y_train[idx]
    idx = np.arange(len(x_test))
    rng.shuffle(idx)
    x_test, y_test = x_test[idx], y_test[idx]
    if start_char is not None:
        x_train = [[start_char] + [w + index_from for w in x] for x in x_train]
        x_test = [[start_char] + [w + index_from for w in x] for x in x_test]
    else:
        x_train = [[w + index_from for w in x] for x in x_train]
        x_test = [[w + index_from for w in x] for x in x_test]
    if maxlen:
        keep = [i for i, x in enumerate(x_train) if len(x) < maxlen]
        x_train, y_train = [x_train[i] for i in keep], y_train[keep]
        keep = [i for i, x in enumerate(x_test) if len(x) < maxlen]
        x_test, y_test = [x_test[i] for i in keep], y_test[keep]
    xs = x_train + x_test
    num_words = num_words or max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    return (xs[:len(x_train)], list(y_train)), (xs[len(x_train):], list(y_test))


def ragged(seqs):
    out = np.empty(len(seqs), dtype=object)
    for i, s in enumerate(seqs):
        out[i] = list(s)
    return out


@pytest.fixture
def imdb_arrays(monkeypatch):
    rng = np.random.default_rng(3)
    arrays = {"x_train": ragged([rng.integers(1, 30, rng.integers(1, 9)).tolist()
                                 for _ in range(20)]),
              "y_train": rng.integers(0, 2, 20), "x_test": ragged(
                  [rng.integers(1, 30, rng.integers(1, 9)).tolist() for _ in range(10)]),
              "y_test": rng.integers(0, 2, 10)}
    data = npz_bytes(**arrays)
    monkeypatch.setattr(imdb, "SHA256", sha(data))
    serve(monkeypatch, {imdb.BASE + "imdb.npz": data})
    return arrays


@pytest.mark.parametrize("kwargs", [{}, {"num_words": 12, "skip_top": 5}, {"maxlen": 6},
                                    {"oov_char": None, "num_words": 15},
                                    {"start_char": None, "index_from": 0, "seed": 1}])
def test_imdb_matches_keras_semantics(imdb_arrays, kwargs):
    (x, y), (xt, yt) = imdb.load_data(**kwargs, **QUIET)
    (rx, ry), (rxt, ryt) = keras_reference(*(imdb_arrays[k] for k in ("x_train", "y_train",
                                                                      "x_test", "y_test")),
                                           **kwargs)
    assert list(x) == rx and list(xt) == rxt
    assert y.tolist() == ry and yt.tolist() == ryt and y.dtype == np.int64
    assert x.dtype == object and all(isinstance(s, list) for s in x)


def test_imdb_maxlen_too_small(imdb_arrays):
    with pytest.raises(DataError, match="no sequence was kept. Increase maxlen"):
        imdb.load_data(maxlen=1, **QUIET)


def test_imdb_npz_with_code_in_it_is_refused(monkeypatch):
    data = npz_bytes(x_train=np.array([Evil()], dtype=object), y_train=[1],
                     x_test=ragged([[1]]), y_test=[0])
    monkeypatch.setattr(imdb, "SHA256", sha(data))
    serve(monkeypatch, {imdb.BASE + "imdb.npz": data})
    with pytest.raises(DataError, match="refusing to load builtins.print"):
        imdb.load_data(**QUIET)


def test_imdb_word_index_and_offline_hint(monkeypatch):
    data = json.dumps({"the": 1, "film": 19}).encode()
    monkeypatch.setattr(imdb, "WORD_INDEX_MD5", hashlib.md5(data).hexdigest())
    server = serve(monkeypatch, {imdb.BASE + "imdb_word_index.json": data})
    assert imdb.get_word_index(**QUIET) == {"the": 1, "film": 19}
    server.offline = True
    with pytest.raises(DatasetUnavailableError, match="engine.datasets.sentences.load_data"):
        imdb.load_data()


# ------------------------------------------------------------------ bundled text
def test_bundled_sentences_are_real_and_parsed_on_tabs_and_newlines_only():
    (x, y), (xt, yt) = sentences.load_data()
    assert len(x) == 2400 and len(xt) == 600 and set(y.tolist()) == {0, 1}
    texts = list(x) + list(xt)
    assert all(isinstance(t, str) and t and "\t" not in t for t in texts)
    assert any("\u0085" in t for t in texts)          # kept inside its sentence, as written
    imdb_texts, labels = bundled.sentence_texts("imdb")
    assert len(imdb_texts) == 1000 and labels.sum() == 500
    with pytest.raises(DataError, match="no bundled sentences from 'twitter'"):
        bundled.sentence_texts(("twitter",))
    (a, _), _ = sentences.load_data(test_fraction=0.5, seed=1, sources=("yelp",))
    assert len(a) == 500


# ------------------------------------------------------------------ Reuters
def reuters_reference(xs, labels, num_words=None, skip_top=0, maxlen=None, test_split=0.2,
                      seed=113, start_char=1, oov_char=2, index_from=3):
    """Keras's reuters.load_data algorithm, list by list."""
    idx = np.arange(len(xs))
    np.random.RandomState(seed).shuffle(idx)
    xs, labels = xs[idx], labels[idx]
    if start_char is not None:
        xs = [[start_char] + [w + index_from for w in x] for x in xs]
    elif index_from:
        xs = [[w + index_from for w in x] for x in xs]
    if maxlen:
        keep = [i for i, x in enumerate(xs) if len(x) < maxlen]
        xs, labels = [xs[i] for i in keep], labels[keep]
    num_words = num_words or max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    cut = int(len(xs) * (1 - test_split))
    return (xs[:cut], list(labels[:cut])), (xs[cut:], list(labels[cut:]))


@pytest.fixture
def reuters_arrays(monkeypatch):
    from engine.datasets import reuters
    rng = np.random.default_rng(4)
    arrays = {"x": ragged([rng.integers(1, 40, rng.integers(1, 12)).tolist()
                           for _ in range(37)]), "y": rng.integers(0, 46, 37)}
    data = npz_bytes(**arrays)
    monkeypatch.setattr(reuters, "SHA256", sha(data))
    serve(monkeypatch, {reuters.BASE + "reuters.npz": data})
    return arrays


@pytest.mark.parametrize("kwargs", [{}, {"num_words": 12, "skip_top": 5}, {"maxlen": 6},
                                    {"oov_char": None, "num_words": 15, "test_split": 0.5},
                                    {"start_char": None, "index_from": 0, "seed": 1}])
def test_reuters_matches_keras_semantics(reuters_arrays, kwargs):
    from engine.datasets import reuters
    (x, y), (xt, yt) = reuters.load_data(**kwargs, **QUIET)
    (rx, ry), (rxt, ryt) = reuters_reference(reuters_arrays["x"], reuters_arrays["y"],
                                             **kwargs)
    assert list(x) == rx and list(xt) == rxt
    assert y.tolist() == ry and yt.tolist() == ryt and y.dtype == np.int64
    assert x.dtype == object and all(isinstance(s, list) for s in x)


def test_reuters_labels_word_index_refusals_and_offline_hint(monkeypatch):
    import engine as keras
    from engine.datasets import reuters
    names = keras.datasets.reuters.get_label_names()
    assert len(names) == 46 and names[3] == "earn" and names[-1] == "lead"
    data = json.dumps({"the": 1, "said": 2}).encode()
    monkeypatch.setattr(reuters, "WORD_INDEX_MD5", hashlib.md5(data).hexdigest())
    evil = npz_bytes(x=np.array([Evil()], dtype=object), y=[1])
    monkeypatch.setattr(reuters, "SHA256", sha(evil))
    server = serve(monkeypatch, {reuters.BASE + "reuters_word_index.json": data,
                                 reuters.BASE + "reuters.npz": evil})
    assert reuters.get_word_index(**QUIET) == {"the": 1, "said": 2}
    with pytest.raises(DataError, match="refusing to load builtins.print"):
        reuters.load_data(**QUIET)
    with pytest.raises(ValueError, match="test_split must be in"):
        reuters.load_data(test_split=1.0)
    server.offline = True
    reuters_dir = download.data_dir() / "reuters.npz"
    reuters_dir.unlink(missing_ok=True)
    with pytest.raises(DatasetUnavailableError, match="No Reuters data is bundled"):
        reuters.load_data()
