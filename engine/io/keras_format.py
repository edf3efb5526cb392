"""Keras 3's native ``.keras`` files: a zip archive of

    metadata.json      {"keras_version": ..., "date_saved": ...}
    config.json        the model's config (every object with its ``module``), ``build_config``
                       and ``compile_config`` (optimizer, loss, metrics)
    model.weights.h5   the weights in Keras 3's layout (:mod:`engine.io.keras3_weights`)

Written the way Keras writes it (members stored, not compressed), so ``keras.saving.load_model``
opens it. Read from Keras 3's own files too: nothing in the archive is executed or imported —
layer, initializer and optimizer names are looked up in the engine's own tables, and a class we
do not know (a custom layer, a ``Lambda``) is refused with :class:`ModelFileError`, like the .h5
reader. Memory is bounded by what is really decompressed, not by what the archive declares:
``config.json`` may not exceed ``MAX_CONFIG_BYTES``, and the weights no more than the model
built from that config can hold (its weights, an optimizer's slots and HDF5's bookkeeping).
"""
from __future__ import annotations

import json
import lzma
import os
import struct
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

from engine.io import KERAS_VERSION
from engine.io.atomic import atomic_path
from engine.io.bounded import copy_member, read_member
from engine.io.errors import ModelFileError
from engine.io.keras3_weights import (
    read_keras3_weights,
    read_optimizer_variables,
    write_keras3_weights,
    write_optimizer_variables,
)
from engine.io.keras_h5 import (
    compile_from_training_config,
    keras_model_config,
    model_from_keras_config,
    training_config,
)
from engine.saving.safe_mode import UnsafeCodeError

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
MAX_CONFIG_BYTES = 64 << 20
MAX_MEMBERS = 10_000
# the weights member may hold the weights, up to three optimizer slots per weight, and HDF5's
# own bookkeeping
WEIGHTS_FACTOR, WEIGHTS_SLACK = 4, 16 << 20
CHUNK = 1 << 20
# what zipfile, zlib, h5py and json raise for a damaged archive (one error type for users)
DAMAGED = (OSError, RuntimeError, KeyError, ValueError, TypeError, EOFError, NotImplementedError,
           zipfile.BadZipFile, zlib.error, struct.error, lzma.LZMAError, RecursionError)


# ------------------------------------------------------------------------------ write
def _qualified(obj: Any, module: str) -> Any:
    """A nested serialized object (schedule, initializer...) with Keras 3's ``module`` key."""
    if isinstance(obj, dict) and "class_name" in obj and "config" in obj:
        return {"module": obj.get("module", module), "class_name": obj["class_name"],
                "config": obj["config"], "registered_name": obj.get("registered_name")}
    return obj


