"""NumPy ``.npy`` / ``.npz`` files read without trusting them.

NumPy's own reader turns the header into a Python value with ``ast.literal_eval`` and
allocates whatever shape it declares. Here the header is matched against the three entries
NumPy writes (``descr``, ``fortran_order``, ``shape``) by regular expressions — nothing in it is
evaluated — and ``shape × itemsize`` is checked against the file's memory budget
(:mod:`engine.io.bounded`) and against the bytes really there before an array is allocated.
Array data is then read straight into that array, so memory is the array itself. Object arrays
(pickles) are refused, always.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from engine.data.errors import DataError
from engine.io.bounded import Budget, budget_for

NPY_MAGIC = b"\x93NUMPY"
MAX_HEADER = 65536
MAX_DIMS = 32
KINDS = "biufUS"            # booleans, numbers, fixed-size text (class names)
_ENTRY = {
    "descr": re.compile(r"""(['"])descr\1\s*:\s*(['"])([<>|=]?[A-Za-z]\d{0,6})\2"""),
    "fortran_order": re.compile(r"""(['"])fortran_order\1\s*:\s*(True|False)"""),
    "shape": re.compile(r"""(['"])shape\1\s*:\s*\(([\d\s,]{0,800})\)"""),
}
_PICKLE = ("holds Python objects (pickled data), which LayerLoom never loads; save plain "
           "numeric arrays")


def parse_header(header: str, where: str, path) -> tuple[np.dtype, bool, tuple[int, ...]]:
    """``(dtype, fortran_order, shape)`` from the text of an NPY header."""
    found, rest = {}, header
    for key, pattern in _ENTRY.items():
        m = pattern.search(header)
        if m is None:
            if key == "descr" and re.search(r"""(['"])descr\1\s*:\s*[\[(]""", header):
                raise DataError(f"{where} is a structured (record) array; save plain numeric "
                                f"arrays", path)
            if "'O'" in header or "|O" in header:
                raise DataError(f"{where} {_PICKLE}", path)
            raise DataError(f"{where} has a damaged NPY header (no {key!r})", path)
        found[key] = m
        rest = rest.replace(m.group(0), "", 1)
    if rest.strip(" \t\n{},") or rest.count("{") != 1 or rest.count("}") != 1:
        raise DataError(f"{where} has a damaged NPY header (unexpected text "
                        f"{rest.strip()[:40]!r})", path)
    descr = found["descr"].group(3)
    try:
        dtype = np.dtype(descr)
    except TypeError:
        raise DataError(f"{where} has an unknown value type {descr!r}", path) from None
    if dtype.kind == "O":
        raise DataError(f"{where} {_PICKLE}", path)
    if dtype.kind not in KINDS:
        raise DataError(f"{where} holds {dtype} values, expected numbers", path)
    dims = [d.strip() for d in found["shape"].group(2).split(",")]
    if dims and dims[-1] == "":
        dims.pop()
    if len(dims) > MAX_DIMS or any(not d.isdigit() or len(d) > 18 for d in dims):
        raise DataError(f"{where} has a damaged NPY header (shape "
                        f"({found['shape'].group(2)[:40]}))", path)
    return dtype, found["fortran_order"].group(2) == "True", tuple(int(d) for d in dims)


def read_header(f, where: str, path) -> tuple[np.dtype, bool, tuple[int, ...]]:
    """Read the magic string and header of an NPY stream ``f`` (left at the data)."""
    head = _read_exactly(f, 10, where, path)
    if not head.startswith(NPY_MAGIC):
        if head[:1] == b"\x80":
            raise DataError(f"{where} is a Python pickle, which LayerLoom never loads (it can "
                            f"run code); save plain arrays with numpy.save / numpy.savez", path)
        raise DataError(f"{where} is not a NumPy array (no NPY magic string)", path)
    major = head[6]
    if major == 1:
        length = int.from_bytes(head[8:10], "little")
    elif major in (2, 3):
        length = int.from_bytes(head[8:10] + _read_exactly(f, 2, where, path), "little")
    else:
        raise DataError(f"{where} has NPY format version {major}, which LayerLoom does not "
                        f"know", path)
    if length > MAX_HEADER:
        raise DataError(f"{where} has an NPY header of {length:,} bytes (at most "
                        f"{MAX_HEADER:,} expected)", path)
    raw = _read_exactly(f, length, where, path)
    try:
        header = raw.decode("utf-8" if major == 3 else "latin-1")
    except UnicodeDecodeError:
        raise DataError(f"{where} has a damaged NPY header (not text)", path) from None
    return parse_header(header, where, path)


