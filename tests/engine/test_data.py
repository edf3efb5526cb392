"""Data loaders and DataSource: real formats written by the tests, every bad input named."""
import gzip
import struct

import numpy as np
import pytest

from engine.data import DataError, DataSource, read_csv, read_idx, read_image_folder, read_npz


def test_csv_header_labels_and_class_names(tmp_path):
    p = tmp_path / "iris.csv"
    p.write_text("sepal,petal,species\n1.0,2.5,setosa\n3,4,virginica\n5,6,setosa\n")
    x, y, info = read_csv(p, label="species")
    assert x.dtype == np.float32 and x.shape == (3, 2)
    assert info["class_names"] == ["setosa", "virginica"] and y.tolist() == [0, 1, 0]
    assert info["feature_names"] == ["sepal", "petal"]
    t = tmp_path / "r.tsv"
    t.write_text("1\t2\t0.5\n3\t4\t1.5\n")
    x, y, info = read_csv(t, label=-1)
    assert x.tolist() == [[1, 2], [3, 4]] and y.tolist() == [0.5, 1.5]


@pytest.mark.parametrize("text,line,column,msg", [
    ("a,b,label\n1,2,0\n3,x,1\n", 3, "b", "'x' is not a number"),
    ("a,b,label\n1,2,0\n3,4\n", 3, None, "has 2 fields"),
    ("a,b,label\n1,,0\n", 2, "b", "missing value"),
    ("a,b,label\n1,nan,0\n", 2, "b", "missing value"),
    ("a,b,label\n1,inf,0\n", 2, "b", "not a finite number"),
])
def test_csv_errors_name_file_line_and_column(tmp_path, text, line, column, msg):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=msg) as e:
        read_csv(p, label="label")
    assert e.value.line == line and e.value.column == column and e.value.file == p
    assert f"line {line}" in str(e.value) and "bad.csv" in str(e.value)


def test_csv_fill_missing_and_empty_file(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("a,b,label\n1,,0\n")
    x, _, info = read_csv(p, label="label", fill_missing=0.0)
    assert x.tolist() == [[1, 0]] and info["missing_filled"] == 1
    e = tmp_path / "e.csv"
    e.write_text("")
    with pytest.raises(DataError, match="empty"):
        read_csv(e)


def test_npz_never_unpickles(tmp_path):
    ok = tmp_path / "ok.npz"
    np.savez(ok, x_train=np.ones((2, 3)), y_train=np.array([0, 1]))
    assert read_npz(ok)["x_train"].shape == (2, 3)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="never loads"):
        read_npz(bad)


def _idx(path, arr):
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    path.write_bytes(gzip.compress(header + arr.astype(np.uint8).tobytes()))


def test_idx_gz_and_truncation(tmp_path):
    imgs = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 255
    _idx(tmp_path / "i.gz", imgs)
    np.testing.assert_array_equal(read_idx(tmp_path / "i.gz"), imgs)
    raw = gzip.decompress((tmp_path / "i.gz").read_bytes())
    (tmp_path / "t.idx").write_bytes(raw[:-5])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "t.idx")


def test_image_folder(tmp_path):
    from PIL import Image
    for k, cls in enumerate(("cat", "dog")):
        (tmp_path / cls).mkdir()
        for i in range(2):
            Image.fromarray(np.full((5, 6, 3), 40 * (k + i), np.uint8)).save(tmp_path / cls / f"{i}.png")
    x, y, classes, _ = read_image_folder(tmp_path)
    assert x.shape == (4, 5, 6, 3) and y.tolist() == [0, 0, 1, 1] and classes == ["cat", "dog"]
    (tmp_path / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(DataError, match="broken.png.*not a readable image"):
        read_image_folder(tmp_path)
    assert len(read_image_folder(tmp_path, skip_bad=True)[3]) == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="class folder 'empty' has no images"):
        read_image_folder(tmp_path, skip_bad=True)


def test_data_source_round_trip_and_options(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, x=np.arange(40, dtype=np.float32).reshape(10, 4) * 2, y=np.arange(10) % 3)
    src = DataSource.from_dict({"kind": "npz", "path": str(p), "scale": 0.5, "shape": [2, 2],
                                "one_hot": True, "test_fraction": 0.2})
    assert DataSource.from_dict(src.to_dict()) == src
    d = src.load()
    assert d.x_train.shape == (8, 2, 2) and d.y_train.shape == (8, 3) and len(d.x_test) == 2
    s = src.summary()
    assert s.count == 8 and s.test_count == 2 and sum(s.class_counts) == 8
    with pytest.raises(DataError, match="unknown option"):
        DataSource.from_dict({"kind": "npz", "path": "x", "colour": 1})
    with pytest.raises(DataError, match="unknown data source kind"):
        DataSource.from_dict({"kind": "parquet", "path": "x"})
    nan = tmp_path / "nan.npz"
    np.savez(nan, x=np.array([[1.0], [np.nan]]), y=np.array([0, 1]))
    with pytest.raises(DataError, match="sample 1 contains NaN"):
        DataSource(kind="npz", path=str(nan)).load()


def test_bundled_mnist_is_real_and_scaled():
    d = DataSource(kind="bundled", name="mnist").load()
    assert d.x_train.shape == (24000, 28, 28) and d.x_test.shape == (10000, 28, 28)
    assert 0.0 <= d.x_train.min() and d.x_train.max() == 1.0
    assert np.bincount(d.y_test).tolist()[:3] == [980, 1135, 1032]  # the official test set


def test_bundled_sentences_are_tokenized_real_text():
    from engine.datasets.bundled import sentence_texts
    texts, labels = sentence_texts()
    assert len(texts) == 3000 and labels.sum() == 1500  # 3 × (500 positive + 500 negative)
    assert not any("\t" in t for t in texts)
    d = DataSource(kind="bundled", name="sentences").load()
    assert d.x_train.shape == (2400, 40) and d.x_train.dtype.kind == "i"
    assert d.x_test.shape == (600, 40) and d.class_names == ["negative", "positive"]
    assert d.x_train.max() < 10000 and (d.x_train > 1).any()
