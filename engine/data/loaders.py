"""File loaders: CSV/TSV, NPZ/NPY, IDX (MNIST format), image folders.

Every problem is a :class:`DataError` naming the file, and for tables the 1-based line in the
file (header included) and the column. Files from users are never unpickled.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """Bad input data: ``file``, ``line`` (1-based, header included) and ``column`` say where."""

    def __init__(self, message: str, file=None, line: int | None = None,
                 column: str | None = None):
        where = str(file) if file is not None else ""
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.line, self.column = file, line, column


# ------------------------------------------------------------------------------ CSV
def _sniff_delimiter(sample: str, path) -> str:
    counts = {d: sample.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    if counts[best] == 0:
        return ","
    return best


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_table(path, header="auto", delimiter="auto") -> tuple[list[str], list[list[str]], int]:
    """(column names, rows of strings, line number of the first data row)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read the file ({e.strerror})", path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    if not any(ln.strip() for ln in lines):
        raise DataError("the file is empty", path)
    delim = _sniff_delimiter("\n".join(lines[:20]), path) if delimiter == "auto" else delimiter
    rows = list(csv.reader(lines, delimiter=delim))
    first = rows[0]
    if header == "auto":
        has_header = not all(_is_number(c) for c in first if c.strip()) and len(rows) > 1 and \
            any(_is_number(c) for c in rows[1] if c.strip())
        if not has_header and len(rows) > 1:
            has_header = all(not _is_number(c) for c in first) and \
                sum(_is_number(c) for c in rows[1]) > 0
    else:
        has_header = bool(header)
    if has_header:
        names = [c.strip() or f"column {i + 1}" for i, c in enumerate(first)]
        body, first_line = rows[1:], 2
    else:
        names = [f"column {i + 1}" for i in range(len(first))]
        body, first_line = rows, 1
    width = len(names)
    for k, row in enumerate(body):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            raise DataError(f"has {len(row)} fields, the {'header' if has_header else 'first row'}"
                            f" has {width}", path, first_line + k)
    if not [r for r in body if r and any(c.strip() for c in r)]:
        raise DataError("has a header but no data rows", path)
    return names, body, first_line


def _column_index(names: list[str], key, path) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        idx = key if key >= 0 else len(names) + key
        if not 0 <= idx < len(names):
            raise DataError(f"column index {key} is out of range (the file has {len(names)} "
                            f"columns)", path)
        return idx
    if key in names:
        return names.index(key)
    raise DataError(f"no column named {key!r}; the columns are: {', '.join(names)}", path)


def read_csv(path, label=-1, features=None, header="auto", delimiter="auto",
             fill_missing: float | None = None):
    """``(x float32 (n, f), y, info)`` from a CSV/TSV file.

    ``label``: the label column (name or index; None for no labels). Text labels become class
    numbers 0..k-1 with ``info["class_names"]``; numeric labels stay numbers (regression or
    class ids). ``features``: the feature columns (default: all but the label). Missing values
    are errors unless ``fill_missing`` gives a value for them.
    """
    path = Path(path)
    names, body, first_line = read_table(path, header, delimiter)
    li = _column_index(names, label, path) if label is not None else None
    if features is None:
        fi = [i for i in range(len(names)) if i != li]
    else:
        fi = [_column_index(names, f, path) for f in features]
    if not fi:
        raise DataError("no feature columns left besides the label", path)
    rows = [(first_line + k, r) for k, r in enumerate(body)
            if r and not (len(r) == 1 and not r[0].strip())]
    x = np.empty((len(rows), len(fi)), dtype=np.float32)
    missing = 0
    for n, (line, row) in enumerate(rows):
        for j, c in enumerate(fi):
            cell = row[c].strip()
            if cell == "" or cell.lower() in ("na", "nan", "null", "?"):
                if fill_missing is None:
                    raise DataError(f"missing value (pass fill_missing=... to fill it)", path,
                                    line, names[c])
                x[n, j] = fill_missing
                missing += 1
                continue
            try:
                v = float(cell)
            except ValueError:
                raise DataError(f"{cell!r} is not a number", path, line, names[c]) from None
            if not math.isfinite(v):
                raise DataError(f"{cell!r} is not a finite number", path, line, names[c])
            x[n, j] = v
    info = {"feature_names": [names[c] for c in fi], "class_names": None, "missing_filled":
            missing, "label_name": names[li] if li is not None else None}
    if li is None:
        return x, None, info
    cells = [row[li].strip() for _, row in rows]
    for (line, _), cell in zip(rows, cells):
        if cell == "":
            raise DataError("missing label", path, line, names[li])
    if all(_is_number(c) for c in cells):
        y = np.array([float(c) for c in cells])
        if np.all(y == np.round(y)):
            y = y.astype(np.int64)
        return x, y, info
    classes = sorted(set(cells))
    index = {c: i for i, c in enumerate(classes)}
    info["class_names"] = classes
    return x, np.array([index[c] for c in cells], dtype=np.int64), info


