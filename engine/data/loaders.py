"""Array and text loaders: NPZ/NPY, IDX (the MNIST format), HDF5 datasets, text folders.

Files from users are never unpickled: NumPy files are read with ``allow_pickle=False``, always.
Every problem is a :class:`DataError` naming the file (and the array or dataset in it).
CSV/TSV tables are in :mod:`engine.data.tables`, images in :mod:`engine.data.images`.
"""
from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np

from engine.data.errors import DataError
from engine.data.tables import read_csv, read_table  # noqa: F401  (loaders of every format)

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
TEXT_SUFFIXES = (".txt",)
_SHOWN = 8  # how many dataset names an error lists


def _head(path: Path, n: int = 8) -> bytes:
    if path.is_dir():
        raise DataError("is a folder, not a file", path)
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except FileNotFoundError:
        raise DataError("no such file", path) from None
    except OSError as e:
        raise DataError(f"cannot read the file ({e.strerror or e})", path) from None


# ------------------------------------------------------------------------------ NumPy
def read_npz(path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file, or ``{"x": array}`` for an .npy file (no pickles, ever)."""
    path = Path(path)
    head = _head(path)
    if not head:
        raise DataError("the file is empty", path)
    if not head.startswith((NPY_MAGIC, ZIP_MAGIC)):
        if head[:1] == b"\x80":
            raise DataError("is a Python pickle, which LayerLoom never loads (it can run "
                            "code); save plain arrays with numpy.save / numpy.savez", path)
        raise DataError("is not a NumPy file (.npy or .npz)", path)
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            return {"x": data}
        with data:
            out = {}
            for key in data.files:
                try:
                    out[key] = data[key]
                except ValueError as e:
                    if "allow_pickle" in str(e) or "pickle" in str(e).lower():
                        raise DataError(f"array {key!r} holds Python objects (pickled data), "
                                        f"which LayerLoom never loads; save plain numeric "
                                        f"arrays", path) from None
                    raise
            return out
    except DataError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e) or "pickle" in str(e).lower():
            raise DataError("holds Python objects (pickled data), which LayerLoom never loads; "
                            "save plain numeric arrays", path) from None
        raise DataError(f"is damaged or truncated ({e})", path) from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"is damaged or truncated ({e})", path) from None


# ------------------------------------------------------------------------------ IDX
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """An IDX file (the MNIST format: magic 0 0 type ndim, big-endian dims, data), plain or
    gzip-compressed."""
    path = Path(path)
    head = _head(path)
    if not head:
        raise DataError("the file is empty", path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        reason = "truncated" if isinstance(e, EOFError) else "damaged"
        raise DataError(f"the gzip data is {reason} ({e})", path) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataError("is not an IDX file (bad magic number)", path)
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError("the IDX header is truncated", path)
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    count = int(np.prod(dims, dtype=np.int64))
    body = memoryview(raw)[4 + 4 * ndim:]
    if len(body) < count * dtype.itemsize:
        raise DataError(f"is truncated: the header promises {count * dtype.itemsize:,} bytes of "
                        f"data ({' x '.join(map(str, dims))}), the file has {len(body):,}", path)
    arr = np.frombuffer(body, dtype, count).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


# ------------------------------------------------------------------------------ HDF5
def _open_hdf5(path: Path):
    import h5py
    head = _head(path)
    if not head:
        raise DataError("the file is empty", path)
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"is not a readable HDF5 file ({e})", path) from None


def hdf5_datasets(path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Every dataset in an HDF5 file: ``{"/group/name": (shape, dtype name)}``."""
    import h5py
    path = Path(path)
    found: dict[str, tuple[tuple[int, ...], str]] = {}
    with _open_hdf5(path) as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                found["/" + name] = (tuple(obj.shape), str(obj.dtype))
        f.visititems(visit)
    return found


def read_hdf5(path, keys) -> dict[str, np.ndarray]:
    """The named datasets of an HDF5 file as arrays; a missing name is an error listing
    the datasets the file does have."""
    import h5py
    path = Path(path)
    out = {}
    with _open_hdf5(path) as f:
        for key in keys:
            obj = f.get(key)
            if obj is None:
                names = list(hdf5_datasets(path))
                listed = ", ".join(names[:_SHOWN]) + (", …" if len(names) > _SHOWN else "")
                raise DataError(f"has no dataset {key!r}; its datasets: {listed or 'none'}",
                                path)
            if not isinstance(obj, h5py.Dataset):
                raise DataError(f"{key!r} is a group, not a dataset; name a dataset inside it",
                                path)
            if obj.dtype.kind not in "biuf":
                raise DataError(f"dataset {key!r} holds {obj.dtype} values, expected numbers",
                                path)
            try:
                out[key] = obj[()]
            except OSError as e:
                raise DataError(f"dataset {key!r} cannot be read; the file may be truncated "
                                f"({e})", path) from None
    return out


# ------------------------------------------------------------------------------ class folders
def class_folders(root, classes: list[str] | None = None) -> tuple[Path, list[str]]:
    """(root, class names): ``classes`` or the sorted visible subfolders of ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError("is not a folder" if root.exists() else "no such folder", root)
    if classes is None:
        classes = sorted(p.name for p in root.iterdir()
                         if p.is_dir() and not p.name.startswith("."))
    return root, list(classes)


# ------------------------------------------------------------------------------ text folders
def read_text_folder(root, classes: list[str] | None = None, skip_bad: bool = False
                     ) -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """A folder with one subfolder per class and one UTF-8 ``.txt`` file per sample:
    ``(texts, labels int64 (n,), class names, skipped file names)``. Empty or undecodable
    files are errors naming them, or are skipped (and listed) with ``skip_bad``."""
    root, classes = class_folders(root, classes)
    if not classes:
        raise DataError("has no class subfolders (expected one subfolder per class, one .txt "
                        "file per sample)", root)
    texts, labels, skipped = [], [], []
    for k, name in enumerate(classes):
        files = sorted(p for p in (root / name).rglob("*")
                       if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            raise DataError(f"class folder {name!r} has no .txt files", root / name)
        for p in files:
            try:
                text = _read_text(p)
            except DataError:
                if skip_bad:
                    skipped.append(str(p))
                    continue
                raise
            texts.append(text)
            labels.append(k)
    if not texts:
        raise DataError("no readable text files", root)
    return texts, np.array(labels, dtype=np.int64), list(classes), skipped


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError("the file is empty", path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"is not UTF-8 text (byte {e.start} is 0x{raw[e.start]:02x})",
                        path) from None
