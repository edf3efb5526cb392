"""Model weights in the Keras legacy HDF5 layout (``save_weights`` / ``load_weights``).

Layout (the same as the ``model_weights`` group of a full Keras .h5 model file)::

    attrs: layer_names, backend, keras_version
    <layer>/            attrs: weight_names = ["<model>/<layer>/kernel", ...]
    <layer>/<model>/<layer>/kernel  ...

Reading also accepts Keras 2 files (``weight_names`` such as ``dense/kernel:0``).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.io import KERAS_VERSION
from engine.io.atomic import atomic_path


def _h5py():
    import h5py
    return h5py


def write_weights_group(group, model, keras_version: str | None = None) -> None:
    """Write every layer's weights of ``model`` into the h5py ``group``."""
    layers = model.layers  # Keras lists InputLayers of Functional models too (no weights)
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


def _decode(names) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def read_weights_group(group, model, skip_mismatch: bool = False, by_name: bool = False,
                       source: str = "weights file") -> None:
    """Load weights from a Keras-layout h5py ``group`` into ``model`` (all or nothing)."""
    if "layer_names" not in group.attrs:
        raise ValueError(f"{source}: not a Keras weights file (no 'layer_names' attribute)")
    file_layers = _decode(group.attrs["layer_names"])
    arrays: dict[str, list[np.ndarray]] = {}
    for name in file_layers:
        if name not in group:
            raise ValueError(f"{source}: layer '{name}' is listed but has no group")
        g = group[name]
        names = _decode(g.attrs.get("weight_names", []))
        try:
            arrays[name] = [np.asarray(g[n]) for n in names]
        except KeyError as e:
            raise ValueError(f"{source}: layer '{name}' lists a weight that is missing ({e})") \
                from None
    file_layers = [n for n in file_layers if arrays[n]]
    mine = [lyr for lyr in model.layers if lyr.weights]
    names_match = {lyr.name for lyr in mine} <= set(file_layers)
    if by_name or names_match:
        pairs = [(lyr, arrays.get(lyr.name)) for lyr in mine]
    else:
        if len(file_layers) != len(mine):
            raise ValueError(f"{source}: has weights for {len(file_layers)} layers "
                             f"({', '.join(file_layers)}), the model has {len(mine)} layers with "
                             f"weights ({', '.join(lyr.name for lyr in mine)})")
        pairs = [(lyr, arrays[n]) for lyr, n in zip(mine, file_layers)]
    plan = []
    for layer, arrs in pairs:
        if arrs is None:
            if by_name:
                continue
            raise ValueError(f"{source}: no weights for layer '{layer.name}'")
        problem = _mismatch(layer, arrs)
        if problem:
            if skip_mismatch:
                continue
            raise ValueError(f"{source}: {problem}")
        plan.append((layer, arrs))
    for layer, arrs in plan:
        layer.set_weights(convert_for_layer(layer, arrs))


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
    h5py = _h5py()
    model._require_built("weights")
    path = Path(os.fspath(filepath))
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            write_weights_group(f, model)


def load_weights(model, filepath, skip_mismatch: bool = False, by_name: bool = False) -> None:
    h5py = _h5py()
    model._require_built("weights")
    path = Path(os.fspath(filepath))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path}: not a readable HDF5 file ({e})") from None
    with f:
        group = f["model_weights"] if "model_weights" in f else f
        read_weights_group(group, model, skip_mismatch, by_name, source=str(path))
