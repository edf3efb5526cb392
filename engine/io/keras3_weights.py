"""Model weights in Keras 3's layout: the ``model.weights.h5`` inside a ``.keras`` archive and
the files of ``save_weights("x.weights.h5")``.

Keras 3 addresses weights by the model's structure, not by layer names::

    vars/                          attrs name=<model>   (the model's own variables: none)
    layers/<snake_class>[_k]/vars/0, 1, ...             one group per layer, in ``model.layers``
    layers/lstm/cell/vars/0..2                           order; a recurrent layer's weights sit in
    layers/bidirectional/forward_layer/cell/vars/...     its cell, a wrapper's in its inner layers
    layers/time_distributed/layer/vars/...
    optimizer/vars/0, 1, ...       iterations, learning rate, then the optimizer's slots

``<snake_class>`` is the layer's class name in snake case, numbered ``_1``, ``_2`` ... in the
order of ``model.layers`` among layers of one class. For a Functional model that order is
Keras's: layer calls grouped by their depth from the outputs (deepest first), ties broken by
the order a depth-first walk from the outputs meets them (``keras_layer_order``).

Reading checks every dataset's shape against the model before it reads a byte, so a hostile
file cannot make us allocate more than the model's own weights.
"""
from __future__ import annotations

import re

import numpy as np

from engine.io.errors import ModelFileError


def keras_snake_case(name: str) -> str:
    """Keras 3's ``naming.to_snake_case``: Conv2DTranspose → conv2d_transpose, ReLU → re_lu."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# ------------------------------------------------------------------------------ layer order
def keras_layer_order(model) -> list:
    """The layers of ``model`` in the order Keras 3's ``model.layers`` lists them."""
    from engine.layers.core import InputLayer
    from engine.models.sequential import Sequential
    model._require_built("weights")
    if isinstance(model, Sequential):
        return [lyr for lyr in model.layers if not isinstance(lyr, InputLayer)]
    if not getattr(model, "_functional", True):
        return list(model.layers)     # a subclassed model: its layers in attribute order
    from engine.models.functional import keras_layer_order as functional_order
    return functional_order(model._plan)     # Keras's map_graph order, as legacy .h5 files


def _type_name(layer) -> str:
    """The class name Keras names a layer's group after: a built-in layer's Keras type, a user
    layer's own class."""
    spec = getattr(layer, "spec", None)
    return spec.type_name if spec is not None else type(layer).__name__


def layer_group_names(layers: list) -> list[str]:
    """``dense``, ``dense_1``, ... for the layers in Keras's order."""
    used: dict[str, int] = {}
    names = []
    for layer in layers:
        base = keras_snake_case(_type_name(layer))
        if base in used:
            used[base] += 1
            names.append(f"{base}_{used[base]}")
        else:
            used[base] = 0
            names.append(base)
    return names


def weight_groups(layer) -> list[tuple[str, str, list]]:
    """(path inside the layer's group, owner name, weights) for every object Keras saves
    separately in ``layer``: the layer itself, a recurrent cell, a wrapper's inner layers."""
    parts: dict[str, tuple[str, list]] = {"": (layer.name, [])}
    for w in layer.weights:
        owner = w.layer
        path = ""
        if owner is not layer:
            attr = next((a for a in ("forward_layer", "backward_layer", "layer")
                         if getattr(layer, a, None) is owner), None)
            if attr is None:
                raise ValueError(f"layer '{layer.name}' ({_type_name(layer)}): weight "
                                 f"'{w.name}' belongs to a nested layer that the Keras 3 weights "
                                 f"layout cannot place")
            parts.setdefault(attr, (owner.name, []))
            path = attr
        cell = getattr(owner, "keras_weight_prefix", "")
        if cell:
            parts.setdefault(path, (owner.name, []))
            path = f"{path}/cell" if path else "cell"
            parts.setdefault(path, (cell, []))
        parts.setdefault(path, (owner.name, []))[1].append(w)
    return [(path, name, ws) for path, (name, ws) in parts.items()]


