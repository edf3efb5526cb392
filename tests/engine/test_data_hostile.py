"""Hostile and damaged data files: one line of DataError naming the file (and line, column,
array or dataset), no silent damage, nothing allocated before its size is checked."""
import gzip
import io
import zipfile

import h5py
import numpy as np
import pytest

from engine.data import DataError, read_csv, read_hdf5, read_idx, read_npz
from engine.data.images import MAX_IMAGE_PIXELS, load_image, read_image_folder
from tests import bombs


def _csv(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------ CSV
@pytest.mark.parametrize("text,line,column,message", [
    (",,,\n,,,\n,,,\n", None, None, "has no values"),
    ('a,b,y\n1,2,"cat\n3,4,dog\n5,6,cat\n', 2, None, "a quote opened here is never closed"),
    ('a,b,y\n1,2,"cat\n3,4,dog"\n5,6,cat\n', 2, "y", "a quoted field runs over several lines"),
    ('a,b,y\n1,2,cat\n3,4,"dog"x\n', 3, None, "a quoted field must end at a delimiter"),
    ("a,y\n1,1e300\n2,3\n", 2, "y", "1e\\+300 is too large for float32"),
    ("a,y\n1e39,1\n2,3\n", 2, "a", "'1e39' is too large for float32"),
    ("a,y\n1,nan\n2,3\n", 2, "y", "missing label"),
])
def test_csv_damage_is_an_error_not_a_guess(tmp_path, text, line, column, message):
    path = _csv(tmp_path, text)
    with pytest.raises(DataError, match=message) as e:
        read_csv(path, label="y" if "y" in text.split("\n")[0] else -1)
    assert (e.value.line, e.value.column) == (line, column)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


def test_csv_labels_too_large_for_int64_stay_numbers(tmp_path):
    _, y, _ = read_csv(_csv(tmp_path, "a,y\n1,1e19\n2,3\n"), label="y")
    assert y.dtype == np.float32 and y.tolist() == [np.float32(1e19), 3.0]   # not -2**63
    _, y, _ = read_csv(_csv(tmp_path, "a,y\n1,7\n2,3\n"), label="y")
    assert y.dtype == np.int64 and y.tolist() == [7, 3]


def test_csv_blocks_with_and_without_quotes_agree(tmp_path, monkeypatch):
    from engine.data import tables
    monkeypatch.setattr(tables, "BLOCK_BYTES", 64)          # many small blocks
    monkeypatch.setattr(tables, "BLOCK_ROWS", 3)
    r = np.random.default_rng(0)
    rows = [f"{a:.3f},{b:.3f},{'cat' if a > 0 else 'dog'}" for a, b in r.standard_normal((50, 2))]
    rows[30] = '"1.5",2.5,"cat"'                              # the csv module from here on
    path = _csv(tmp_path, "a,b,y\n" + "\n\n".join(rows) + "\n")
    x, y, info = read_csv(path, label="y")
    assert x.shape == (50, 2) and info["lines"].tolist() == list(range(2, 101, 2))
    assert x[30].tolist() == [1.5, 2.5] and info["class_names"] == ["cat", "dog"]
    want = [0 if float(r.split(",")[0].strip('"')) > 0 else 1 for r in rows]
    assert y.tolist() == want


# ------------------------------------------------------------------------------ IDX
def test_idx_header_larger_than_the_file_names_the_file(tmp_path):
    path = tmp_path / "huge.idx"
    path.write_bytes(bytes([0, 0, 0x08, 4]) + (65536).to_bytes(4, "big") * 4 + b"\0" * 16)
    with pytest.raises(DataError, match=r"65536 x 65536 x 65536 x 65536 values of uint8 would "
                                        r"take") as e:
        read_idx(path)
    assert str(e.value).startswith(str(path))


def test_idx_gzip_must_be_whole_with_its_checksum(tmp_path):
    data = bytes([0, 0, 0x08, 2, 0, 0, 0, 3, 0, 0, 0, 4]) + bytes(range(12))
    path = tmp_path / "ok.idx.gz"
    path.write_bytes(gzip.compress(data))
    assert read_idx(path).tolist() == [list(range(4)), list(range(4, 8)), list(range(8, 12))]
    path.write_bytes(gzip.compress(data)[:-8])                 # no CRC-32 / length trailer
    with pytest.raises(DataError, match="the gzip data is truncated"):
        read_idx(path)
    bad = bytearray(gzip.compress(data))
    bad[-8] ^= 0xFF                                            # a wrong CRC-32
    path.write_bytes(bytes(bad))
    with pytest.raises(DataError, match="damaged"):
        read_idx(path)
    path.write_bytes(gzip.compress(data + b"\0"))
    with pytest.raises(DataError, match="holds more data than its header declares"):
        read_idx(path)


# ------------------------------------------------------------------------------ NPY / NPZ
def _npy(header: str, body: bytes = b"") -> bytes:
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + body


@pytest.mark.parametrize("header,message", [
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }",
     r"shape \(1000000000000,\) and type float32 would take 4\.0 TB"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': ((3,), }", "damaged NPY header"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)), }", "damaged NPY header"),
    ("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", "Python objects"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': __import__('os')}",
     "unexpected text"),
    ("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (3,), }", "structured"),
])
def test_npy_headers_are_parsed_not_evaluated(tmp_path, header, message):
    path = tmp_path / "h.npy"
    path.write_bytes(_npy(header, b"\0" * 12))
    with pytest.raises(DataError, match=message) as e:
        read_npz(path)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


