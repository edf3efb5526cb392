"""Reading hostile files within a memory budget, checked before anything is allocated.

Every reader of user files (projects, model files, data files) asks here how much it may
allocate and reads through the helpers below, so that a small file can never make LayerLoom
use a lot of memory:

* the budget of a file is ``max(FLOOR_BYTES, RATIO × its size on disk)`` — what its content
  may take once decompressed or read; a real file of weights or data needs little more than
  its own size, while a bomb needs far more;
* zip members are inflated in blocks and the real bytes are counted (a header's declared size
  is never trusted);
* HDF5 objects are reached through hard links only (no external links, no external or virtual
  storage), and a dataset's shape × itemsize is checked against the budget before it is read;
* JSON is parsed only when its size and an estimate of the Python objects it makes are small.

Helpers report problems by calling ``fail(message)``, which returns the reader's own
exception type (``ProjectError``, ``ModelFileError``, ``DataError``) for them to raise.
"""
from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

FLOOR_BYTES = 256 * 1024 ** 2
RATIO = 32
MAX_JSON_BYTES = 32 * 1024 ** 2
MAX_JSON_OBJECT_BYTES = 384 * 1024 ** 2     # the Python objects a JSON text may become
MAX_ATTRIBUTE_BYTES = 16 * 1024 ** 2
BLOCK = 1024 ** 2

Fail = Callable[[str], Exception]


def budget_for(path: str | os.PathLike, extra: int = 0) -> int:
    """Bytes a reader may allocate for the content of ``path``."""
    try:
        size = os.stat(path).st_size
    except OSError:
        size = 0
    return max(FLOOR_BYTES, RATIO * (size + extra))


def size_text(n: float) -> str:
    """``n`` bytes for people: 512 B, 3.2 MB, 4.0 GB."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class Budget:
    """What is left of a file's budget; ``take`` fails before an allocation would pass it."""

    def __init__(self, limit: int, fail: Fail):
        self.limit, self.left, self.fail = limit, limit, fail

    def take(self, nbytes: int, what: str) -> None:
        if nbytes > self.left:
            raise self.fail(f"{what} would take {size_text(nbytes)}, more than this file can "
                            f"plausibly hold (limit {size_text(self.limit)} for a file of this "
                            f"size; a damaged file or a decompression bomb)")
        self.left -= nbytes


# ------------------------------------------------------------------------------ zip members
def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, fail: Fail) -> bytes:
    """The bytes of one zip member, inflated block by block and refused as soon as more than
    ``limit`` real bytes come out (whatever size its header declares)."""
    import io
    out = io.BytesIO()
    copy_member(zf, info, out, limit, fail)
    return out.getvalue()


def copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, out, limit: int, fail: Fail) -> int:
    """Inflate one zip member into the binary file ``out``, counting the real bytes and
    refusing more than ``limit``; returns the number of bytes written."""
    total = 0
    try:
        with zf.open(info) as f:
            while block := f.read(BLOCK):
                total += len(block)
                if total > limit:
                    break
                out.write(block)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
            RuntimeError, zlib.error) as e:
        raise fail(f"{info.filename} is damaged ({_reason(e)})") from None
    if total > limit:
        raise fail(f"{info.filename} inflates to more than {size_text(limit)} (a damaged file "
                   f"or a decompression bomb)")
    return total


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]


# ------------------------------------------------------------------------------ JSON
def parse_json(raw: bytes | str, what: str, fail: Fail) -> Any:
    """JSON from a file, refused when it is large or would become too many Python objects
    (``[{},{},...]`` turns 3 bytes into ~70)."""
    if len(raw) > MAX_JSON_BYTES:
        raise fail(f"{what} is {size_text(len(raw))}, more than the {size_text(MAX_JSON_BYTES)} "
                   f"a LayerLoom file needs")
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    containers = data.count(b"{") + data.count(b"[")
    values = data.count(b",") + data.count(b":")
    estimate = 72 * containers + 40 * values
    if estimate > MAX_JSON_OBJECT_BYTES:
        raise fail(f"{what} holds too many values ({containers:,} objects and lists, "
                   f"{values:,} items) to be a LayerLoom file")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text)
    except RecursionError:
        raise fail(f"{what} is nested too deeply") from None
    except UnicodeDecodeError as e:
        raise fail(f"{what} is not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise fail(f"{what} is not valid JSON ({e})") from None
    except ValueError as e:   # e.g. an integer with more digits than Python converts
        raise fail(f"{what} is not valid JSON ({_reason(e)})") from None


# ------------------------------------------------------------------------------ HDF5
def hdf5_child(group, path: str, fail: Fail, what: str):
    """The object at ``path`` below ``group``, reached through hard links only (an external
    link could read any file on the disk, a soft link could loop); None when missing."""
    import h5py
    node = group
    for part in [p for p in path.split("/") if p]:
        if not isinstance(node, h5py.Group):
            return None
        try:
            link = node.get(part, getlink=True)
        except (KeyError, ValueError, OSError, RuntimeError):
            return None
        if link is None:
            return None
        if isinstance(link, h5py.ExternalLink):
            raise fail(f"{_at(what)}'{path}' is a link to another file ({link.filename}), "
                       f"which LayerLoom does not follow")
        if not isinstance(link, h5py.HardLink):
            raise fail(f"{_at(what)}'{path}' is a {type(link).__name__}; only plain groups "
                       f"and datasets are read")
        node = node[part]
    return node


def check_dataset(ds, what: str, fail: Fail, budget: Budget | None = None,
                  kinds: str = "biuf") -> None:
    """Refuse a dataset we will not read: external or virtual storage, non-numeric values,
    or more bytes than the budget has left (shape × itemsize, before reading)."""
    if ds.is_virtual:
        raise fail(f"{what} is a virtual dataset (it reads other files); not read")
    if ds.external:
        raise fail(f"{what} keeps its data in other files ({ds.external[0][0]!r}); not read")
    if ds.dtype.kind not in kinds or ds.dtype.fields is not None or ds.dtype.subdtype:
        raise fail(f"{what} holds {ds.dtype} values, expected numbers")
    nbytes = int(np.prod(ds.shape, dtype=object)) * ds.dtype.itemsize if ds.shape else \
        ds.dtype.itemsize
    if budget is not None:
        budget.take(nbytes, f"{what} {tuple(ds.shape)}")


def read_attribute(obj, name: str, fail: Fail, what: str, default=None):
    """An HDF5 attribute, refused when larger than ``MAX_ATTRIBUTE_BYTES``."""
    import h5py
    try:
        if name not in obj.attrs:
            return default
        aid = h5py.h5a.open(obj.id, name.encode())
        try:
            nbytes = aid.get_storage_size()
        except RuntimeError:      # HDF5 reports an empty attribute's size 0 as an error
            nbytes = 0
        if nbytes > MAX_ATTRIBUTE_BYTES:
            raise fail(f"{_at(what)}attribute '{name}' is {size_text(nbytes)}, implausibly "
                       f"large")
        count = aid.shape and int(np.prod(aid.shape, dtype=object)) or 1
        if count > MAX_ATTRIBUTE_BYTES // 8:
            raise fail(f"{_at(what)}attribute '{name}' holds {count:,} values, implausibly "
                       f"many")
        return obj.attrs[name]
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        raise fail(f"{_at(what)}attribute '{name}' cannot be read ({_reason(e)})") from None


def _at(what: str) -> str:
    return f"{what}: " if what else ""
