"""DataSource: a declarative, JSON-serializable description of where training data comes from.

Stored in project files and used by the GUI and the CLI::

    {"kind": "bundled", "name": "mnist"}                  # real MNIST shipped in resources/
    {"kind": "csv", "path": "iris.csv", "label": "species"}
    {"kind": "npz", "path": "data.npz"}                    # x_train/y_train[/x_test/y_test] or x/y
    {"kind": "idx", "path": "train-images-idx3-ubyte.gz", "labels_path": "...labels...gz"}
    {"kind": "image_folder", "path": "photos/", "target_size": [64, 64], "color_mode": "rgb"}

Options for every kind: ``scale`` (multiply x, e.g. 1/255 — bundled images default to it, so
models take inputs in [0, 1]), ``shape`` (reshape each sample, e.g. [28, 28, 1]), ``one_hot``
(labels as one-hot rows), ``test_fraction`` and ``seed`` (hold out a test split when the source
has none).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.loaders import (DataError, read_csv, read_idx, read_image_folder, read_npz)

KINDS = ("bundled", "csv", "npz", "idx", "image_folder")


def bundled_datasets() -> list[str]:
    """Names of the data sets shipped with LayerLoom (usable offline)."""
    from engine.datasets.bundled import NAMES
    return sorted(NAMES)


@dataclass
class LoadedData:
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    class_names: list[str] | None = None


@dataclass
class Summary:
    count: int
    test_count: int
    sample_shape: tuple
    dtype: str
    value_range: tuple[float, float] | None
    class_names: list[str] | None
    class_counts: list[int] | None
    samples: list = field(default_factory=list)
    sample_labels: list = field(default_factory=list)


@dataclass
class DataSource:
    kind: str
    path: str | None = None
    name: str | None = None
    label: Any = -1
    features: list | None = None
    labels_path: str | None = None
    target_size: list | None = None
    color_mode: str = "rgb"
    scale: float | None = None
    shape: list | None = None
    one_hot: bool = False
    test_fraction: float = 0.0
    seed: int = 0
    fill_missing: float | None = None
    skip_bad_files: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise DataError(f"unknown data source kind {self.kind!r}; kinds: {', '.join(KINDS)}")
        if self.kind == "bundled":
            if self.name not in bundled_datasets():
                raise DataError(f"no bundled data set named {self.name!r}; bundled: "
                                f"{', '.join(bundled_datasets())}")
        elif not self.path:
            raise DataError(f"a {self.kind} data source needs a path")
        if not 0.0 <= float(self.test_fraction) < 1.0:
            raise DataError(f"test_fraction must be in [0, 1), got {self.test_fraction}")

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """Only the options that differ from their defaults (plus the kind)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if getattr(self, f.name) != f.default}
        out["kind"] = self.kind
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataSource:
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            raise DataError("a data source must be an object with a 'kind'")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise DataError(f"data source: unknown option(s) {sorted(unknown)}")
        types = {"path": str, "name": str, "labels_path": str, "color_mode": str,
                 "one_hot": bool, "skip_bad_files": bool, "seed": int,
                 "scale": (int, float), "test_fraction": (int, float),
                 "fill_missing": (int, float), "target_size": list, "shape": list,
                 "features": list}
        for k, v in data.items():
            if k in types and v is not None and not isinstance(v, types[k]):
                raise DataError(f"data source option '{k}' has the wrong type "
                                f"({type(v).__name__})")
        return cls(**data)

    # ---------------------------------------------------------------- loading
    def _raw(self) -> LoadedData:
        if self.kind == "bundled":
            from engine.datasets.bundled import NAMES
            (x, y), (xt, yt) = NAMES[self.name]()
            if self.name == "sentences":
                return LoadedData(x, y.astype(np.int64), xt, yt.astype(np.int64),
                                  ["negative", "positive"])
            scale = 1 / 255 if self.scale is None else self.scale
            return LoadedData(x.astype(np.float32) * np.float32(scale), y.astype(np.int64),
                              xt.astype(np.float32) * np.float32(scale), yt.astype(np.int64),
                              [str(i) for i in range(10)])
        path = Path(self.path)
        if self.kind == "csv":
            x, y, info = read_csv(path, label=self.label, features=self.features,
                                  fill_missing=self.fill_missing)
            return LoadedData(x, y, class_names=info["class_names"])
        if self.kind == "npz":
            arrays = read_npz(path)
            x = arrays.get("x_train", arrays.get("x"))
            if x is None:
                raise DataError(f"has no 'x_train' or 'x' array (arrays: {', '.join(arrays)})",
                                path)
            y = arrays.get("y_train", arrays.get("y"))
            return LoadedData(x, y, arrays.get("x_test"), arrays.get("y_test"))
        if self.kind == "idx":
            x = read_idx(path)
            y = read_idx(self.labels_path) if self.labels_path else None
            if y is not None and len(y) != len(x):
                raise DataError(f"has {len(x)} samples but the labels file has {len(y)}", path)
            return LoadedData(x, y)
        x, y, classes, _ = read_image_folder(path, self.target_size, self.color_mode,
                                             self.skip_bad_files)
        return LoadedData(x, y, class_names=classes)

    def load(self) -> LoadedData:
        """Arrays ready for ``fit``: float32 x (scaled/reshaped as asked), labels as asked."""
        d = self._raw()
        where = self.path or self.name
        x = np.asarray(d.x_train)
        if x.dtype.kind not in "fiub":
            raise DataError(f"x has dtype {x.dtype}, expected numbers", where)
        if len(x) == 0:
            raise DataError("has no samples", where)
        if d.y_train is not None and len(d.y_train) != len(x):
            raise DataError(f"has {len(x)} samples but {len(d.y_train)} labels", where)
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            bad = int(np.argwhere(~np.isfinite(x.reshape(len(x), -1)))[0][0])
            raise DataError(f"sample {bad} contains NaN or infinity", where)
        if d.x_test is None and self.test_fraction:
            r = np.random.default_rng(self.seed)
            order = r.permutation(len(x))
            cut = int(len(x) * (1 - self.test_fraction))
            d.x_test, d.y_test = x[order[cut:]], None if d.y_train is None else \
                d.y_train[order[cut:]]
            x, d.y_train = x[order[:cut]], None if d.y_train is None else d.y_train[order[:cut]]
        d.x_train = self._shape(x, where)
        if d.x_test is not None:
            d.x_test = self._shape(np.asarray(d.x_test), where)
        if self.one_hot:
            from engine.utils import to_categorical
            k = len(d.class_names) if d.class_names else None
            d.y_train = to_categorical(d.y_train, k)
            if d.y_test is not None:
                d.y_test = to_categorical(d.y_test, k or d.y_train.shape[-1])
        return d

    def _shape(self, x: np.ndarray, where) -> np.ndarray:
        if x.dtype.kind in "iu" and self.kind == "bundled":
            return x  # token ids stay integers
        x = x.astype(np.float32, copy=False)
        if self.scale is not None and self.kind != "bundled":
            x = x * np.float32(self.scale)
        if self.shape:
            want = tuple(int(s) for s in self.shape)
            if int(np.prod(want)) != int(np.prod(x.shape[1:])):
                raise DataError(f"samples of shape {x.shape[1:]} cannot be reshaped to {want}",
                                where)
            x = x.reshape((len(x),) + want)
        return x

    def summary(self, n_samples: int = 16) -> Summary:
        d = self.load()
        x, y = d.x_train, d.y_train
        counts = None
        if y is not None:
            labels = y.argmax(-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
            if labels.dtype.kind in "iu" or np.all(labels == np.round(labels)):
                counts = np.bincount(labels.astype(np.int64)).tolist() if labels.min() >= 0 \
                    else None
        pick = np.linspace(0, len(x) - 1, min(n_samples, len(x))).astype(int)
        return Summary(len(x), 0 if d.x_test is None else len(d.x_test), tuple(x.shape[1:]),
                       str(x.dtype), (float(x.min()), float(x.max())), d.class_names, counts,
                       [x[i] for i in pick], [None if y is None else y[i] for i in pick])
