"""CSV / TSV tables: header and delimiter detection, numeric features, label columns.

``read_csv(path, label=-1, features=None, header="auto", delimiter="auto")`` →
``(x float32 (n, f), y, info)``. Every problem is a :class:`DataError` that names the file, the
1-based line in the file (header included) and the column.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.errors import DataError

DELIMITERS = (",", "\t", ";", "|")
DELIMITER_NAMES = {"comma": ",", "tab": "\t", "semicolon": ";", "pipe": "|"}
MISSING = frozenset(("", "na", "n/a", "nan", "null", "none", "?"))
LABEL_TYPES = ("auto", "categorical", "numeric")
_SHOWN = 3  # how many places a message lists before "…"


@dataclass
class Table:
    """A parsed text table: column names, data rows with their line numbers in the file."""
    path: Path
    names: list[str]
    rows: list[list[str]]
    lines: list[int]
    delimiter: str
    has_header: bool


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read the file ({e.strerror or e})", path) from None
    if b"\x00" in raw[:4096]:
        raise DataError("is a binary file, not a text table (CSV/TSV)", path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")   # old spreadsheet exports; every byte is a character


def _sniff_delimiter(lines: list[str], path: Path) -> str:
    """The delimiter that splits the first lines into equally many fields (more than one)."""
    sample = [ln for ln in lines[:30] if ln.strip()]
    order = ("\t",) + tuple(d for d in DELIMITERS if d != "\t") \
        if path.suffix.lower() == ".tsv" else DELIMITERS
    best, best_fields = ",", 1
    for d in order:
        try:
            counts = {len(r) for r in csv.reader(sample, delimiter=d)}
        except csv.Error:            # e.g. a stray carriage return: the parse reports it
            continue
        if len(counts) == 1 and (n := counts.pop()) > 1 and n > best_fields:
            best, best_fields = d, n
    if best_fields > 1:
        return best
    totals = {d: sum(ln.count(d) for ln in sample) for d in order}
    top = max(order, key=lambda d: totals[d])
    return top if totals[top] else ","


def _looks_like_header(rows: list[list[str]]) -> bool:
    """The first row has no numbers while the rows below have a numeric column, or the first
    row's values never appear again in their column (names, not data)."""
    first = rows[0]
    if any(_is_number(c) for c in first if c.strip()):
        return False
    if len(rows) < 2:
        return True                  # one line of names and no data
    below = rows[1:21]
    for j in range(len(first)):
        cells = [r[j].strip() for r in below if j < len(r) and r[j].strip()]
        if cells and all(_is_number(c) for c in cells):
            return True
    return all(first[j].strip() and first[j] not in {r[j] for r in below if j < len(r)}
               for j in range(len(first))) and len(set(first)) == len(first)


def read_table(path, header="auto", delimiter="auto") -> Table:
    """Parse a CSV/TSV file: lines split on "\\n" (so stray characters such as U+0085 stay
    inside fields), blank lines skipped, every row as wide as the header."""
    path = Path(path)
    if path.is_dir():
        raise DataError("is a folder, not a CSV/TSV file", path)
    text = _decode(path)
    # "\r\n" (Windows) and "\n" end lines; "\r" alone does only in a file without any "\n"
    # (classic Mac OS exports, such as Excel's "CSV (Macintosh)")
    lines = text.split("\n") if "\n" in text or "\r" not in text else text.split("\r")
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    if not any(ln.strip() for ln in lines):
        raise DataError("the file is empty", path)
    if delimiter == "auto":
        delim = _sniff_delimiter(lines, path)
    else:
        delim = DELIMITER_NAMES.get(delimiter, delimiter)
        if not isinstance(delim, str) or len(delim) != 1:
            raise DataError(f"delimiter must be one character or 'auto', got {delimiter!r}",
                            path)
    reader = csv.reader(lines, delimiter=delim)
    rows, starts, previous = [], [], 0
    try:
        for row in reader:
            start, previous = previous + 1, reader.line_num
            if row and any(c.strip() for c in row):
                rows.append(row)
                starts.append(start)
    except csv.Error as e:
        why = str(e)
        if "new-line character" in why:
            why = "a carriage return (\\r) inside an unquoted field; quote the field or remove it"
        raise DataError(f"cannot be parsed: {why}", path, previous + 1) from None
    if header == "auto":
        has_header = _looks_like_header(rows)
    elif isinstance(header, bool):
        has_header = header
    else:
        raise DataError(f"header must be 'auto', True or False, got {header!r}", path)
    if has_header:
        names = [c.strip() or f"column {i + 1}" for i, c in enumerate(rows[0])]
        rows, starts = rows[1:], starts[1:]
    else:
        names = [f"column {i + 1}" for i in range(len(rows[0]))]
    for row, line in zip(rows, starts):
        if len(row) != len(names):
            raise DataError(f"has {len(row)} fields, the {'header' if has_header else 'first row'}"
                            f" has {len(names)} (delimiter {delim!r})", path, line)
    if not rows:
        raise DataError("has a header but no data rows", path)
    return Table(path, names, rows, starts, delim, has_header)


