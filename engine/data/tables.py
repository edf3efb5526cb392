"""CSV / TSV tables: header and delimiter detection, numeric features, label columns.

``read_csv(path, label=-1, features=None, header="auto", delimiter="auto")`` →
``(x float32 (n, f), y, info)``. Every problem is a :class:`DataError` that names the file, the
1-based line in the file (header included) and the column.

The file is streamed: it is decoded and parsed in blocks of lines, and each block goes straight
into float32 arrays (NumPy's C parser for blocks without quotes, the ``csv`` module otherwise),
so memory is the arrays plus one block — a 200 MB file does not become gigabytes of Python
strings. A quote that is never closed, or a quoted field that runs over lines into a number or
label column, is an error naming the line where it starts.
"""
from __future__ import annotations

import codecs
import csv
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.errors import DataError

DELIMITERS = (",", "\t", ";", "|")
DELIMITER_NAMES = {"comma": ",", "tab": "\t", "semicolon": ";", "pipe": "|"}
MISSING = frozenset(("", "na", "n/a", "nan", "null", "none", "?"))
LABEL_TYPES = ("auto", "categorical", "numeric")
MAX_CLASSES = 100_000      # distinct text labels kept while streaming
BLOCK_BYTES = 4 * 1024 ** 2
BLOCK_ROWS = 65536
_SHOWN = 3  # how many places a message lists before "…"
_FLOAT32_MAX = float(np.finfo(np.float32).max)


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


