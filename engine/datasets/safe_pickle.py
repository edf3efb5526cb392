"""Reading the pickles inside published data sets without running code.

The CIFAR-10 "python version" batches are pickles, and Keras's ``imdb.npz`` stores its ragged
reviews as object arrays, which NumPy saves as pickles. A pickle may name any importable
callable, so :class:`RestrictedUnpickler` resolves only the few globals that rebuilding
dicts, lists, bytes and NumPy arrays needs; anything else (``os.system``, ``builtins.eval`` …)
is refused. Files that users bring are never unpickled at all (see ``engine.data.loaders``).
"""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

from engine.data.errors import DataError


def _allowed() -> dict[tuple[str, str], object]:
    """The permitted globals, found from NumPy's own reductions (no deprecated imports)."""
    reconstruct = np.array(0).__reduce__()[0]         # multiarray._reconstruct
    frombuffer = np.array(0).__reduce_ex__(5)[0]      # numeric._frombuffer (protocol 5)
    scalar = np.int64(0).__reduce__()[0]              # multiarray.scalar (numpy scalars)
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for core in ("numpy.core", "numpy._core"):        # files written by numpy 1 and numpy 2
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    import codecs
    allowed[("_codecs", "encode")] = codecs.encode      # bytes in protocol-2 pickles
    return allowed


ALLOWED_GLOBALS = _allowed()


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds only dicts, lists, tuples, strings, bytes, numbers and NumPy
    arrays; every other global is an ``UnpicklingError``."""

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a data set file "
                                         f"may only hold arrays, lists and dicts") from None


def load_pickle(data: bytes, source, encoding: str = "bytes"):
    """Unpickle ``data`` (from the file ``source``, named in errors) with the restrictions."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()
    except pickle.UnpicklingError as e:
        raise DataError(f"unsafe or damaged pickle: {e}", source) from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
        raise DataError(f"damaged or truncated pickle ({type(e).__name__}: {e})", source) \
            from None


def _read_npy(raw: bytes, source, member: str) -> np.ndarray:
    fp = io.BytesIO(raw)
    try:
        return np.lib.format.read_array(fp, allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" not in str(e):
            raise DataError(f"array {member!r} is damaged ({e})", source) from None
    fp.seek(0)                                       # an object array: header, then a pickle
    version = np.lib.format.read_magic(fp)
    if version[0] == 1:
        np.lib.format.read_array_header_1_0(fp)
    else:                                            # 2.0 and 3.0 share the header layout
        np.lib.format.read_array_header_2_0(fp)
    arr = load_pickle(fp.read(), source, encoding="latin1")
    if not isinstance(arr, np.ndarray):
        raise DataError(f"array {member!r} is not an array", source)
    return arr


def load_npz_with_objects(path) -> dict[str, np.ndarray]:
    """The arrays of a published ``.npz`` (e.g. ``imdb.npz``), object arrays included, read
    through :class:`RestrictedUnpickler`."""
    path = Path(path)
    out = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".npy"):
                    key = info.filename[:-4]
                    out[key] = _read_npy(archive.read(info), path, key)
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise DataError(f"is damaged or truncated ({e})", path) from None
    return out
