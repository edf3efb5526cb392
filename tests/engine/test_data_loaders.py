"""NPZ/NPY, IDX, HDF5 and text-folder loaders on real files the tests write; bad files named."""
import gzip
import pickle
import struct

import h5py
import numpy as np
import pytest

from engine.data import DataError, hdf5_datasets, read_hdf5, read_idx, read_npz, read_text_folder


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.tobytes()


# ------------------------------------------------------------------ NumPy
def test_npz_and_npy(tmp_path):
    np.savez_compressed(tmp_path / "d.npz", x_train=np.ones((2, 3), np.uint8), y_train=[0, 1])
    arrays = read_npz(tmp_path / "d.npz")
    assert arrays["x_train"].dtype == np.uint8 and arrays["y_train"].tolist() == [0, 1]
    np.save(tmp_path / "x.npy", np.arange(6.0).reshape(2, 3))
    assert read_npz(tmp_path / "x.npy")["x"].shape == (2, 3)


def test_pickles_are_never_loaded(tmp_path):
    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))
    np.save(tmp_path / "obj.npy", np.array([Boom()], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="holds Python objects .* never loads") as e:
        read_npz(tmp_path / "obj.npy")
    assert e.value.file == tmp_path / "obj.npy"
    np.savez(tmp_path / "obj.npz", x=np.ones(2), y=np.array([[1], [1, 2]], dtype=object))
    with pytest.raises(DataError, match="array 'y' holds Python objects"):
        read_npz(tmp_path / "obj.npz")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"x": [1, 2]}))
    with pytest.raises(DataError, match="is a Python pickle, which LayerLoom never loads"):
        read_npz(tmp_path / "plain.pkl")


@pytest.mark.parametrize("content,msg", [
    (b"", "the file is empty"),
    (b"hello, this is text", "is not a NumPy file"),
])
def test_npz_bad_files(tmp_path, content, msg):
    (tmp_path / "f.npz").write_bytes(content)
    with pytest.raises(DataError, match=msg):
        read_npz(tmp_path / "f.npz")


def test_truncated_npz_and_npy(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.arange(1000.0))
    raw = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[:len(raw) // 2])
    with pytest.raises(DataError, match="damaged or truncated"):
        read_npz(tmp_path / "cut.npz")
    np.save(tmp_path / "d.npy", np.arange(1000.0))
    raw = (tmp_path / "d.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[:200])
    with pytest.raises(DataError, match="the array is truncated: its header promises 8,000 "
                                        "bytes of data"):
        read_npz(tmp_path / "cut.npy")
    with pytest.raises(DataError, match="no such file"):
        read_npz(tmp_path / "none.npz")


# ------------------------------------------------------------------ IDX
def test_idx_plain_gz_and_wide_types(tmp_path):
    imgs = (np.arange(2 * 3 * 4) % 255).astype(np.uint8).reshape(2, 3, 4)
    (tmp_path / "i-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(imgs)))
    np.testing.assert_array_equal(read_idx(tmp_path / "i-idx3-ubyte.gz"), imgs)
    floats = np.array([[1.5, -2.0]], dtype=">f4")
    (tmp_path / "f.idx").write_bytes(idx_bytes(floats, 0x0D))
    got = read_idx(tmp_path / "f.idx")
    assert got.dtype == np.float32 and got.tolist() == [[1.5, -2.0]]


@pytest.mark.parametrize("make,msg", [
    (lambda raw: raw[:-5], "is truncated: the header promises 24 bytes"),
    (lambda raw: raw[:6], "the IDX header is truncated"),
    (lambda raw: b"\x01\x02" + raw[2:], "bad magic number"),
    (lambda raw: b"", "the file is empty"),
    (lambda raw: gzip.compress(raw)[:-12], "gzip data is truncated"),
])
def test_idx_bad_files(tmp_path, make, msg):
    raw = idx_bytes((np.arange(24) % 255).astype(np.uint8).reshape(2, 3, 4))
    (tmp_path / "bad.idx").write_bytes(make(raw))
    with pytest.raises(DataError, match=msg) as e:
        read_idx(tmp_path / "bad.idx")
    assert "bad.idx" in str(e.value)


# ------------------------------------------------------------------ HDF5
def test_hdf5_datasets_and_missing_paths(tmp_path):
    p = tmp_path / "d.h5"
    with h5py.File(p, "w") as f:
        f["images"] = np.ones((4, 2, 2), np.uint8)
        f.create_group("meta")["labels"] = np.arange(4)
        f["names"] = np.array([b"a", b"b"])
    assert hdf5_datasets(p) == {"/images": ((4, 2, 2), "uint8"), "/meta/labels": ((4,), "int64"),
                                "/names": ((2,), "|S1")}
    got = read_hdf5(p, ["images", "/meta/labels"])
    assert got["images"].shape == (4, 2, 2) and got["/meta/labels"].tolist() == [0, 1, 2, 3]
    with pytest.raises(DataError, match=r"has no dataset '/x'; its datasets: /images, "
                                        r"/meta/labels, /names") as e:
        read_hdf5(p, ["/x"])
    assert e.value.file == p
    with pytest.raises(DataError, match="'meta' is a group, not a dataset"):
        read_hdf5(p, ["meta"])
    with pytest.raises(DataError, match="holds |S1 values, expected numbers"):
        read_hdf5(p, ["names"])


def test_hdf5_bad_files(tmp_path):
    (tmp_path / "t.h5").write_text("not hdf5")
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        read_hdf5(tmp_path / "t.h5", ["x"])
    (tmp_path / "e.h5").write_bytes(b"")
    with pytest.raises(DataError, match="the file is empty"):
        hdf5_datasets(tmp_path / "e.h5")


# ------------------------------------------------------------------ text folders
def write_texts(root, classes):
    for name, texts in classes.items():
        (root / name).mkdir(parents=True)
        for i, text in enumerate(texts):
            (root / name / f"{i}.txt").write_bytes(text if isinstance(text, bytes)
                                                   else text.encode("utf-8"))


def test_text_folder(tmp_path):
    write_texts(tmp_path, {"neg": ["bad film", "dull\u0085 and long"], "pos": ["great"]})
    (tmp_path / "pos" / "notes.md").write_text("ignored: not a .txt sample")
    texts, y, classes, skipped = read_text_folder(tmp_path)
    assert texts == ["bad film", "dull\u0085 and long", "great"] and y.tolist() == [0, 0, 1]
    assert classes == ["neg", "pos"] and skipped == []


def test_text_folder_bad_input(tmp_path):
    write_texts(tmp_path, {"a": ["fine", b"caf\xe9 latin-1"], "b": ["ok", "  \n"]})
    with pytest.raises(DataError, match=r"1.txt: is not UTF-8 text \(byte 3 is 0xe9\)"):
        read_text_folder(tmp_path)
    texts, y, _, skipped = read_text_folder(tmp_path, skip_bad=True)
    assert texts == ["fine", "ok"] and len(skipped) == 2
    (tmp_path / "c").mkdir()
    with pytest.raises(DataError, match="class folder 'c' has no .txt files"):
        read_text_folder(tmp_path, skip_bad=True)
    with pytest.raises(DataError, match="has no class subfolders"):
        read_text_folder(tmp_path / "c")
