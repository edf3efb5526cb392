"""The ``load_data()`` of an exported script: the project's data source, read the way LayerLoom
reads it, in code that needs only Keras and NumPy.

* Files the user chose are read from the same paths: ``.npz`` / ``.npy`` arrays, HDF5
  datasets, IDX files, image folders (``keras.utils.load_img``, the same decoding and
  resizing), and data sets Keras downloads (``keras.datasets``). Then the source's settings are
  applied as LayerLoom applies them: the test and validation fractions drawn with its seed, the
  scale, the sample shape and one-hot labels.
* Data that ships with LayerLoom (the bundled sets) and sources LayerLoom parses itself (CSV
  tables, text folders with their vocabulary) are written beside the script as an ``.npz`` of
  the arrays the project trains on, so the script runs offline and sees the same numbers.

Every value from the project reaches the script as a literal (:mod:`engine.io.pysource`):
paths, keys, sizes, fractions. The helper functions below are fixed template text.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from engine.io.atomic import atomic_path
from engine.io.pysource import ScriptValueError, call, known_name, literal

BESIDE = ("bundled", "csv", "text_folder")       # written beside the script as arrays
BY_PATH = ("keras_dataset", "npz", "hdf5", "idx", "image_folder")

PREPARE = '''
def prepare(x, y, x_test, y_test):
    """LayerLoom's data settings: test and validation fractions (drawn with the source's seed;
    the validation part is LayerLoom's, so it is left out here too), scale, shape, one-hot."""
    test_fraction = 0.0 if x_test is not None else TEST_FRACTION
    if test_fraction or VALIDATION_FRACTION:
        order = np.random.default_rng(SEED).permutation(len(x))
        cut = int(len(x) * (1.0 - test_fraction))
        rest, test = order[:cut], order[cut:]
        train = rest[:int(len(rest) * (1.0 - VALIDATION_FRACTION))]
        if x_test is None:
            x_test, y_test = x[test], None if y is None else y[test]
        x, y = x[train], None if y is None else y[train]
    if x_test is None:
        x_test, y_test = x[:0], None if y is None else y[:0]
    classes = NUM_CLASSES or (int(y.max()) + 1 if ONE_HOT else None)
    x, x_test = transform(x), transform(x_test)
    if ONE_HOT:
        y = keras.utils.to_categorical(y, classes)
        y_test = keras.utils.to_categorical(y_test, classes)
    return (x, y), (x_test, y_test)


def transform(x):
    x = np.asarray(x, dtype="float32")
    if SCALE is not None:
        x = x * np.float32(SCALE)
    if SAMPLE_SHAPE is not None:
        x = x.reshape((len(x),) + SAMPLE_SHAPE)
    return x
'''

READ_IDX = '''
def read_idx(path):
    """An IDX file (MNIST's format), plain or gzip-compressed."""
    import gzip
    raw = pathlib.Path(path).read_bytes()
    if raw[:2] == b"\\x1f\\x8b":
        raw = gzip.decompress(raw)
    types = {8: "u1", 9: "i1", 11: ">i2", 12: ">i4", 13: ">f4", 14: ">f8"}
    dims = np.frombuffer(raw, ">u4", raw[3], 4)
    return np.frombuffer(raw, types[raw[2]], int(np.prod(dims)), 4 + 4 * raw[3]).reshape(dims)
'''

READ_IMAGES = '''
def read_image_folder(root):
    """The images of one subfolder per class (nested folders too), in LayerLoom's order."""
    classes = sorted(d.name for d in pathlib.Path(root).iterdir()
                     if d.is_dir() and not d.name.startswith("."))
    x, y = [], []
    for k, name in enumerate(classes):
        found = []
        for folder, dirs, files in os.walk(pathlib.Path(root) / name):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found += [pathlib.Path(folder) / f for f in sorted(files)
                      if f.lower().endswith(IMAGE_SUFFIXES) and not f.startswith(".")]
        for path in sorted(found):
            image = keras.utils.load_img(path, color_mode=COLOR_MODE, target_size=TARGET_SIZE,
                                         interpolation=INTERPOLATION)
            x.append(keras.utils.img_to_array(image, dtype="float32"))
            y.append(k)
    return np.stack(x), np.array(y, dtype="int64")