def compile_config(model) -> dict[str, Any] | None:
    """Keras 3's ``model.get_compile_config()`` for a compiled engine model."""
    tc = training_config(model)
    if tc is None:
        return None
    opt = tc["optimizer_config"]
    opt_cfg = dict(opt["config"])
    opt_cfg["learning_rate"] = _qualified(opt_cfg.get("learning_rate"),
                                          "keras.optimizers.schedules")
    return {"optimizer": {"module": "keras.optimizers", "class_name": opt["class_name"],
                          "config": opt_cfg, "registered_name": None},
            "loss": tc["loss"], "loss_weights": None, "metrics": tc["metrics"],
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": True}


def keras3_model_config(model, include_optimizer: bool = True) -> dict[str, Any]:
    """The ``config.json`` of ``model``: the legacy config plus Keras 3's module keys."""
    from engine.models.sequential import Sequential
    cfg = keras_model_config(model)
    for entry in cfg["config"]["layers"]:
        entry.setdefault("module", "keras.layers")
        entry.setdefault("registered_name", None)
    if isinstance(model, Sequential):
        shape = list(model.inputs[0].shape)
        out = {"module": "keras", "class_name": "Sequential", "config": cfg["config"],
               "registered_name": None, "build_config": {"input_shape": shape}}
    else:
        out = {"module": "keras.src.models.functional", "class_name": "Functional",
               "config": cfg["config"], "registered_name": "Functional",
               "build_config": {"input_shape": None}}
    cc = compile_config(model) if include_optimizer else None
    if cc is not None:
        out["compile_config"] = cc
    return out


def save_keras(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Write ``model`` as a Keras 3 ``.keras`` archive (atomically)."""
    import h5py
    path = Path(os.fspath(filepath))
    config = keras3_model_config(model, include_optimizer)
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S")}
    with tempfile.TemporaryDirectory(prefix="layerloom-keras-") as work:
        weights = Path(work) / WEIGHTS
        with h5py.File(weights, "w") as f:
            write_keras3_weights(f, model)
            if include_optimizer and "compile_config" in config:
                write_optimizer_variables(f, model)
        with atomic_path(path, overwrite=overwrite) as tmp, \
                zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(METADATA, json.dumps(metadata))
            zf.writestr(CONFIG, json.dumps(config))
            zf.write(weights, WEIGHTS)


# ------------------------------------------------------------------------------ read
def _read_member(zf: zipfile.ZipFile, name: str, limit: int, where: str,
                 into=None) -> bytes | None:
    """Decompress member ``name`` with the engine's bounded reader (engine/io/bounded.py: it
    stops as soon as more than ``limit`` real bytes come out, whatever the header declares);
    into a file object ``into`` or returned as bytes."""
    def fail(message: str) -> ModelFileError:
        return ModelFileError(f"{where}: {message}")
    info = zf.getinfo(name)
    if into is None:
        return read_member(zf, info, limit, fail)
    copy_member(zf, info, into, limit, fail)
    return None


def _open_archive(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        zf = zipfile.ZipFile(path)
    except DAMAGED as e:
        raise ModelFileError(f"{path.name}: not a .keras archive (a zip file with "
                             f"{CONFIG}): {e}") from None
    names = zf.namelist()
    if len(names) > MAX_MEMBERS:
        zf.close()
        raise ModelFileError(f"{path.name}: the archive lists {len(names):,} members "
                             f"(at most {MAX_MEMBERS:,} expected)")
    if CONFIG not in names:
        zf.close()
        raise ModelFileError(f"{path.name}: the archive has no {CONFIG}, so it is not a model "
                             f"saved by Keras 3")
    return zf


def read_config(zf: zipfile.ZipFile, where: str) -> dict[str, Any]:
    raw = _read_member(zf, CONFIG, MAX_CONFIG_BYTES, where)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{where}: {CONFIG} is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{where}: {CONFIG} is not a JSON object")
    return data


def keras_archive_config(filepath) -> dict[str, Any]:
    """The model config of a ``.keras`` archive (read boundedly; nothing is built)."""
    path = Path(os.fspath(filepath))
    zf = _open_archive(path)
    try:
        with zf:
            return read_config(zf, path.name)
    except DAMAGED as e:
        raise ModelFileError(f"{path.name}: the file is damaged ({e})") from None


def _weights_limit(model) -> int:
    return WEIGHTS_FACTOR * 4 * sum(w.size for w in model.weights) + WEIGHTS_SLACK


def load_keras(filepath, compile: bool = True):
    """A ``.keras`` archive (Keras 3) as an engine Model, with its weights (and compiled)."""
    path = Path(os.fspath(filepath))
    zf = _open_archive(path)
    where = path.name
    try:
        with zf:
            return _load_open(zf, where, compile)
    except (ModelFileError, UnsafeCodeError):   # code in the file: the caller may ask
        raise
    except DAMAGED as e:
        raise ModelFileError(f"{where}: the file is damaged ({e})") from None


def _load_open(zf: zipfile.ZipFile, where: str, compile: bool):
    import h5py
    data = read_config(zf, where)
    try:
        model = model_from_keras_config(data, where)
    except (ModelFileError, UnsafeCodeError):   # code in the file: the caller may ask
        raise
    except (ValueError, TypeError, KeyError, RecursionError) as e:
        raise ModelFileError(f"{where}: {e}") from None
    names = zf.namelist()
    if WEIGHTS not in names:
        other = next((n for n in names if n.startswith("model.weights")), None)
        raise ModelFileError(f"{where}: the archive has no {WEIGHTS}" +
                             (f" (its weights are in {other}, a format LayerLoom does not read)"
                              if other else ""))
    cc = data.get("compile_config")
    if compile and isinstance(cc, dict):
        compile_from_training_config(model, {"optimizer_config": cc.get("optimizer"),
                                             "loss": cc.get("loss"),
                                             "metrics": cc.get("metrics")}, where)
    with tempfile.TemporaryDirectory(prefix="layerloom-keras-") as work:
        local = Path(work) / WEIGHTS
        with open(local, "wb") as out:
            _read_member(zf, WEIGHTS, _weights_limit(model), where, into=out)
        try:
            f = h5py.File(local, "r")
        except OSError as e:
            raise ModelFileError(f"{where}: {WEIGHTS} is not a readable HDF5 file ({e})") \
                from None
        with f:
            read_keras3_weights(f, model, where)
            if getattr(model, "compiled", False):
                read_optimizer_variables(f, model, where)
    return model


def is_keras_archive(filepath) -> bool:
    """True when ``filepath`` is a zip archive (a .keras file), whatever its name."""
    try:
        return zipfile.is_zipfile(os.fspath(filepath))
    except OSError:
        return False
