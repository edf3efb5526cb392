"""DataSource: every kind, JSON round trips with type checks, splits, label checks, summaries,
and streaming of image folders in bounded memory."""
import gzip
import json
import struct
import tracemalloc

import h5py
import numpy as np
import pytest
from PIL import Image

from engine.data import DataError, DataSource, ImageFolderSequence
from engine.data import images as img_io
from engine.data import streaming


def image_folder(root, per_class=3, size=(8, 8), classes=("cats", "dogs")):
    rng = np.random.default_rng(0)
    for cls in classes:
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, size + (3,), dtype=np.uint8)).save(
                root / cls / f"{i:03d}.png")
    return root


def test_every_kind_round_trips_through_json(tmp_path):
    specs = [{"kind": "bundled", "name": "sentences"},
             {"kind": "csv", "path": "a.csv", "label": "y", "features": ["a", 2],
              "fill_missing": "mean", "delimiter": ";", "header": True},
             {"kind": "npz", "path": "x.npy", "labels_path": "y.npy", "one_hot": True,
              "num_classes": 10, "scale": 0.5},
             {"kind": "idx", "path": "i.gz", "labels_path": "l.gz", "shape": [28, 28, 1]},
             {"kind": "hdf5", "path": "d.h5", "x_key": "/x", "y_key": "/y",
              "validation_fraction": 0.1, "test_fraction": 0.2, "seed": 3},
             {"kind": "image_folder", "path": "p", "target_size": [64, 32],
              "color_mode": "grayscale", "interpolation": "bilinear", "streaming": True,
              "skip_bad_files": True},
             {"kind": "text_folder", "path": "t", "maxlen": 50, "num_words": 500}]
    for spec in specs:
        src = DataSource.from_dict(json.loads(json.dumps(spec)))
        assert src.to_dict() == spec and DataSource.from_dict(src.to_dict()) == src


@pytest.mark.parametrize("spec,msg", [
    ("csv", "must be an object with a 'kind'"),
    ({"kind": "parquet", "path": "x"}, "unknown data source kind 'parquet'"),
    ({"kind": "csv"}, "a csv data source needs a path"),
    ({"kind": "bundled", "name": "cifar"}, "no bundled data set named 'cifar'; bundled: mnist, "
                                           "sentences"),
    ({"kind": "csv", "path": "a", "colour": 1}, r"unknown option\(s\) \['colour'\]"),
    ({"kind": "csv", "path": "a", "scale": "1/255"}, "option 'scale' must be a number"),
    ({"kind": "csv", "path": "a", "one_hot": 1}, "option 'one_hot' must be true or false"),
    ({"kind": "csv", "path": "a", "seed": True}, "option 'seed' must be a whole number"),
    ({"kind": "csv", "path": "a", "seed": None}, "option 'seed' must be a whole number"),
    ({"kind": "csv", "path": "a", "test_fraction": 1.0}, r"test_fraction must be in \[0, 1\)"),
    ({"kind": "csv", "path": "a", "test_fraction": 0.5, "validation_fraction": 0.5},
     "must be below 1"),
    ({"kind": "image_folder", "path": "a", "target_size": [64]},
     "'target_size' must be 2 positive whole numbers"),
    ({"kind": "npz", "path": "a", "shape": [28, 0]}, "'shape' must be positive whole numbers"),
    ({"kind": "npz", "path": "a", "num_classes": 0}, "num_classes must be a positive"),
    ({"kind": "npz", "path": "a", "scale": 0}, "scale must be a finite, non-zero number"),
    ({"kind": "image_folder", "path": "a", "color_mode": "cmyk"}, "color_mode must be one of"),
    ({"kind": "csv", "path": "a", "header": "yes"}, "header must be 'auto', true or false"),
    ({"kind": "text_folder", "path": "a", "maxlen": 0}, "maxlen must be a positive"),
])
def test_bad_specs_are_explained(spec, msg):
    with pytest.raises(DataError, match=msg):
        DataSource.from_dict(spec)


