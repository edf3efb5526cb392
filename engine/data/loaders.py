"""Array and text loaders: NPZ/NPY, IDX (the MNIST format), HDF5 datasets, text folders.

Files from users are never unpickled (NumPy files: :mod:`engine.data.npy_format`), and memory
is checked against the file's budget (:mod:`engine.io.bounded`) before arrays are allocated.
Every problem is a :class:`DataError` naming the file (and the array or dataset in it).
CSV/TSV tables are in :mod:`engine.data.tables`, images in :mod:`engine.data.images`.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from engine.data.errors import DataError
from engine.data.npy_format import NPY_MAGIC, read_npy_file, read_npz_file, read_values
from engine.data.tables import read_csv, read_table  # noqa: F401  (loaders of every format)
from engine.io.bounded import Budget, budget_for, check_dataset, hdf5_child

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
    """The arrays of an .npz file, or ``{"x": array}`` for an .npy file (no pickles, ever;
    headers parsed without evaluating them, memory checked before allocating)."""
    path = Path(path)
    head = _head(path)
    if not head:
        raise DataError("the file is empty", path)
    if head.startswith(NPY_MAGIC):
        return {"x": read_npy_file(path)}
    if head.startswith(ZIP_MAGIC):
        return read_npz_file(path)
    if head[:1] == b"\x80":
        raise DataError("is a Python pickle, which LayerLoom never loads (it can run "
                        "code); save plain arrays with numpy.save / numpy.savez", path)
    raise DataError("is not a NumPy file (.npy or .npz)", path)


# ------------------------------------------------------------------------------ IDX
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """An IDX file (the MNIST format: magic 0 0 type ndim, big-endian dims, data), plain or
    gzip-compressed. The header's size is checked against the file's memory budget before
    anything is allocated; gzip data is inflated straight into the array, and its checksum
    trailer must be there and right."""
    path = Path(path)
    head = _head(path)
    if not head:
        raise DataError("the file is empty", path)
    fail = (lambda m: DataError(m, path))
    try:
        with open(path, "rb") as raw:
            f = gzip.GzipFile(fileobj=raw) if head[:2] == b"\x1f\x8b" else raw
            with f:
                return _read_idx_stream(f, path, Budget(budget_for(path), fail),
                                        gz=f is not raw)
    except DataError:
        raise
    except (OSError, EOFError, zlib.error) as e:
        reason = "truncated" if isinstance(e, EOFError) else "damaged"
        raise DataError(f"the gzip data is {reason} ({e})", path) from None


def _read_idx_stream(f, path: Path, budget: Budget, gz: bool) -> np.ndarray:
    magic = f.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_TYPES:
        raise DataError("is not an IDX file (bad magic number)", path)
    ndim = magic[3]
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError("the IDX header is truncated", path)
    dims = tuple(int.from_bytes(raw_dims[4 * i:4 * i + 4], "big") for i in range(ndim))
    dtype = np.dtype(IDX_TYPES[magic[2]])
    shown = " x ".join(map(str, dims)) or "a scalar"
    out = read_values(f, dtype, dims, budget, f"the IDX header's {shown} values of {dtype.name}",
                      lambda done, nbytes: DataError(
                          f"is truncated: the header promises {nbytes:,} bytes of data "
                          f"({shown}), the file has {done:,}", path))
    if f.read(1):
        raise DataError(f"holds more data than its header declares ({shown} of "
                        f"{dtype.name}); the header or the file is damaged", path)
    if gz:
        f.read()     # at the end: GzipFile checks the CRC-32 and length trailer
    return out.reshape(dims).astype(dtype.newbyteorder("="), copy=False)


# ------------------------------------------------------------------------------ HDF5
MAX_HDF5_OBJECTS = 100_000


def _open_hdf5(path: Path):
    import h5py
    head = _head(path)
    if not head:
        raise DataError("the file is empty", path)
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"is not a readable HDF5 file ({e})", path) from None


def _walk_hdf5(group, prefix: str, found: dict, path: Path, depth: int = 0) -> None:
    """Datasets below ``group`` reached through hard links only (external links to other
    files and soft links are not followed)."""
    import h5py
    if depth > 64:
        raise DataError("groups are nested more than 64 levels deep", path)
    for name in group:
        if len(found) >= MAX_HDF5_OBJECTS:
            raise DataError(f"holds more than {MAX_HDF5_OBJECTS:,} objects", path)
        link = group.get(name, getlink=True)
        if not isinstance(link, h5py.HardLink):
            continue
        obj = group[name]
        full = f"{prefix}/{name}"
        if isinstance(obj, h5py.Dataset):
            found[full] = obj
        elif isinstance(obj, h5py.Group):
            _walk_hdf5(obj, full, found, path, depth + 1)


def hdf5_datasets(path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Every dataset in an HDF5 file: ``{"/group/name": (shape, dtype name)}``."""
    path = Path(path)
    found: dict = {}
    with _open_hdf5(path) as f:
        try:
            _walk_hdf5(f, "", found, path)
            return {k: (tuple(ds.shape), str(ds.dtype)) for k, ds in found.items()}
        except DataError:
            raise
        except (OSError, RuntimeError, KeyError, ValueError) as e:
            raise DataError(f"is damaged ({e})", path) from None


def read_hdf5(path, keys) -> dict[str, np.ndarray]:
    """The named datasets of an HDF5 file as arrays; a missing name is an error listing
    the datasets the file does have. Links to other files, external and virtual storage are
    refused; shape × itemsize is checked against the file's budget before reading."""
    import h5py
    path = Path(path)

    def fail(message: str) -> DataError:
        return DataError(message, path)
    budget = Budget(budget_for(path), fail)
    out = {}
    with _open_hdf5(path) as f:
        for key in keys:
            obj = hdf5_child(f, key, fail, "")
            if obj is None:
                names = list(hdf5_datasets(path))
                listed = ", ".join(names[:_SHOWN]) + (", …" if len(names) > _SHOWN else "")
                raise DataError(f"has no dataset {key!r}; its datasets: {listed or 'none'}",
                                path)
            if not isinstance(obj, h5py.Dataset):
                raise DataError(f"{key!r} is a group, not a dataset; name a dataset inside it",
                                path)
            check_dataset(obj, f"dataset {key!r}", fail, budget)
            try:
                out[key] = obj[()]
            except (OSError, ValueError, TypeError, RuntimeError) as e:
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