def _read_exactly(f, n: int, where: str, path) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise DataError(f"{where} is truncated (it ends inside the NPY header)", path)
    return data


def read_array(f, where: str, path, budget: Budget) -> np.ndarray:
    """One array from the NPY stream ``f``: header checked, memory taken from ``budget``,
    data read straight into the array."""
    dtype, fortran, shape = read_header(f, where, path)
    out = read_values(f, dtype, shape, budget, f"{where} of shape {shape} and type {dtype}",
                      lambda done, nbytes: DataError(
                          f"{where} is truncated: its header promises {nbytes:,} bytes of data "
                          f"({' x '.join(map(str, shape)) or 'a scalar'} of {dtype}), the file "
                          f"has {done:,}", path))
    if dtype.byteorder not in ("=", "|"):
        out = out.astype(dtype.newbyteorder("="))
    return out.reshape(shape[::-1]).T if fortran else out.reshape(shape)


def _expect_end(f, where: str, path) -> None:
    if f.read(1):
        raise DataError(f"{where} has more data than its NPY header declares; the header or "
                        f"the file is damaged", path)


def read_values(f, dtype: np.dtype, shape: tuple[int, ...], budget: Budget, what: str,
                truncated) -> np.ndarray:
    """``prod(shape)`` values of ``dtype`` read from the stream ``f`` straight into a flat
    array, after taking their size from ``budget``; ``truncated(done, nbytes)`` makes the error
    when the stream ends early."""
    count = 1
    for d in shape:
        count *= d
    nbytes = count * dtype.itemsize
    budget.take(nbytes, what)
    out = np.empty(count, dtype)
    view = memoryview(out).cast("B") if nbytes else memoryview(b"")
    done = 0
    while done < nbytes:
        got = f.readinto(view[done:])
        if not got:
            raise truncated(done, nbytes)
        done += got
    return out


def read_npy_file(path: Path) -> np.ndarray:
    budget = Budget(budget_for(path), lambda m: DataError(m, path))
    try:
        with open(path, "rb") as f:
            array = read_array(f, "the array", path, budget)
            _expect_end(f, "the array", path)
            return array
    except OSError as e:
        raise DataError(f"cannot read the file ({e.strerror or e})", path) from None


def read_npz_file(path: Path) -> dict[str, np.ndarray]:
    """Every ``.npy`` member of an ``.npz`` archive, inflated straight into its array (the
    real bytes counted, not the sizes the zip header declares)."""
    budget = Budget(budget_for(path), lambda m: DataError(m, path))
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        raise DataError(f"is damaged or truncated (not a readable zip: {e})", path) from None
    out = {}
    with zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy") or info.is_dir():
                continue
            key = info.filename[:-4]
            where = f"array {key!r}"
            try:
                with zf.open(info) as f:
                    out[key] = read_array(f, where, path, budget)
                    _expect_end(f, where, path)
            except DataError:
                raise
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
                    RuntimeError) as e:
                raise DataError(f"{where} is damaged ({e})", path) from None
            except Exception as e:   # zlib.error from a corrupted deflate stream
                if type(e).__name__ != "error":
                    raise
                raise DataError(f"{where} is damaged ({e})", path) from None
    if not out:
        raise DataError("holds no arrays (no .npy members)", path)
    return out