def test_csv_labels_outside_the_class_range_name_the_line(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("a,b,y\n1,2,0\n3,4,2\n5,6,7\n")
    with pytest.raises(DataError, match="sample 2 has label 7, outside the class range 0..2 "
                                        r"\(3 classes\)") as e:
        DataSource(kind="csv", path=str(p), label="y", num_classes=3).load()
    assert (e.value.line, e.value.column) == (4, "y")
    d = DataSource(kind="csv", path=str(p), label="y", one_hot=True).load()
    assert d.y_train.shape == (3, 8)


def test_npz_keys_test_split_and_label_checks(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, x_train=np.arange(12, dtype=np.uint8).reshape(6, 2), y_train=[0, 1, 2, 0, 1, 2],
             x_test=np.ones((2, 2)), y_test=[1, 3])
    d = DataSource(kind="npz", path=str(p), scale=0.5).load()
    assert d.x_train.dtype == np.float32 and d.x_train[1].tolist() == [1.0, 1.5]
    assert d.x_test.shape == (2, 2) and d.y_test.tolist() == [1, 3]
    with pytest.raises(DataError, match="x_test: sample 1 has label 3, outside the class range "
                                        "0..2"):
        DataSource(kind="npz", path=str(p), one_hot=True).load()
    with pytest.raises(DataError, match="has no array 'images'; it has: x_train, y_train"):
        DataSource(kind="npz", path=str(p), x_key="images").load()
    np.save(tmp_path / "x.npy", np.zeros((3, 4)))
    np.save(tmp_path / "y.npy", np.array([0, -1, 1]))
    with pytest.raises(DataError, match="sample 1 has label -1, outside the class range"):
        DataSource(kind="npz", path=str(tmp_path / "x.npy"),
                   labels_path=str(tmp_path / "y.npy"), one_hot=True).load()
    np.save(tmp_path / "y.npy", np.array([0, 1]))
    with pytest.raises(DataError, match="x has 3 samples but 2 labels"):
        DataSource(kind="npz", path=str(tmp_path / "x.npy"),
                   labels_path=str(tmp_path / "y.npy")).load()


def test_nan_and_text_in_arrays_are_named(tmp_path):
    x = np.zeros((4, 3, 2), np.float32)
    x[2, 1, 0] = np.nan
    np.savez(tmp_path / "n.npz", x_train=x, y_train=np.arange(4))
    with pytest.raises(DataError, match=r"x_train: sample 2 contains NaN at \(1, 0\)"):
        DataSource(kind="npz", path=str(tmp_path / "n.npz")).load()
    np.savez(tmp_path / "s.npz", x=np.array(["a", "b"]), y=[0, 1])
    with pytest.raises(DataError, match="x holds <U1 values, expected numbers"):
        DataSource(kind="npz", path=str(tmp_path / "s.npz")).load()
    np.savez(tmp_path / "l.npz", x=np.zeros((2, 1)), y=np.array([0.0, np.inf]))
    with pytest.raises(DataError, match="the label of sample 1 is inf"):
        DataSource(kind="npz", path=str(tmp_path / "l.npz")).load()


def test_hdf5_and_idx_sources(tmp_path):
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["data/images"] = np.full((5, 2, 2), 255, np.uint8)
        f["data/labels"] = np.array([0, 1, 0, 1, 1])
    d = DataSource(kind="hdf5", path=str(tmp_path / "d.h5"), x_key="/data/images",
                   y_key="data/labels", scale=1 / 255).load()
    assert d.x_train.shape == (5, 2, 2) and d.x_train.max() == 1.0
    with pytest.raises(DataError, match="has no array 'x'; it has: /data/images, /data/labels"):
        DataSource(kind="hdf5", path=str(tmp_path / "d.h5"), x_key="x").load()

    def idx(path, arr):
        head = struct.pack(">BBBB", 0, 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
        path.write_bytes(gzip.compress(head + arr.tobytes()))
    idx(tmp_path / "i.gz", np.zeros((4, 3, 3), np.uint8))
    idx(tmp_path / "l.gz", np.array([0, 1, 2, 1], np.uint8))
    d = DataSource(kind="idx", path=str(tmp_path / "i.gz"), labels_path=str(tmp_path / "l.gz"),
                   shape=[3, 3, 1], one_hot=True).load()
    assert d.x_train.shape == (4, 3, 3, 1) and d.y_train.shape == (4, 3)


def test_splits_are_seeded_and_disjoint(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.arange(100.0).reshape(100, 1), y=np.arange(100) % 2)
    src = DataSource(kind="npz", path=str(tmp_path / "d.npz"), test_fraction=0.2,
                     validation_fraction=0.25, seed=7)
    d = src.load()
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (60, 20, 20)
    seen = np.concatenate([d.x_train, d.x_val, d.x_test]).ravel()
    assert sorted(seen.tolist()) == list(range(100))
    np.testing.assert_array_equal(src.load().x_val, d.x_val)
    s = src.summary()
    assert (s.count, s.validation_count, s.test_count) == (60, 20, 20)
    assert "60 training samples" in s.describe()


def test_text_folder_as_text_and_as_token_ids(tmp_path):
    reviews = {"neg": ["awful plot", "boring and bad"], "pos": ["great fun", "good"]}
    for cls, texts in reviews.items():
        (tmp_path / cls).mkdir()
        for i, t in enumerate(texts):
            (tmp_path / cls / f"{i}.txt").write_text(t)
    d = DataSource(kind="text_folder", path=str(tmp_path)).load()
    assert d.x_train.dtype == object and list(d.x_train) == ["awful plot", "boring and bad",
                                                              "great fun", "good"]
    s = DataSource(kind="text_folder", path=str(tmp_path)).summary()
    assert s.dtype == "text" and s.sample_shape == () and s.value_range is None
    assert s.class_counts == [2, 2] and s.samples[0] == "awful plot"
    d = DataSource(kind="text_folder", path=str(tmp_path), maxlen=4).load()
    assert d.x_train.shape == (4, 4) and d.x_train.dtype == np.int32
    vocab = d.info["vocabulary"]
    assert vocab[0] == "" and vocab[d.x_train[0, 0]] == "awful"
    with pytest.raises(DataError, match="scale and shape apply to numbers; this source holds "
                                        "text"):
        DataSource(kind="text_folder", path=str(tmp_path), scale=2.0).load()


def test_image_folder_load_and_summary_without_decoding_everything(tmp_path, monkeypatch):
    root = image_folder(tmp_path, per_class=10)
    d = DataSource(kind="image_folder", path=str(root), scale=1 / 255, one_hot=True).load()
    assert d.x_train.shape == (20, 8, 8, 3) and d.y_train.shape == (20, 2)
    decoded = []
    real = img_io.load_image
    monkeypatch.setattr(img_io, "load_image", lambda *a, **k: decoded.append(a[0]) or
                        real(*a, **k))
    s = DataSource(kind="image_folder", path=str(root), scale=1 / 255).summary(n_samples=4)
    assert len(decoded) == 4 and s.count == 20 and s.class_counts == [10, 10]
    assert s.sample_shape == (8, 8, 3) and 0.0 <= s.value_range[0] <= s.value_range[1] <= 1.0
    assert s.class_names == ["cats", "dogs"] and s.sample_labels[-1] == 1
    assert "sampled images" in s.notes[0]


def test_streaming_decodes_one_batch_at_a_time(tmp_path, monkeypatch):
    root = image_folder(tmp_path, per_class=32, size=(32, 32))
    src = DataSource(kind="image_folder", path=str(root), streaming=True, scale=1 / 255,
                     validation_fraction=0.25, one_hot=True)
    data = src.stream(batch_size=4)
    assert isinstance(data.train, ImageFolderSequence) and data.count == 48
    assert len(data.train) == 12 and len(data.validation) == 4 and data.test is None
    x, y = data.train[0]
    assert x.shape == (4, 32, 32, 3) and x.dtype == np.float32 and x.max() <= 1.0
    assert y.shape == (4, 2) and y.sum() == 4
    decoded = []
    real = streaming.load_image
    monkeypatch.setattr(streaming, "load_image", lambda *a, **k: decoded.append(a[0]) or
                        real(*a, **k))
    data.train[3]
    assert len(decoded) == 4
    whole = 64 * 32 * 32 * 3 * 4                                  # the folder as float32
    tracemalloc.start()
    for i in range(len(data.train)):
        data.train[i]
    data.train.on_epoch_end()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < whole / 4, f"streaming used {peak:,} bytes for a {whole:,}-byte folder"


def test_streaming_skips_or_names_bad_files(tmp_path):
    root = image_folder(tmp_path, per_class=2)
    (root / "cats" / "zz.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    seq = DataSource(kind="image_folder", path=str(root)).stream(batch_size=8, shuffle=False)
    with pytest.raises(DataError, match="zz.png: not a readable image"):
        seq.train[0]
    seq = DataSource(kind="image_folder", path=str(root), skip_bad_files=True).stream(
        batch_size=8, shuffle=False)
    x, y = seq.train[0]
    assert len(x) == 4 and y.tolist() == [0, 0, 1, 1]
    assert seq.train.skipped == [str(root / "cats" / "zz.png")]


def test_arrays_stream_too(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.arange(10.0).reshape(10, 1), y=np.arange(10) % 2)
    data = DataSource(kind="npz", path=str(tmp_path / "d.npz")).stream(batch_size=4,
                                                                        shuffle=False)
    assert len(data.train) == 3 and data.train[2][0].ravel().tolist() == [8.0, 9.0]


def test_bundled_mnist_summary_and_sentences_as_token_ids():
    s = DataSource(kind="bundled", name="mnist", shape=[28, 28, 1]).summary(n_samples=3)
    assert s.count == 24000 and s.test_count == 10000 and s.sample_shape == (28, 28, 1)
    assert s.value_range == (0.0, 1.0) and s.label_kind == "classes"
    with pytest.raises(DataError, match="this source holds token ids"):
        DataSource(kind="bundled", name="sentences", scale=0.5).load()
