"""Model weights in the Keras legacy HDF5 layout (``save_weights`` / ``load_weights``).

Layout (the same as the ``model_weights`` group of a full Keras .h5 model file)::

    attrs: layer_names, backend, keras_version
    <layer>/            attrs: weight_names = ["<model>/<layer>/kernel", ...]
    <layer>/<model>/<layer>/kernel  ...

Reading also accepts Keras 2 files (``weight_names`` such as ``dense/kernel:0``).
``save_weights``/``load_weights`` here also handle Keras 3's structural layout
(:mod:`engine.io.keras3_weights`): written for ``*.weights.h5`` names, read whenever the file
has it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.io import KERAS_VERSION
from engine.io.atomic import atomic_path
from engine.io.bounded import (
    FLOOR_BYTES,
    Budget,
    budget_for,
    check_dataset,
    hdf5_child,
    read_attribute,
)
from engine.io.errors import ModelFileError


def _h5py():
    import h5py
    return h5py


def write_weights_group(group, model, keras_version: str | None = None) -> None:
    """Write every layer's weights of ``model`` into the h5py ``group``."""
    layers = keras_layer_list(model)
    group.attrs["layer_names"] = np.array([lyr.name.encode() for lyr in layers], dtype="S")
    group.attrs["backend"] = "tensorflow"
    group.attrs["keras_version"] = keras_version or KERAS_VERSION
    for layer in layers:
        g = group.create_group(layer.name)
        names = []
        for w in weight_paths(model, layer):
            path, weight = w
            names.append(path.encode())
            g.create_dataset(path, data=np.asarray(weight.value, dtype=np.float32))
        g.attrs["weight_names"] = np.array(names, dtype="S")
    top = group.create_group("top_level_model_weights")
    top.attrs["weight_names"] = np.array([], dtype="S")


def keras_layer_list(model) -> list:
    """``model.layers`` as real Keras lists them for this model — its legacy .h5 loader pairs
    layers by position: a Functional model's in Keras's graph order (InputLayers included, no
    weights), a Sequential model's in stack order."""
    from engine.models.functional import Plan, keras_layer_order
    from engine.models.sequential import Sequential
    if isinstance(model, Sequential) or not isinstance(getattr(model, "_plan", None), Plan):
        return model.layers        # a subclassed model's CallPlan has no graph to order
    return keras_layer_order(model._plan)


def weight_paths(model, layer) -> list[tuple[str, object]]:
    """Keras 3's dataset paths of ``layer``'s weights inside its layer group."""
    out = []
    for w in layer.weights:
        owner = w.layer  # a wrapped layer (Bidirectional, TimeDistributed) adds its name
        nested = [owner.name] if owner is not layer else []
        inner = getattr(owner, "keras_weight_prefix", "")  # e.g. "lstm_cell" for recurrent layers
        parts = [model.name, layer.name] + nested + ([inner] if inner else []) + [w.name]
        out.append(("/".join(parts), w))
    return out


def _names(obj, attr: str, fail, what: str) -> list[str]:
    """A string-list attribute (``layer_names``, ``weight_names``), checked."""
    raw = read_attribute(obj, attr, fail, what, default=[])
    values = np.asarray(raw)
    if values.ndim > 1 or values.dtype.kind not in "SUO" and values.size:
        raise fail(f"{what}: attribute '{attr}' is not a list of names")
    out = []
    for v in values.reshape(-1):
        if isinstance(v, bytes):
            try:
                v = v.decode()
            except UnicodeDecodeError:
                raise fail(f"{what}: attribute '{attr}' holds a name that is not UTF-8") from None
        if not isinstance(v, str):
            raise fail(f"{what}: attribute '{attr}' holds {type(v).__name__}, expected names")
        out.append(str(v))
    return out


def _datasets(group, fail) -> dict[str, list]:
    """``{layer name: [h5py datasets of its weights]}`` as the group lists them (nothing is
    read yet)."""
    import h5py
    found: dict[str, list] = {}
    for name in _names(group, "layer_names", fail, "weights"):
        g = hdf5_child(group, name, fail, f"layer '{name}'")
        if not isinstance(g, h5py.Group):
            raise fail(f"layer '{name}' is listed but has no group")
        found[name] = []
        for n in _names(g, "weight_names", fail, f"layer '{name}'"):
            ds = hdf5_child(g, n, fail, f"layer '{name}'")
            if not isinstance(ds, h5py.Dataset):
                raise fail(f"layer '{name}' lists weight '{n}', which is missing")
            found[name].append(ds)
    return found


