"""DataSource: a declarative, JSON-serializable description of where training data comes from.

Stored in project files (``to_dict()``) and used by the GUI and the CLI::

    {"kind": "bundled", "name": "mnist"}                  # real MNIST shipped in resources/
    {"kind": "bundled", "name": "sentences"}              # 3,000 real review sentences
    {"kind": "keras_dataset", "name": "cifar10"}          # Keras's published files, downloaded
    {"kind": "keras_dataset", "name": "fashion_mnist", "path": "~/.keras/datasets/fashion-mnist"}
    {"kind": "csv", "path": "iris.csv", "label": "species"}
    {"kind": "npz", "path": "data.npz"}                    # x_train/y_train[/x_test/y_test] or x/y
    {"kind": "npz", "path": "x.npy", "labels_path": "y.npy"}
    {"kind": "idx", "path": "train-images-idx3-ubyte.gz", "labels_path": "...labels...gz"}
    {"kind": "hdf5", "path": "data.h5", "x_key": "/images", "y_key": "/labels"}
    {"kind": "image_folder", "path": "photos/", "target_size": [64, 64], "color_mode": "rgb"}
    {"kind": "text_folder", "path": "reviews/", "maxlen": 100}   # class subfolders of .txt files

Options for every kind: ``scale`` (multiply x, e.g. 1/255 so the model — and the model you
export — takes inputs in [0, 1]; bundled and downloaded images default to it), ``shape`` (reshape each sample,
e.g. [28, 28, 1]), ``one_hot`` (labels as one-hot rows; otherwise integer class ids),
``num_classes`` (labels must lie in 0..num_classes-1), ``test_fraction`` (held out when the
source has no test split) and ``validation_fraction``, both drawn with ``seed``. Texts stay
strings unless ``maxlen`` is given: then they become int32 token ids (``num_words`` most
frequent words of the training texts; the bundled sentences come as token ids already).
A ``keras_dataset`` (``mnist``, ``fashion_mnist``, ``cifar10``; see
:mod:`engine.datasets.catalog`) is downloaded once into the data set cache (sha256-checked), or
read from the user's copy of Keras's files when ``path`` is given.
``streaming`` marks an image folder to be trained from ``stream()`` batches (decoded one batch
at a time) rather than ``load()`` arrays; ``load()`` refuses a folder that would not fit in
memory and says so.
:mod:`engine.data.source_spec` lists and checks every option.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from engine.data import images as img_io
from engine.data.errors import DataError
from engine.data.loaders import hdf5_datasets, read_hdf5, read_idx, read_npz, read_text_folder
from engine.data.source_spec import KINDS, NAMED, check_spec, check_types
from engine.data.streaming import ArraySequence, ImageFolderSequence, StreamedData
from engine.data.summary import Summary, class_balance, pick, summarize
from engine.data.tables import read_csv
from engine.utils import to_categorical


def bundled_datasets() -> list[str]:
    """Names of the data sets shipped with LayerLoom (usable offline)."""
    from engine.datasets.bundled import NAMES
    return sorted(NAMES)


@dataclass
class LoadedData:
    """Arrays ready for ``fit``. ``x_*`` are float32 arrays, or object arrays of ``str`` for
    text sources; ``y_*`` integer class ids, one-hot rows or regression targets."""
    x_train: Any
    y_train: np.ndarray | None
    x_test: Any = None
    y_test: np.ndarray | None = None
    class_names: list[str] | None = None
    x_val: Any = None
    y_val: np.ndarray | None = None
    info: dict = field(default_factory=dict)


@dataclass
class _Raw:
    """What a file holds before splitting and scaling; ``where`` names it in errors."""
    x: Any
    y: np.ndarray | None
    where: Any
    x_test: Any = None
    y_test: np.ndarray | None = None
    class_names: list[str] | None = None
    x_name: str = "x"
    lines: np.ndarray | None = None         # CSV: the line of each sample in the file
    label_name: str | None = None
    images: bool = False
    tokens: bool = False                    # token ids: they stay integers
    info: dict = field(default_factory=dict)


@dataclass
class DataSource:
    kind: str
    path: str | None = None
    name: str | None = None
    label: Any = -1
    features: list | None = None
    labels_path: str | None = None
    x_key: str | None = None
    y_key: str | None = None
    header: Any = "auto"
    delimiter: str = "auto"
    label_type: str = "auto"
    target_size: list | None = None
    color_mode: str = "rgb"
    interpolation: str = "nearest"
    scale: float | None = None
    shape: list | None = None
    one_hot: bool = False
    num_classes: int | None = None
    test_fraction: float = 0.0
    validation_fraction: float = 0.0
    seed: int = 0
    fill_missing: Any = None
    skip_bad_files: bool = False
    streaming: bool = False
    maxlen: int | None = None
    num_words: int | None = 10000

    def __post_init__(self):
        for name in ("target_size", "shape", "features"):
            value = getattr(self, name)
            if isinstance(value, tuple):
                setattr(self, name, list(value))
        check_spec(self, bundled_datasets())

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """The kind plus every option that differs from its default (JSON-ready)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if getattr(self, f.name) != f.default}
        out["kind"] = self.kind
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataSource:
        """A source from its ``to_dict()``; unknown options and wrong types are errors."""
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            raise DataError("a data source must be an object with a 'kind' "
                            f"({', '.join(KINDS)})")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise DataError(f"data source: unknown option(s) {sorted(unknown)}; options: "
                            f"{', '.join(sorted(known))}")
        check_types(data)
        return cls(**data)

    # ---------------------------------------------------------------- reading files
    def _path(self, value: str | None = None) -> Path:
        return Path(value if value is not None else self.path).expanduser()

    def _pick_keys(self, available, path) -> tuple[str, str | None, str | None, str | None]:
        """(x key, y key, x_test key, y_test key) of an npz/HDF5 file."""
        def find(*names):
            return next((n for n in names if n in available), None)
        if self.x_key is not None:
            if self.x_key not in available:
                listed = ", ".join(available) or "none"
                raise DataError(f"has no array {self.x_key!r}; it has: {listed}", path)
            return self.x_key, self.y_key, None, None
        x = find("x_train", "/x_train", "x", "/x")
        if x is None:
            raise DataError(f"has no 'x_train' or 'x' array (it has: {', '.join(available)}); "
                            f"choose one with x_key", path)
        y = self.y_key or find(*(("y_train", "/y_train") if "train" in x else ("y", "/y")))
        test = find("x_test", "/x_test") if "train" in x else None
        return x, y, test, find("y_test", "/y_test") if test else None

    def _raw(self) -> _Raw:
        kind = self.kind
        if kind == "bundled":
            from engine.datasets.bundled import load
            d = load(self.name)
            info = {"vocabulary": d["vocabulary"]} if "vocabulary" in d else {}
            return _Raw(d["x"], d["y"], self.name, d["x_test"], d["y_test"], d["class_names"],
                        images=d["images"], tokens=not d["images"], info=info)
        if kind == "keras_dataset":
            from engine.datasets import catalog
            where = self._path() if self.path else catalog.info(self.name).title
            (x, y), (xt, yt) = catalog.load(self.name, self.path)
            return _Raw(x, y.reshape(-1), where, xt, yt.reshape(-1),
                        list(catalog.info(self.name).class_names), images=True)
        path = self._path()
        if kind == "csv":
            x, y, info = read_csv(path, label=self.label, features=self.features,
                                  header=self.header, delimiter=self.delimiter,
                                  fill_missing=self.fill_missing, label_type=self.label_type)
            return _Raw(x, y, path, class_names=info["class_names"], lines=info["lines"],
                        label_name=info["label_name"], info=info)
        if kind == "npz":
            arrays = read_npz(path)
            if self.labels_path:
                arrays["y"] = read_npz(self._path(self.labels_path))["x"]
            xk, yk, xtk, ytk = self._pick_keys(list(arrays), path)
            if yk is not None and yk not in arrays:
                raise DataError(f"has no array {yk!r} for the labels; it has: "
                                f"{', '.join(arrays)}", path)
            return _Raw(arrays[xk], arrays.get(yk), path, arrays.get(xtk), arrays.get(ytk),
                        x_name=xk)
        if kind == "hdf5":
            xk, yk, xtk, ytk = self._pick_keys(list(hdf5_datasets(path)), path)
            got = read_hdf5(path, [k for k in (xk, yk, xtk, ytk) if k])
            return _Raw(got[xk], got.get(yk), path, got.get(xtk), got.get(ytk), x_name=xk)
        if kind == "idx":
            y = read_idx(self._path(self.labels_path)) if self.labels_path else None
            return _Raw(read_idx(path), y, path)
        if kind == "text_folder":
            texts, y, classes, skipped = read_text_folder(path, skip_bad=self.skip_bad_files)
            return _Raw(np.array(texts, dtype=object), y, path, class_names=classes,
                        info={"skipped": skipped})
        files, classes = img_io.list_image_folder(path)
        x, y, classes, skipped = img_io.read_image_folder(
            path, self.target_size, self.color_mode, self.skip_bad_files, self.interpolation,
            files=files, classes=classes)
        return _Raw(x, y, path, class_names=classes, images=True, info={"skipped": skipped})

    # ---------------------------------------------------------------- checks
    def _scale(self, raw_images: bool) -> float | None:
        if self.scale is not None:
            return float(self.scale)
        return 1.0 / 255.0 if self.kind in NAMED and raw_images else None

    def _check_x(self, raw: _Raw, x, what: str) -> None:
        if not isinstance(x, np.ndarray) or x.dtype.kind not in "biufO":
            kind = getattr(x, "dtype", type(x).__name__)
            raise DataError(f"{what} holds {kind} values, expected numbers", raw.where)
        if x.ndim == 0:
            raise DataError(f"{what} is a single value, not an array of samples", raw.where)
        if x.dtype.kind == "O":
            return
        if len(x) == 0:
            raise DataError(f"{what} has no samples", raw.where)
        if x.dtype.kind == "f":
            bad = ~np.isfinite(x.reshape(len(x), -1))
            if bad.any():
                i, j = (int(v) for v in np.argwhere(bad)[0])
                pos = np.unravel_index(j, x.shape[1:]) if x.ndim > 1 else ()
                at = f" at {tuple(int(p) for p in pos)}" if pos else ""
                line = int(raw.lines[i]) if raw.lines is not None else None
                value = x.reshape(len(x), -1)[i, j]
                name = "NaN" if np.isnan(value) else "infinity"
                raise DataError(f"{what}: sample {i} contains {name}{at}; fill or drop it "
                                f"first (a network cannot learn from it)", raw.where, line)

    def _check_labels(self, raw: _Raw, y, n: int, what: str, k: int | None) -> None:
        if y is None:
            return
        y = np.asarray(y)
        if len(y) != n:
            raise DataError(f"{what} has {n} samples but {len(y)} labels", raw.where)
        if y.dtype.kind not in "biuf":
            raise DataError(f"{what} labels hold {y.dtype} values, expected numbers", raw.where)
        flat = y.reshape(len(y), -1)
        if y.dtype.kind == "f" and not np.isfinite(flat).all():
            i = int(np.argwhere(~np.isfinite(flat))[0][0])
            raise DataError(f"{what}: the label of sample {i} is {flat[i, 0]}", raw.where,
                            self._line(raw, i), raw.label_name)
        if flat.shape[1] != 1 or not (k or self.one_hot):
            return
        labels = flat[:, 0]
        whole = labels == np.round(labels)
        bad = np.flatnonzero(~whole | (labels < 0) | ((labels >= k) if k else False))
        if bad.size:
            i = int(bad[0])
            allowed = f"0..{k - 1} ({k} classes)" if k else "0, 1, 2, …"
            raise DataError(f"{what}: sample {i} has label {labels[i]:g}, outside the class "
                            f"range {allowed}", raw.where, self._line(raw, i), raw.label_name)

    @staticmethod
    def _line(raw: _Raw, i: int) -> int | None:
        return int(raw.lines[i]) if raw.lines is not None else None

    def _class_count(self, raw: _Raw) -> int | None:
        if self.num_classes is not None:
            return int(self.num_classes)
        return len(raw.class_names) if raw.class_names else None

    # ---------------------------------------------------------------- splits and transforms
    def _split(self, n: int, has_test: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(train, validation, test) sample indices, drawn with ``seed``."""
        test_fraction = 0.0 if has_test else float(self.test_fraction)
        if not test_fraction and not self.validation_fraction:
            return np.arange(n), np.zeros(0, int), np.zeros(0, int)
        order = np.random.default_rng(self.seed).permutation(n)
        cut = int(n * (1.0 - test_fraction))
        rest, test = order[:cut], order[cut:]
        cut = int(len(rest) * (1.0 - float(self.validation_fraction)))
        train, val = rest[:cut], rest[cut:]
        if len(train) == 0:
            raise DataError(f"{n} samples leave no training samples after the test and "
                            f"validation splits", self.path or self.name)
        return train, val, test

    def _transform_x(self, x, scale: float | None, tokens: bool = False):
        """float32 x, scaled and reshaped as the source asks (text and token ids pass)."""
        if tokens or (isinstance(x, np.ndarray) and x.dtype.kind == "O"):
            if scale is not None or self.shape:
                raise DataError(f"scale and shape apply to numbers; this source holds "
                                f"{'token ids' if tokens else 'text'}", self.path or self.name)
            return x
        x = x.astype(np.float32, copy=False)
        if scale is not None:
            x = x * np.float32(scale)
        if self.shape:
            want = tuple(int(s) for s in self.shape)
            if int(np.prod(want)) != int(np.prod(x.shape[1:])):
                raise DataError(f"samples of shape {x.shape[1:]} cannot be reshaped to {want}",
                                self.path or self.name)
            x = x.reshape((len(x),) + want)
        return x

    def _encode(self, y, k: int | None):
        if y is None or not self.one_hot or (y.ndim == 2 and y.shape[1] > 1):
            return y
        return to_categorical(y, k)

    # ---------------------------------------------------------------- public
    def load(self) -> LoadedData:
        """Arrays ready for ``fit``: float32 x (scaled/reshaped as asked), labels as asked,
        the splits drawn. Every problem is a :class:`DataError` naming where it is."""
        raw = self._raw()
        k = self._class_count(raw)
        self._check_x(raw, raw.x, raw.x_name)
        self._check_labels(raw, raw.y, len(raw.x), raw.x_name, k)
        if raw.x_test is not None:
            self._check_x(raw, raw.x_test, "x_test")
            self._check_labels(raw, raw.y_test, len(raw.x_test), "x_test", k)
        train, val, test = self._split(len(raw.x), raw.x_test is not None)
        if self.maxlen and raw.x.dtype.kind == "O":
            self._tokenize(raw, train)
        scale = self._scale(raw.images)

        def fx(x):
            return self._transform_x(x, scale, raw.tokens)
        whole = len(train) == len(raw.x)          # no split: no copy of the samples
        x_train, y_train = self._part(raw.x, raw.y, None if whole else train, fx)
        x_val, y_val = self._part(raw.x, raw.y, val, fx)
        x_test, y_test = self._part(raw.x, raw.y, test, fx)
        if raw.x_test is not None:
            x_test, y_test = self._part(raw.x_test, raw.y_test, None, fx)
        if self.one_hot and k is None and y_train is not None:
            k = int(np.max(y_train)) + 1
            self._check_labels(raw, y_test, 0 if y_test is None else len(y_test), "x_test", k)
        return LoadedData(x_train, self._encode(y_train, k), x_test, self._encode(y_test, k),
                          raw.class_names, x_val, self._encode(y_val, k), raw.info)

    @staticmethod
    def _part(x, y, idx, fx):
        """(fx(x), y) of the samples ``idx`` (all when ``None``); ``(None, None)`` if empty."""
        if idx is None:
            return fx(x), None if y is None else np.asarray(y)
        if not len(idx):
            return None, None
        return fx(x[idx]), None if y is None else np.asarray(y)[idx]

    def _tokenize(self, raw: _Raw, train: np.ndarray) -> None:
        """Texts → int32 token ids (0 padding, 1 unknown), the vocabulary learnt from the
        training texts only; ``info["vocabulary"]`` keeps it for predictions later."""
        from engine.preprocessing.text import TextVectorization
        vec = TextVectorization(max_tokens=self.num_words, output_sequence_length=self.maxlen)
        vec.adapt([str(t) for t in raw.x[train]])
        raw.x = np.asarray(vec([str(t) for t in raw.x]), dtype=np.int32)
        if raw.x_test is not None:
            raw.x_test = np.asarray(vec([str(t) for t in raw.x_test]), dtype=np.int32)
        raw.tokens = True
        raw.info["vocabulary"] = vec.get_vocabulary()

    def stream(self, batch_size: int = 32, shuffle: bool = True) -> StreamedData:
        """The source as (x, y) batch sequences for ``model.fit``. An image folder is decoded
        batch by batch (memory: one batch), other kinds are loaded and batched."""
        if self.kind != "image_folder":
            d = self.load()
            seqs = [None if x is None else ArraySequence(x, y, batch_size, s, self.seed)
                    for x, y, s in ((d.x_train, d.y_train, shuffle), (d.x_val, d.y_val, False),
                                    (d.x_test, d.y_test, False))]
            return StreamedData(*seqs, d.class_names, len(d.x_train))
        files, classes = img_io.list_image_folder(self._path())
        train, val, test = self._split(len(files), False)
        k = len(classes)
        if self.num_classes is not None and int(self.num_classes) < k:
            raise DataError(f"has {k} class folders but num_classes={self.num_classes}",
                            self.path)
        scale = self._scale(True)

        def seq(idx, shuffle_it):
            if not len(idx):
                return None
            return ImageFolderSequence(
                [files[i] for i in idx], self.num_classes or k, batch_size, self.target_size,
                self.color_mode, self.interpolation, lambda x: self._transform_x(x, scale),
                self.one_hot, shuffle_it, self.seed, self.skip_bad_files)
        return StreamedData(seq(train, shuffle), seq(val, False), seq(test, False), classes,
                            len(train))

    def summary(self, n_samples: int = 16) -> Summary:
        """Counts, shape, class balance, value range and a few samples, for display. An
        image folder is summarized from its file list and a few decoded images."""
        if self.kind == "image_folder":
            return self._image_folder_summary(n_samples)
        d = self.load()
        s = summarize(d.x_train, d.y_train, d.class_names,
                      0 if d.x_test is None else len(d.x_test),
                      0 if d.x_val is None else len(d.x_val), n_samples)
        if d.info.get("missing_filled"):
            s.notes.append(f"{d.info['missing_filled']:,} missing values filled with "
                           f"{self.fill_missing!r}")
        if d.info.get("skipped"):
            s.notes.append(f"{len(d.info['skipped']):,} unreadable files skipped")
        return s

    def _image_folder_summary(self, n_samples: int) -> Summary:
        files, classes = img_io.list_image_folder(self._path())
        train, val, test = self._split(len(files), False)
        labels = np.array([files[i][1] for i in train], dtype=np.int64)
        shown = [files[train[i]] for i in pick(len(train), n_samples)]
        decoded, shown_labels, skipped = [], [], 0
        for path, k in shown:
            try:
                decoded.append(img_io.load_image(path, self.target_size, self.color_mode,
                                                 self.interpolation))
                shown_labels.append(k)
            except DataError:
                if not self.skip_bad_files:
                    raise
                skipped += 1
        if not decoded:
            raise DataError("none of the sampled images can be read", self.path)
        if any(d.shape != decoded[0].shape for d in decoded):
            bad = next(p for (p, _), d in zip(shown, decoded) if d.shape != decoded[0].shape)
            raise DataError("has a different size from the first image; give a target_size "
                            "to resize every image", bad)
        x = self._transform_x(np.stack(decoded), self._scale(True))
        y = np.array(shown_labels, dtype=np.int64)
        y_shown = to_categorical(y, len(classes)) if self.one_hot else y
        _, counts = class_balance(labels, classes)
        notes = [f"value range measured on {len(decoded)} sampled images"]
        if skipped:
            notes.append(f"{skipped} of the sampled files are unreadable and will be skipped")
        return Summary(len(train), len(test), tuple(x.shape[1:]), str(x.dtype),
                       (float(x.min()), float(x.max())), classes, counts, list(x),
                       list(y_shown), len(val), "classes", notes)