def test_npy_and_npz_round_trip(tmp_path):
    a = np.arange(12, dtype=">i4").reshape(3, 4)
    np.save(tmp_path / "a.npy", np.asfortranarray(a))
    got = read_npz(tmp_path / "a.npy")["x"]
    np.testing.assert_array_equal(got, a)
    np.savez_compressed(tmp_path / "b.npz", x=a.astype(np.float32), names=np.array(["a", "b"]))
    got = read_npz(tmp_path / "b.npz")
    assert got["names"].tolist() == ["a", "b"] and got["x"].dtype == np.float32


def test_npz_member_larger_than_its_header(tmp_path):
    with pytest.raises(DataError, match="has more data than its NPY header declares"):
        read_npz(bombs.npz_bomb(tmp_path / "b.npz", 64 * bombs.MB, declared_small=True))
    buf = io.BytesIO()
    np.savez(buf, x=np.array([{"a": 1}], dtype=object))
    (tmp_path / "o.npz").write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="array 'x' holds Python objects"):
        read_npz(tmp_path / "o.npz")
    with zipfile.ZipFile(tmp_path / "none.npz", "w") as z:
        z.writestr("readme.txt", "no arrays")
    with pytest.raises(DataError, match="holds no arrays"):
        read_npz(tmp_path / "none.npz")


# ------------------------------------------------------------------------------ HDF5 data
def test_hdf5_data_refuses_links_foreign_storage_and_fill_value_giants(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("x", data=np.ones(3))
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f["linked"] = h5py.ExternalLink(str(other), "/x")
        layout = h5py.VirtualLayout(shape=(3,), dtype="f8")
        layout[:] = h5py.VirtualSource(str(other), "x", shape=(3,))
        f.create_virtual_dataset("virtual", layout)
        f.create_dataset("giant", shape=(5 * 10 ** 9,), dtype="f4", chunks=(1 << 20,))
        f.create_dataset("ok", data=np.arange(4))
    for key, message in (("linked", "is a link to another file"),
                         ("virtual", "virtual dataset"),
                         ("giant", r"\(5000000000,\) would take 20\.0 GB")):
        with pytest.raises(DataError, match=message):
            read_hdf5(path, [key])
    assert read_hdf5(path, ["ok"])["ok"].tolist() == [0, 1, 2, 3]


# ------------------------------------------------------------------------------ images
def test_images_over_the_pixel_limit_are_refused_before_decoding(tmp_path):
    big = bombs.png_bomb(tmp_path / "big.png", 8000, 6000)
    with pytest.raises(DataError, match=r"is 8,000 × 6,000 pixels \(48\.0 million\); LayerLoom "
                                        r"reads images of up to 40 million"):
        load_image(big)
    folder = tmp_path / "folder" / "cats"
    folder.mkdir(parents=True)
    bombs.png_bomb(folder / "a.png", 12000, 12000)
    with pytest.raises(DataError, match="pixels"):
        read_image_folder(tmp_path / "folder", target_size=(8, 8))
    assert MAX_IMAGE_PIXELS == 40_000_000
