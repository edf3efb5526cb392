"""The options of a :class:`engine.data.source.DataSource` and their checks.

A project file may have been edited by hand, so every option is checked for its JSON type
(``check_types``) and its value (``check_spec``); each error names the option, what was
expected and what was found.
"""
from __future__ import annotations

import math
from typing import Any

from engine.data.errors import DataError
from engine.data.images import COLOR_MODES, INTERPOLATIONS
from engine.data.tables import LABEL_TYPES

KINDS = ("bundled", "keras_dataset", "csv", "npz", "idx", "hdf5", "image_folder", "text_folder")
NAMED = ("bundled", "keras_dataset")        # chosen by name; the others need a path
NEEDS_PATH = tuple(k for k in KINDS if k not in NAMED)
_NUMBER = (int, float)

# option -> (JSON types allowed besides null, what the error says is expected)
OPTION_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "kind": ((str,), "a string"),
    "path": ((str,), "a file or folder path"),
    "name": ((str,), "a bundled or downloadable data set name"),
    "label": ((str, int), "a column name or index"),
    "features": ((list,), "a list of column names or indices"),
    "labels_path": ((str,), "a file path"),
    "x_key": ((str,), "an array or dataset name"),
    "y_key": ((str,), "an array or dataset name"),
    "header": ((str, bool), "'auto', true or false"),
    "delimiter": ((str,), "'auto' or one character"),
    "label_type": ((str,), f"one of {', '.join(LABEL_TYPES)}"),
    "target_size": ((list,), "[height, width]"),
    "color_mode": ((str,), f"one of {', '.join(COLOR_MODES)}"),
    "interpolation": ((str,), f"one of {', '.join(INTERPOLATIONS)}"),
    "scale": (_NUMBER, "a number such as 0.00392 (1/255)"),
    "shape": ((list,), "a list of positive whole numbers"),
    "one_hot": ((bool,), "true or false"),
    "num_classes": ((int,), "a whole number"),
    "test_fraction": (_NUMBER, "a number in [0, 1)"),
    "validation_fraction": (_NUMBER, "a number in [0, 1)"),
    "seed": ((int,), "a whole number"),
    "fill_missing": ((int, float, str), "a number or 'mean'"),
    "skip_bad_files": ((bool,), "true or false"),
    "streaming": ((bool,), "true or false"),
    "maxlen": ((int,), "a positive whole number (tokens per text)"),
    "num_words": ((int,), "a positive whole number (vocabulary size)"),
}
NOT_NULL = {"kind", "header", "delimiter", "label_type", "color_mode", "interpolation",
            "one_hot", "test_fraction", "validation_fraction", "seed", "skip_bad_files",
            "streaming"}


def _fits(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):          # JSON true/false is not a number
        return bool in types
    return isinstance(value, types)


def check_types(data: dict[str, Any]) -> None:
    """Each option of a data source dict has its JSON type."""
    for key, value in data.items():
        types, expected = OPTION_TYPES[key]
        if value is None and key not in NOT_NULL:
            continue
        if not _fits(value, types):
            raise DataError(f"data source option '{key}' must be {expected}, got "
                            f"{type(value).__name__} {value!r}")


def _positive_ints(value, option: str, length: int | None = None) -> None:
    ok = isinstance(value, list) and all(_fits(v, (int,)) and v >= 1 for v in value) and \
        (len(value) == length if length else len(value) >= 1)
    if not ok:
        want = f"{length} positive whole numbers" if length else "positive whole numbers"
        raise DataError(f"data source option '{option}' must be {want}, got {value!r}")


def check_spec(src, bundled: list[str]) -> None:
    """The option values of a DataSource make sense together."""
    if src.kind not in KINDS:
        raise DataError(f"unknown data source kind {src.kind!r}; kinds: {', '.join(KINDS)}")
    if src.kind == "bundled":
        if src.name not in bundled:
            raise DataError(f"no bundled data set named {src.name!r}; bundled: "
                            f"{', '.join(bundled)}")
    elif src.kind == "keras_dataset":
        from engine.datasets.catalog import DATASETS
        if src.name not in DATASETS:
            raise DataError(f"no downloadable data set named {src.name!r}; data sets: "
                            f"{', '.join(DATASETS)}")
    elif not src.path:
        raise DataError(f"a {src.kind} data source needs a path")
    for option in ("test_fraction", "validation_fraction"):
        value = getattr(src, option)
        if not _fits(value, _NUMBER) or not 0.0 <= float(value) < 1.0:
            raise DataError(f"{option} must be in [0, 1), got {value!r}")
    if src.test_fraction + src.validation_fraction >= 1.0:
        raise DataError(f"test_fraction + validation_fraction must be below 1, got "
                        f"{src.test_fraction} + {src.validation_fraction}")
    if src.color_mode not in COLOR_MODES:
        raise DataError(f"color_mode must be one of {', '.join(COLOR_MODES)}, got "
                        f"{src.color_mode!r}")
    if src.interpolation not in INTERPOLATIONS:
        raise DataError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got "
                        f"{src.interpolation!r}")
    if src.label_type not in LABEL_TYPES:
        raise DataError(f"label_type must be one of {', '.join(LABEL_TYPES)}, got "
                        f"{src.label_type!r}")
    if src.header not in ("auto", True, False):
        raise DataError(f"header must be 'auto', true or false, got {src.header!r}")
    if src.target_size is not None:
        _positive_ints(src.target_size, "target_size", 2)
    if src.shape is not None:
        _positive_ints(src.shape, "shape")
    if src.scale is not None and (not _fits(src.scale, _NUMBER) or not math.isfinite(src.scale)
                                  or src.scale == 0):
        raise DataError(f"scale must be a finite, non-zero number, got {src.scale!r}")
    if src.num_classes is not None and (not _fits(src.num_classes, (int,)) or
                                        src.num_classes < 1):
        raise DataError(f"num_classes must be a positive whole number, got {src.num_classes!r}")
    if src.fill_missing is not None and src.fill_missing != "mean" and \
            not (_fits(src.fill_missing, _NUMBER) and math.isfinite(src.fill_missing)):
        raise DataError(f"fill_missing must be a number or 'mean', got {src.fill_missing!r}")
    if src.label is not None and not _fits(src.label, (str, int)):
        raise DataError(f"label must be a column name or index, got {src.label!r}")
    if src.features is not None and not all(_fits(f, (str, int)) for f in src.features):
        raise DataError(f"features must be column names or indices, got {src.features!r}")
    for option in ("maxlen", "num_words"):
        value = getattr(src, option)
        if value is not None and (not _fits(value, (int,)) or value < 1):
            raise DataError(f"{option} must be a positive whole number, got {value!r}")
    if not _fits(src.seed, (int,)):
        raise DataError(f"seed must be a whole number, got {src.seed!r}")