def column_index(names: list[str], key, path) -> int:
    """The index of column ``key`` (a name, or an index that may be negative)."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        idx = int(key) + len(names) if key < 0 else int(key)
        if not 0 <= idx < len(names):
            raise DataError(f"column index {key} is out of range (the file has {len(names)} "
                            f"columns)", path)
        return idx
    if isinstance(key, str):
        if key in names:
            return names.index(key)
        stripped = [n.strip().lower() for n in names]
        if key.strip().lower() in stripped:
            return stripped.index(key.strip().lower())
    raise DataError(f"no column named {key!r}; the columns are: {', '.join(names)}", path)


def _parse_features(table: Table, cols: list[int], fill_missing) -> tuple[np.ndarray, int]:
    """(x float32 (n, len(cols)), number of filled cells)."""
    cells = [[row[c] for c in cols] for row in table.rows]
    try:
        x = np.array(cells, dtype=np.float32)   # fast path: every cell a finite number
        if np.isfinite(x).all():
            return x, 0
    except ValueError:
        pass
    x = np.empty((len(cells), len(cols)), dtype=np.float32)
    holes: list[tuple[int, int]] = []
    for i, row in enumerate(cells):
        for j, cell in enumerate(row):
            text = cell.strip()
            if text.lower() in MISSING:
                holes.append((i, j))
                x[i, j] = np.nan
                continue
            try:
                v = float(text)
            except ValueError:
                raise DataError(f"{text!r} is not a number (a feature column must hold numbers; "
                                f"leave it out with features=[...] or make it the label)",
                                table.path, table.lines[i], table.names[cols[j]]) from None
            if not math.isfinite(v):
                raise DataError(f"{text!r} is not a finite number", table.path, table.lines[i],
                                table.names[cols[j]])
            x[i, j] = v
    if holes and fill_missing is None:
        i, j = holes[0]
        where = ", ".join(f"line {table.lines[a]} {table.names[cols[b]]!r}"
                          for a, b in holes[:_SHOWN]) + (", …" if len(holes) > _SHOWN else "")
        raise DataError(f"missing value ({len(holes)} missing in the file: {where}); pass "
                        f"fill_missing=0 (or 'mean') to fill them", table.path,
                        table.lines[i], table.names[cols[j]])
    for i, j in holes:
        if fill_missing == "mean":
            column = x[:, j][np.isfinite(x[:, j])]
            if not column.size:
                raise DataError("every value is missing, so there is no mean to fill with",
                                table.path, None, table.names[cols[j]])
            x[i, j] = column.mean()
        else:
            x[i, j] = float(fill_missing)
    return x, len(holes)


def _parse_labels(table: Table, col: int, label_type: str):
    """(y, class names or None): text → classes 0..k-1, whole numbers → int64, else float32."""
    name = table.names[col]
    cells = [row[col].strip() for row in table.rows]
    for cell, line in zip(cells, table.lines):
        if cell.lower() in MISSING:
            raise DataError("missing label", table.path, line, name)
    numeric = [_is_number(c) for c in cells]
    if label_type == "numeric" or (label_type == "auto" and all(numeric)):
        if not all(numeric):
            i = numeric.index(False)
            raise DataError(f"{cells[i]!r} is not a number (label_type='numeric')",
                            table.path, table.lines[i], name)
        y = np.array([float(c) for c in cells])
        if not np.isfinite(y).all():
            i = int(np.argmin(np.isfinite(y)))
            raise DataError(f"{cells[i]!r} is not a finite number", table.path,
                            table.lines[i], name)
        whole = label_type == "auto" and bool(np.all(y == np.round(y)))
        return (y.astype(np.int64) if whole else y.astype(np.float32)), None
    # categorical numbers are ordered by value and named as written
    classes = sorted(set(cells), key=float) if all(numeric) else sorted(set(cells))
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[c] for c in cells], dtype=np.int64), classes


def read_csv(path, label=-1, features=None, header="auto", delimiter="auto",
             fill_missing=None, label_type: str = "auto"):
    """Read a CSV/TSV file into ``(x float32 (n, f), y, info)``.

    ``label``: the label column (name or index, default the last; ``None`` for no labels).
    ``features``: the feature columns (names or indices; default all but the label).
    ``header``: ``"auto"`` (detected), ``True`` or ``False``; ``delimiter``: ``"auto"``, a
    character or ``"tab"``/``"comma"``/``"semicolon"``/``"pipe"``. Missing values (empty, NA,
    NaN, ?) are errors unless ``fill_missing`` is a number or ``"mean"``. ``label_type``:
    ``"auto"`` (text → classes 0..k-1 with ``info["class_names"]``, whole numbers → int64
    class ids, other numbers → float32 regression targets), ``"categorical"`` or ``"numeric"``.

    ``info``: ``feature_names``, ``label_name``, ``class_names``, ``missing_filled``,
    ``lines`` (int64 (n,), the line of each sample in the file), ``delimiter``, ``header``.
    """
    path = Path(path)
    if label_type not in LABEL_TYPES:
        raise DataError(f"label_type must be one of {', '.join(LABEL_TYPES)}, got "
                        f"{label_type!r}", path)
    if fill_missing is not None and fill_missing != "mean" and \
            not isinstance(fill_missing, (int, float)):
        raise DataError(f"fill_missing must be a number or 'mean', got {fill_missing!r}", path)
    table = read_table(path, header, delimiter)
    li = column_index(table.names, label, path) if label is not None else None
    if features is None:
        cols = [i for i in range(len(table.names)) if i != li]
    else:
        cols = [column_index(table.names, f, path) for f in features]
        if li is not None and li in cols:
            raise DataError(f"column {table.names[li]!r} is both the label and a feature", path)
    if not cols:
        raise DataError("no feature columns left besides the label", path)
    x, filled = _parse_features(table, cols, fill_missing)
    info = {"feature_names": [table.names[c] for c in cols], "class_names": None,
            "missing_filled": filled, "label_name": table.names[li] if li is not None else None,
            "lines": np.array(table.lines, dtype=np.int64), "delimiter": table.delimiter,
            "header": table.has_header}
    if li is None:
        return x, None, info
    y, info["class_names"] = _parse_labels(table, li, label_type)
    return x, y, info