def read_weights_group(group, model, skip_mismatch: bool = False, by_name: bool = False,
                       source: str = "weights file", budget: Budget | None = None) -> None:
    """Load weights from a Keras-layout h5py ``group`` into ``model`` (all or nothing).

    Every layer of ``model`` with weights must find them in the file (unless ``by_name``), so
    nothing keeps the values it was initialized with. Datasets are checked (links, storage,
    dtype, shape × itemsize against ``budget``) before any is read; problems raise
    :class:`ModelFileError` naming ``source`` and the layer."""
    def fail(message: str) -> ModelFileError:
        return ModelFileError(f"{source}: {message}")
    if "layer_names" not in group.attrs:
        raise fail("not a Keras weights file (no 'layer_names' attribute)")
    budget = budget or Budget(FLOOR_BYTES, fail)
    stored = _datasets(group, fail)
    file_layers = [n for n in stored if stored[n]]
    mine = [lyr for lyr in keras_layer_list(model) if lyr.weights]   # as the writer, as Keras
    names_match = {lyr.name for lyr in mine} <= set(file_layers)
    if by_name or names_match:
        pairs = [(lyr, stored.get(lyr.name)) for lyr in mine]
    else:
        if len(file_layers) != len(mine):
            raise fail(f"has weights for {len(file_layers)} layers ({_listed(file_layers)}), "
                       f"the model has {len(mine)} layers with weights "
                       f"({_listed([lyr.name for lyr in mine])})")
        pairs = [(lyr, stored[n]) for lyr, n in zip(mine, file_layers)]
    missing = [lyr.name for lyr, dss in pairs if dss is None]
    if missing and not by_name:
        raise fail(f"no weights for layer{'s' if len(missing) > 1 else ''} {_listed(missing)}")
    pairs = [(lyr, dss) for lyr, dss in pairs if dss is not None]
    for layer, dss in pairs:
        for i, ds in enumerate(dss):
            check_dataset(ds, f"layer '{layer.name}' weight {i}", fail, budget, kinds="biuf")
    plan = []
    for layer, dss in pairs:
        try:
            arrays = [ds[()] for ds in dss]
        except (OSError, ValueError, TypeError) as e:
            raise fail(f"layer '{layer.name}': a weight cannot be read; the file may be damaged "
                       f"({e})") from None
        problem = _mismatch(layer, arrays)
        if problem:
            if skip_mismatch:
                continue
            raise fail(problem)
        plan.append((layer, arrays))
    for layer, arrs in plan:
        layer.set_weights(convert_for_layer(layer, arrs))


def _listed(names: list[str], shown: int = 8) -> str:
    return ", ".join(f"'{n}'" for n in names[:shown]) + (" …" if len(names) > shown else "")


def convert_for_layer(layer, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Layer-specific conversions of stored arrays (hook used by e.g. recurrent layers)."""
    convert = getattr(layer, "convert_loaded_weights", None)
    return convert(arrays) if convert else arrays


def _mismatch(layer, arrays) -> str | None:
    arrays = convert_for_layer(layer, arrays)
    if len(arrays) != len(layer.weights):
        return (f"layer '{layer.name}' has {len(layer.weights)} weights "
                f"({', '.join(w.name for w in layer.weights)}), the file has {len(arrays)}")
    for w, a in zip(layer.weights, arrays):
        if tuple(a.shape) != w.shape:
            return (f"layer '{layer.name}': weight '{w.name}' has shape {w.shape}, "
                    f"the file has {tuple(a.shape)}")
    return None


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """``x.weights.h5``: Keras 3's layout (what Keras 3's ``save_weights`` writes and reads);
    any other name: the legacy layout (Keras 2, and Keras 3's ``load_weights`` of .h5)."""
    from engine.io.keras3_weights import write_keras3_weights, write_optimizer_variables
    h5py = _h5py()
    model._require_built("weights")
    path = Path(os.fspath(filepath))
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            if path.name.lower().endswith(".weights.h5"):
                write_keras3_weights(f, model)
                if getattr(model, "compiled", False):     # as Keras 3 does
                    write_optimizer_variables(f, model)
            else:
                write_weights_group(f, model)


def load_weights(model, filepath, skip_mismatch: bool = False, by_name: bool = False) -> None:
    """Weights from a Keras 3 ``.weights.h5`` (by structure) or a legacy file (by layer name,
    or by position); the file's layout decides, not its name."""
    from engine.io.keras3_weights import (
        is_keras3_layout,
        read_keras3_weights,
        read_optimizer_variables,
    )
    h5py = _h5py()
    model._require_built("weights")
    path = Path(os.fspath(filepath))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file")

    def fail(message: str) -> ModelFileError:
        return ModelFileError(f"{path.name}: {message}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise fail(f"not a readable HDF5 file ({e})") from None
    try:
        with f:
            if is_keras3_layout(f):
                read_keras3_weights(f, model, path.name, skip_mismatch=skip_mismatch)
                if getattr(model, "compiled", False):
                    read_optimizer_variables(f, model, path.name)
                return
            group = hdf5_child(f, "model_weights", fail, "")
            read_weights_group(f if group is None else group, model, skip_mismatch, by_name,
                               source=path.name, budget=Budget(budget_for(path), fail))
    except (OSError, RuntimeError, KeyError) as e:
        raise fail(f"the file is damaged ({e})") from None