# ------------------------------------------------------------------------------ arrays
def read_npz(path) -> dict[str, np.ndarray]:
    """Arrays of an .npz or .npy file (``allow_pickle=False``, always)."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise DataError("contains Python objects (pickled data), which LayerLoom never "
                            "loads; save plain numeric arrays", path) from None
        raise DataError(f"not a NumPy file ({e})", path) from None
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read the file ({e})", path) from None
    if isinstance(data, np.ndarray):
        return {"x": data}
    with data:
        try:
            return {k: data[k] for k in data.files}
        except ValueError as e:
            raise DataError(f"an array contains Python objects ({e}); LayerLoom never loads "
                            f"pickled data", path) from None


IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """An IDX file (the MNIST format), optionally gzip-compressed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"cannot read the file ({e})", path) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataError("not an IDX file (bad magic number)", path)
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", ndim, 4).astype(np.int64) if len(raw) >= 4 + 4 * ndim \
        else None
    if dims is None:
        raise DataError("the IDX header is truncated", path)
    dtype = np.dtype(IDX_TYPES[raw[2]])
    need = int(np.prod(dims)) * dtype.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) < need:
        raise DataError(f"truncated: the header promises {need:,} bytes of data, the file has "
                        f"{len(body):,}", path)
    return np.frombuffer(body, dtype, int(np.prod(dims))).reshape(tuple(dims)).astype(
        dtype.newbyteorder("="))


# ------------------------------------------------------------------------------ images
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def list_image_folder(root) -> tuple[list[tuple[Path, int]], list[str]]:
    """(files with class indices, class names) of a folder with one subfolder per class."""
    root = Path(root)
    if not root.is_dir():
        raise DataError("is not a folder", root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError("has no class subfolders (expected one subfolder per class)", root)
    files = []
    for k, name in enumerate(classes):
        found = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise DataError(f"class folder {name!r} has no images (.png, .jpg, .bmp, .gif)", root)
        files += [(p, k) for p in found]
    return files, classes


def load_image(path, target_size=None, color_mode="rgb") -> np.ndarray:
    """One image as float32 (H, W, C) in 0..255; unreadable or truncated files are named."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            im = im.convert("L" if color_mode == "grayscale" else "RGB")
            if target_size is not None:
                im = im.resize((int(target_size[1]), int(target_size[0])), Image.NEAREST)
            arr = np.asarray(im, dtype=np.float32)
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise DataError(f"not a readable image ({e})", path) from None
    return arr[..., None] if arr.ndim == 2 else arr


def read_image_folder(root, target_size=None, color_mode="rgb", skip_bad: bool = False):
    files, classes = list_image_folder(root)
    images, labels, skipped = [], [], []
    for path, k in files:
        try:
            img = load_image(path, target_size, color_mode)
        except DataError:
            if skip_bad:
                skipped.append(str(path))
                continue
            raise
        if images and img.shape != images[0].shape:
            raise DataError(f"has shape {img.shape}, the first image has {images[0].shape}; "
                            f"give a target_size to resize all images", path)
        images.append(img)
        labels.append(k)
    return np.stack(images), np.array(labels, dtype=np.int64), classes, skipped


def sniff_text(data: bytes) -> str:
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()