# ------------------------------------------------------------------------------ write
def write_keras3_weights(f, model) -> None:
    """Write ``model``'s weights into the open h5py file ``f`` in Keras 3's layout."""
    model._require_built("weights")
    f.create_group("vars").attrs["name"] = model.name
    layers = keras_layer_order(model)
    for layer, group in zip(layers, layer_group_names(layers)):
        for path, owner, ws in weight_groups(layer):
            g = f.require_group("/".join(p for p in ("layers", group, path, "vars") if p))
            g.attrs["name"] = owner
            for i, w in enumerate(ws):
                g.create_dataset(str(i), data=np.asarray(w.value, dtype=np.float32))


def write_optimizer_variables(f, model) -> None:
    """The optimizer's group: its variables as Keras 3 lists them (step count, learning rate,
    then its slots), so Keras resumes training where the engine left off."""
    from engine.io.keras_optimizer_state import keras_optimizer_arrays
    opt = getattr(model, "optimizer", None)
    if opt is None:
        return
    g = f.create_group("optimizer/vars")
    g.attrs["name"] = getattr(opt, "name", "optimizer")
    for i, a in enumerate(keras_optimizer_arrays(model)):
        g.create_dataset(str(i), data=a)


def read_optimizer_variables(f, model, where: str) -> bool:
    """Restore the optimizer's slots from the file when they fit ``model.optimizer``;
    False when there are none or they do not fit (the optimizer then starts afresh)."""
    import h5py

    from engine.io.keras_optimizer_state import set_optimizer_from_keras
    g = f.get("optimizer/vars")
    if getattr(model, "optimizer", None) is None or not isinstance(g, h5py.Group):
        return False
    budget = 3 * sum(w.size for w in model.weights if w.trainable) + 16   # slots + scalars
    arrays = []
    for i in range(len(g.keys())):
        ds = g.get(str(i))
        if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "fiu" or ds.is_virtual \
                or ds.external or ds.size > budget:
            return False
        arrays.append(ds[()])
        budget -= ds.size
    return set_optimizer_from_keras(model, arrays)


# ------------------------------------------------------------------------------ read
def is_keras3_layout(f) -> bool:
    """True for a Keras 3 weights file (structure-addressed), False for the legacy layout."""
    return "layer_names" not in f.attrs and ("layers" in f or "vars" in f)


def _dataset(group, key: str, weight, where: str) -> np.ndarray:
    """One stored variable, checked against the weight it is for before it is read."""
    import h5py
    ds = group.get(key)
    if not isinstance(ds, h5py.Dataset):
        raise ModelFileError(f"{where}: variable {key} of '{weight.layer.name}' "
                             f"({weight.name}) is missing")
    if tuple(ds.shape) != tuple(weight.shape):
        raise ModelFileError(f"{where}: layer '{weight.layer.name}': weight '{weight.name}' has "
                             f"shape {tuple(weight.shape)}, the file has {tuple(ds.shape)}")
    if ds.dtype.kind not in "fiu" or ds.is_virtual or ds.external:
        raise ModelFileError(f"{where}: layer '{weight.layer.name}': weight '{weight.name}' is "
                             f"not a plain numeric dataset ({ds.dtype})")
    return np.asarray(ds[()], dtype=np.float32)


def read_keras3_weights(f, model, where: str = "weights file", skip_mismatch: bool = False
                        ) -> None:
    """Load weights from the open h5py file ``f`` (Keras 3 layout) into ``model``; all or
    nothing unless ``skip_mismatch`` (then layers that do not fit keep their weights)."""
    import h5py
    model._require_built("weights")
    layers = keras_layer_order(model)
    plan = []
    for layer, group in zip(layers, layer_group_names(layers)):
        if not layer.weights:
            continue
        try:
            values = []
            for path, _owner, ws in weight_groups(layer):
                if not ws:
                    continue
                key = "/".join(p for p in ("layers", group, path, "vars") if p)
                g = f.get(key)
                if not isinstance(g, h5py.Group):
                    raise ModelFileError(f"{where}: no weights for layer '{layer.name}' "
                                         f"(expected group '{key}')")
                if len(g.keys()) != len(ws):
                    raise ModelFileError(
                        f"{where}: layer '{layer.name}' ({_type_name(layer)}) has "
                        f"{len(ws)} weights ({', '.join(w.name for w in ws)}), the file has "
                        f"{len(g.keys())} in '{key}'")
                values += [(w, _dataset(g, str(i), w, where)) for i, w in enumerate(ws)]
        except ModelFileError:
            if skip_mismatch:
                continue
            raise
        plan.append(values)
    for values in plan:
        for w, a in values:
            w.assign(a)