# ------------------------------------------------------------------------------ text lines
def _encoding(path: Path) -> str:
    """utf-8-sig, or latin-1 for old spreadsheet exports (every byte is a character)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        with open(path, "rb") as f:
            first = True
            while block := f.read(BLOCK_BYTES):
                if first and b"\x00" in block[:4096]:
                    raise DataError("is a binary file, not a text table (CSV/TSV)", path)
                first = False
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "latin-1"
    except OSError as e:
        raise DataError(f"cannot read the file ({e.strerror or e})", path) from None
    return "utf-8-sig"


def _line_blocks(path: Path, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """``(number of the first line, lines)`` blocks of the file, line ends removed. "\\r\\n"
    and "\\n" end lines; "\\r" alone does only in a file without any "\\n" (classic Mac OS
    exports such as Excel's "CSV (Macintosh)")."""
    decoder = codecs.getincrementaldecoder(encoding)()
    sep, pending, number = None, "", 1
    with open(path, "rb") as f:
        while True:
            raw = f.read(BLOCK_BYTES)
            text = pending + decoder.decode(raw, final=not raw)
            if sep is None and (raw or text):
                sep = "\n" if "\n" in text or "\r" not in text else "\r"
            if not raw:
                if text:
                    yield number, [text.removesuffix("\r")]
                return
            lines = text.split(sep)
            pending = lines.pop()
            if sep == "\n":
                lines = [ln.removesuffix("\r") for ln in lines]
            yield number, lines
            number += len(lines)


# ------------------------------------------------------------------------------ layout
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


@dataclass
class _Layout:
    delimiter: str
    has_header: bool
    names: list[str]


class _Rows:
    """The data rows of a table file as blocks: ``("lines", starts, lines)`` for blocks a
    NumPy parser can take (no quotes, no stray carriage returns) or ``("rows", starts,
    rows)`` parsed by the csv module, blank lines skipped, the header row left out."""

    def __init__(self, path: Path, header, delimiter):
        self.path = path
        self.encoding = _encoding(path)
        first = self._first_lines(30)
        if not any(ln.strip() for ln in first):
            raise DataError("the file is empty", path)
        if delimiter == "auto":
            delim = _sniff_delimiter(first, path)
        else:
            delim = DELIMITER_NAMES.get(delimiter, delimiter)
            if not isinstance(delim, str) or len(delim) != 1:
                raise DataError(f"delimiter must be one character or 'auto', got "
                                f"{delimiter!r}", path)
        head_rows = list(itertools.islice(self._csv_rows(delim), 21))
        if not head_rows:
            raise DataError("has no values (only delimiters and blank cells)", path)
        if header == "auto":
            has_header = _looks_like_header([r for _, r in head_rows])
        elif isinstance(header, bool):
            has_header = header
        else:
            raise DataError(f"header must be 'auto', True or False, got {header!r}", path)
        first_row = head_rows[0][1]
        names = [c.strip() or f"column {i + 1}" for i, c in enumerate(first_row)] \
            if has_header else [f"column {i + 1}" for i in range(len(first_row))]
        self.layout = _Layout(delim, has_header, names)
        self.header_line = head_rows[0][0] if has_header else 0

    def _first_lines(self, n: int) -> list[str]:
        out: list[str] = []
        for _, lines in _line_blocks(self.path, self.encoding):
            out += lines[:n - len(out)]
            if len(out) >= n:
                break
        return out

    def _csv_rows(self, delim: str, blocks=None, first_line: int = 1
                  ) -> Iterator[tuple[int, list[str]]]:
        """(start line, row) for every non-blank row, parsed by the csv module (strict: a
        quote that never closes is an error at the line where it opens)."""
        numbered = ((number + i, ln) for number, lines in
                    (blocks if blocks is not None else _line_blocks(self.path, self.encoding))
                    for i, ln in enumerate(lines))
        current = [first_line - 1]

        def feed():
            for number, ln in numbered:
                current[0] = number
                yield ln + "\n"     # kept inside quoted fields, so a runaway quote shows
        reader = csv.reader(feed(), delimiter=delim, strict=True)
        while True:
            begin = current[0] + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                why = str(e)
                if "new-line character" in why:
                    why = ("a carriage return (\\r) inside an unquoted field; quote the field "
                           "or remove it")
                    raise DataError(f"cannot be parsed: {why}", self.path, current[0]) \
                        from None
                if "expected after" in why:
                    why = (f"a quoted field must end at a delimiter ({delim!r}); is there a "
                           f"stray quote (\") in it?")
                if "unexpected end of data" in why:
                    raise DataError("a quote opened here is never closed", self.path,
                                    begin) from None
                raise DataError(f"cannot be parsed: {why}", self.path, begin) from None
            if row and any(c.strip() for c in row):
                yield begin, row

    def blocks(self) -> Iterator[tuple[str, list[int], list]]:
        delim, skip = self.layout.delimiter, self.header_line
        source = _line_blocks(self.path, self.encoding)
        for number, lines in source:
            if skip and number <= skip < number + len(lines):
                cut = skip - number + 1
                number, lines = number + cut, lines[cut:]
            joined = "\n".join(lines)
            if '"' in joined or "\r" in joined:
                yield from self._row_blocks(itertools.chain([(number, lines)], source),
                                            delim, number)
                return
            starts = [number + i for i, ln in enumerate(lines) if ln.strip()]
            kept = [ln for ln in lines if ln.strip()]
            for k in range(0, len(kept), BLOCK_ROWS):
                yield "lines", starts[k:k + BLOCK_ROWS], kept[k:k + BLOCK_ROWS]

    def _row_blocks(self, source, delim, first_line: int):
        starts, rows = [], []
        for start, row in self._csv_rows(delim, source, first_line):
            starts.append(start)
            rows.append(row)
            if len(rows) == BLOCK_ROWS:
                yield "rows", starts, rows
                starts, rows = [], []
        if rows:
            yield "rows", starts, rows


def read_table(path, header="auto", delimiter="auto") -> Table:
    """Parse a CSV/TSV file: lines split on "\\n" (so stray characters such as U+0085 stay
    inside fields), blank lines skipped, every row as wide as the header."""
    path = Path(path)
    if path.is_dir():
        raise DataError("is a folder, not a CSV/TSV file", path)
    source = _Rows(path, header, delimiter)
    layout, rows, starts = source.layout, [], []
    for kind, block_starts, block in source.blocks():
        block_rows = block if kind == "rows" else list(csv.reader(block, delimiter=layout.delimiter))
        _check_widths(block_rows, block_starts, layout, path)
        rows += block_rows
        starts += block_starts
    if not rows:
        raise DataError("has a header but no data rows", path)
    return Table(path, layout.names, rows, starts, layout.delimiter, layout.has_header)


def _check_widths(rows, starts, layout: _Layout, path: Path) -> None:
    n = len(layout.names)
    for row, line in zip(rows, starts):
        if len(row) != n:
            raise DataError(f"has {len(row)} fields, the "
                            f"{'header' if layout.has_header else 'first row'} has {n} "
                            f"(delimiter {layout.delimiter!r})", path, line)


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


# ------------------------------------------------------------------------------ features
class _Features:
    """float32 feature blocks; missing cells are NaN here and counted (first few kept for
    the message)."""

    def __init__(self, path: Path, names: list[str], cols: list[int]):
        self.path, self.names, self.cols = path, names, cols
        self.blocks: list[np.ndarray] = []
        self.holes = 0
        self.first_holes: list[tuple[int, int]] = []    # (line, column index in cols)

    def add_lines(self, lines: list[str], starts: list[int], delim: str) -> list | None:
        """Parse a block of quote-free lines with NumPy's C parser; None when that block
        needs the careful path (missing values, text, too wide, too large for float32)."""
        try:
            x = np.loadtxt(lines, delimiter=delim, dtype=np.float32, usecols=self.cols,
                           comments=None, ndmin=2, encoding=None)
        except (ValueError, IndexError):
            return None
        if x.shape[0] != len(lines) or not np.isfinite(x).all():
            return None
        self.blocks.append(x)
        return []

    def add_rows(self, rows: list[list[str]], starts: list[int]) -> None:
        cells = [[row[c] for c in self.cols] for row in rows]
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                x = np.array(cells, dtype=np.float32)   # fast path: every cell a finite number
            if np.isfinite(x).all():
                self.blocks.append(x)
                return
        except ValueError:
            pass
        x = np.empty((len(cells), len(self.cols)), dtype=np.float32)
        for i, row in enumerate(cells):
            for j, cell in enumerate(row):
                x[i, j] = self._cell(cell.strip(), starts[i], j)
        self.blocks.append(x)

    def _cell(self, text: str, line: int, j: int) -> float:
        column = self.names[self.cols[j]]
        if text.lower() in MISSING:
            self.holes += 1
            if len(self.first_holes) < _SHOWN + 1:
                self.first_holes.append((line, j))
            return math.nan
        try:
            v = float(text)
        except ValueError:
            if "\n" in text:
                raise DataError("a quoted field runs over several lines into this number "
                                "column (a quote that is not closed?)", self.path, line,
                                column) from None
            raise DataError(f"{text!r} is not a number (a feature column must hold numbers; "
                            f"leave it out with features=[...] or make it the label)",
                            self.path, line, column) from None
        if not math.isfinite(v):
            raise DataError(f"{text!r} is not a finite number", self.path, line, column)
        if abs(v) > _FLOAT32_MAX:
            raise DataError(f"{text!r} is too large for float32 (at most ±3.4e38)", self.path,
                            line, column)
        return v

    def result(self, fill_missing) -> tuple[np.ndarray, int]:
        x = np.concatenate(self.blocks) if self.blocks else \
            np.empty((0, len(self.cols)), np.float32)
        self.blocks = []
        if self.holes and fill_missing is None:
            line, j = self.first_holes[0]
            where = ", ".join(f"line {a} {self.names[self.cols[b]]!r}"
                              for a, b in self.first_holes[:_SHOWN]) + \
                (", …" if self.holes > _SHOWN else "")
            raise DataError(f"missing value ({self.holes} missing in the file: {where}); pass "
                            f"fill_missing=0 (or 'mean') to fill them", self.path, line,
                            self.names[self.cols[j]])
        if self.holes:
            holes = np.isnan(x)
            if fill_missing == "mean":
                for j in np.flatnonzero(holes.any(axis=0)):
                    column = x[:, j][~holes[:, j]]
                    if not column.size:
                        raise DataError("every value is missing, so there is no mean to fill "
                                        "with", self.path, None, self.names[self.cols[j]])
                    x[holes[:, j], j] = column.mean()
            else:
                x[holes] = float(fill_missing)
        return x, self.holes


# ------------------------------------------------------------------------------ labels
class _Labels:
    """Label cells streamed into compact form: float64 values while every label is a number,
    and class codes while there are at most ``MAX_CLASSES`` distinct labels."""

    def __init__(self, path: Path, name: str, label_type: str):
        self.path, self.name, self.label_type = path, name, label_type
        self.values: list[np.ndarray] | None = [] if label_type != "categorical" else None
        self.codes: list[np.ndarray] | None = [] if label_type != "numeric" else None
        self.classes: dict[str, int] = {}
        self.n = 0

    def add(self, cells, starts: list[int], quoted: bool = True) -> None:
        """One block of label cells (a list or an array of str); ``quoted`` when they came
        through the csv module (and may hold line breaks)."""
        cells = np.strings.strip(np.asarray(cells, dtype=str))
        if not cells.size:
            return
        if quoted:
            bad = np.strings.find(cells, "\n") >= 0
            if bad.any():
                raise DataError("a quoted field runs over several lines into the label (a "
                                "quote that is not closed?)", self.path,
                                starts[int(np.argmax(bad))], self.name)
        if self.values is not None:
            try:
                values = cells.astype(np.float64)
            except ValueError:
                values = None
                i = next(k for k, c in enumerate(cells.tolist()) if not _is_number(c))
                self._check_missing(cells[i], starts[i])
                if self.label_type == "numeric":
                    raise DataError(f"{cells[i]!r} is not a number (label_type='numeric')",
                                    self.path, starts[i], self.name) from None
                self.values = None
            if values is not None:
                if np.isnan(values).any():       # "nan" and "NaN" are missing values here
                    raise DataError("missing label", self.path,
                                    starts[int(np.argmax(np.isnan(values)))], self.name)
                self.values.append(values)
        if self.codes is not None:
            self._add_codes(cells, starts)
        if self.values is None and self.codes is None:
            raise DataError(f"the label column has more than {MAX_CLASSES:,} distinct values "
                            f"and they are not all numbers", self.path, None, self.name)
        self.n += len(cells)

    def _check_missing(self, cell: str, line: int) -> None:
        if cell.lower() in MISSING:
            raise DataError("missing label", self.path, line, self.name)

    def _add_codes(self, cells: np.ndarray, starts: list[int]) -> None:
        uniques, inverse = np.unique(cells, return_inverse=True)
        for k, u in enumerate(uniques.tolist()):
            if u.lower() in MISSING:
                self._check_missing(u, starts[int(np.argmax(inverse.reshape(-1) == k))])
        classes = self.classes
        if len(classes) + len(uniques) > MAX_CLASSES and \
                sum(u not in classes for u in uniques.tolist()) + len(classes) > MAX_CLASSES:
            if self.label_type == "categorical":
                raise DataError(f"the label column has more than {MAX_CLASSES:,} classes",
                                self.path, None, self.name)
            self.codes, self.classes = None, {}
            return
        index = np.array([classes.setdefault(u, len(classes)) for u in uniques.tolist()],
                         dtype=np.int64)
        self.codes.append(index[inverse.reshape(-1)])

    def result(self, lines: np.ndarray):
        """(y, class names or None): text → classes 0..k-1, whole numbers → int64, else
        float32."""
        if self.values is not None and self.label_type != "categorical":
            y = np.concatenate(self.values) if self.values else np.empty(0)
            bad = ~np.isfinite(y) | (np.abs(y) > _FLOAT32_MAX)
            if bad.any():
                i = int(np.argmax(bad))
                what = "not a finite number" if not np.isfinite(y[i]) else \
                    "too large for float32 (at most ±3.4e38)"
                raise DataError(f"{float(y[i]):g} is {what}", self.path, int(lines[i]),
                                self.name)
            whole = self.label_type == "auto" and bool(np.all(y == np.round(y))) and \
                bool(np.all(np.abs(y) <= 2 ** 53))
            return (y.astype(np.int64) if whole else y.astype(np.float32)), None
        codes = np.concatenate(self.codes) if self.codes else np.empty(0, np.int64)
        names = list(self.classes)
        # categorical numbers are ordered by value and named as written
        numeric = all(_is_number(c) for c in names)
        order = sorted(range(len(names)), key=(lambda k: float(names[k])) if numeric
                       else (lambda k: names[k]))
        rank = np.empty(len(names), np.int64)
        rank[order] = np.arange(len(names))
        return rank[codes], [names[k] for k in order]


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
    if path.is_dir():
        raise DataError("is a folder, not a CSV/TSV file", path)
    source = _Rows(path, header, delimiter)
    layout = source.layout
    names = layout.names
    li = column_index(names, label, path) if label is not None else None
    if features is None:
        cols = [i for i in range(len(names)) if i != li]
    else:
        cols = [column_index(names, f, path) for f in features]
        if li is not None and li in cols:
            raise DataError(f"column {names[li]!r} is both the label and a feature", path)
    if not cols:
        raise DataError("no feature columns left besides the label", path)
    feats = _Features(path, names, cols)
    labels = _Labels(path, names[li], label_type) if li is not None else None
    lines: list[np.ndarray] = []
    for kind, starts, block in source.blocks():
        if kind == "lines" and _fast_lines(block, starts, feats, labels, li, layout):
            pass
        else:
            rows = block if kind == "rows" else list(csv.reader(block,
                                                                delimiter=layout.delimiter))
            _check_widths(rows, starts, layout, path)
            feats.add_rows(rows, starts)
            if labels is not None:
                labels.add([row[li] for row in rows], starts)
        lines.append(np.asarray(starts, dtype=np.int64))
    line_numbers = np.concatenate(lines) if lines else np.empty(0, np.int64)
    if not len(line_numbers):
        raise DataError("has a header but no data rows", path)
    x, filled = feats.result(fill_missing)
    info = {"feature_names": [names[c] for c in cols], "class_names": None,
            "missing_filled": filled, "label_name": names[li] if li is not None else None,
            "lines": line_numbers, "delimiter": layout.delimiter,
            "header": layout.has_header}
    if labels is None:
        return x, None, info
    y, info["class_names"] = labels.result(line_numbers)
    return x, y, info


def _fast_lines(lines, starts, feats: _Features, labels: _Labels | None, li, layout) -> bool:
    """One quote-free block through NumPy's parser: False (nothing kept) when the block needs
    the careful path."""
    if "\n".join(lines).count(layout.delimiter) != len(lines) * (len(layout.names) - 1):
        return False
    label_cells = None
    if labels is not None:
        try:
            label_cells = np.loadtxt(lines, delimiter=layout.delimiter, dtype=str,
                                     usecols=[li], comments=None, ndmin=1, encoding=None)
        except (ValueError, IndexError):
            return False
        if label_cells.shape[0] != len(lines):
            return False
    if feats.add_lines(lines, starts, layout.delimiter) is None:
        return False
    if labels is not None:
        try:
            labels.add(label_cells, starts, quoted=False)
        except DataError:
            feats.blocks.pop()
            raise
    return True