'''


def data_file_name(script: Path) -> str:
    return f"{script.stem}_data.npz"


def writes_data_file(source: Any) -> bool:
    """True when the script's data is written beside it (see :data:`BESIDE`)."""
    return isinstance(source, dict) and source.get("kind") in BESIDE


def write_data_file(source: dict, path: Path) -> Path:
    """The arrays the project trains on, as an .npz beside the script (atomically)."""
    from engine.data import DataSource
    data = DataSource.from_dict(source).load()
    arrays = {"x_train": data.x_train, "y_train": data.y_train}
    if data.x_test is not None:
        arrays.update(x_test=data.x_test, y_test=data.y_test)
    for key, a in arrays.items():
        if a is None or np.asarray(a).dtype.kind not in "biuf":
            raise ScriptValueError(f"the data source's {key} is not numeric (text without "
                                   f"maxlen?); a script cannot be given it as arrays")
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def _settings(source: dict) -> list[str]:
    """The module-level constants ``prepare`` reads, as literals."""
    from engine.data import DataSource
    from engine.data.source_spec import NAMED
    spec = DataSource.from_dict(source)
    scale = spec.scale
    if scale is None and spec.kind in NAMED:
        scale = 1.0 / 255.0                     # LayerLoom's default for named image sets
    shape = tuple(int(s) for s in spec.shape) if spec.shape else None
    return [f"TEST_FRACTION = {literal(float(spec.test_fraction), 'test_fraction')}",
            f"VALIDATION_FRACTION = {literal(float(spec.validation_fraction), 'fraction')}",
            f"SEED = {literal(int(spec.seed), 'seed')}",
            f"SCALE = {literal(None if scale is None else float(scale), 'scale')}",
            f"SAMPLE_SHAPE = {literal(shape, 'shape')}",
            f"ONE_HOT = {literal(bool(spec.one_hot), 'one_hot')}",
            f"NUM_CLASSES = {literal(spec.num_classes, 'num_classes')}"]


def _path(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ScriptValueError(f"data source: {what} is not a path: {value!r}")
    return call("pathlib.Path", literal(os.path.expanduser(value), what))


def _npz_lines(spec) -> list[str]:
    from engine.data.loaders import read_npz
    path = Path(spec.path).expanduser()
    if path.suffix.lower() == ".npy":
        x = f"np.load({_path(spec.path, 'data path')}, allow_pickle=False)"
        y = (f"np.load({_path(spec.labels_path, 'labels path')}, allow_pickle=False)"
             if spec.labels_path else "None")
        return [f"    x, y, x_test, y_test = {x}, {y}, None, None"]
    keys = list(read_npz(path))          # the same keys LayerLoom picks, named as literals
    xk, yk, xtk, ytk = spec._pick_keys(keys, path)
    lines = [f"    d = np.load({_path(spec.path, 'data path')}, allow_pickle=False)",
             f"    x = d[{literal(xk, 'key')}]"]
    if spec.labels_path:
        lines.append(f"    y = np.load({_path(spec.labels_path, 'labels path')}, "
                     f"allow_pickle=False)")
    else:
        lines.append(f"    y = d[{literal(yk, 'key')}]" if yk in keys else "    y = None")
    if xtk:
        lines.append(f"    x_test, y_test = d[{literal(xtk, 'key')}], "
                     + (f"d[{literal(ytk, 'key')}]" if ytk else "None"))
    else:
        lines.append("    x_test, y_test = None, None")
    return lines


def _hdf5_lines(spec) -> list[str]:
    from engine.data.loaders import hdf5_datasets
    path = Path(spec.path).expanduser()
    xk, yk, xtk, ytk = spec._pick_keys(list(hdf5_datasets(path)), path)

    def read(key):
        return "None" if key is None else f"f[{literal(key, 'dataset')}][()]"
    return ["    import h5py",
            f"    with h5py.File({_path(spec.path, 'data path')}, 'r') as f:",
            f"        x, y, x_test, y_test = {read(xk)}, {read(yk)}, {read(xtk)}, {read(ytk)}"]


def by_path_lines(source: dict) -> tuple[list[str], list[str]]:
    """(module-level lines: helpers and constants, ``load_data`` lines) for a source read
    from its files."""
    from engine.data import DataSource
    from engine.datasets.catalog import DATASETS
    spec = DataSource.from_dict(source)
    helpers = _settings(source) + [PREPARE]
    if spec.kind == "keras_dataset":
        name = known_name(spec.name, DATASETS, "data set")
        body = [f"    (x, y), (x_test, y_test) = keras.datasets.{name}.load_data()",
                "    y, y_test = y.reshape(-1), y_test.reshape(-1)"]
    elif spec.kind == "npz":
        body = _npz_lines(spec)
    elif spec.kind == "hdf5":
        body = _hdf5_lines(spec)
    elif spec.kind == "idx":
        helpers.append(READ_IDX)
        y = (call("read_idx", _path(spec.labels_path, "labels path"))
             if spec.labels_path else "None")
        body = [f"    x, y = {call('read_idx', _path(spec.path, 'data path'))}, {y}",
                "    x_test, y_test = None, None"]
    else:                                                    # image_folder
        from engine.data.images import IMAGE_SUFFIXES
        size = tuple(int(s) for s in spec.target_size) if spec.target_size else None
        helpers += [f"IMAGE_SUFFIXES = {literal(tuple(IMAGE_SUFFIXES), 'suffixes')}",
                    f"COLOR_MODE = {literal(spec.color_mode, 'color_mode')}",
                    f"TARGET_SIZE = {literal(size, 'target_size')}",
                    f"INTERPOLATION = {literal(spec.interpolation, 'interpolation')}",
                    READ_IMAGES]
        body = [f"    x, y = {call('read_image_folder', _path(spec.path, 'image folder'))}",
                "    x_test, y_test = None, None"]
    return helpers, ["def load_data():", *body, "    return prepare(x, y, x_test, y_test)"]


def beside_lines(file_name: str) -> list[str]:
    """``load_data`` for the arrays written beside the script."""
    return ["def load_data():",
            f"    d = np.load(HERE / {literal(file_name, 'data file')}, allow_pickle=False)",
            "    x_test = d['x_test'] if 'x_test' in d.files else d['x_train'][:0]",
            "    y_test = d['y_test'] if 'y_test' in d.files else d['y_train'][:0]",
            "    return (d['x_train'], d['y_train']), (x_test, y_test)"]
