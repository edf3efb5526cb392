"""Keras legacy HDF5 model files (``model.save("m.h5")`` / ``keras.models.load_model``).

Root attributes: ``model_config`` (JSON as Keras 3 writes it), ``keras_version``, ``backend``,
``training_config`` (optimizer, loss, metrics, so Keras can recompile); group ``model_weights``
in the layout of :mod:`engine.io.weights`. Reading also takes Keras 2 / tf.keras files
(``batch_input_shape``, ``[[name, 0, 0, {}]]`` inbound nodes, ``kernel:0`` weight names).

Conversion between our layer configs and Keras's is generic — the registry's parameter names
are Keras's — plus the few renames in ``KERAS2_RENAMES``.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from engine.io import KERAS_VERSION
from engine.io.atomic import atomic_path
from engine.io.bounded import Budget, budget_for, hdf5_child, parse_json, read_attribute
from engine.io.errors import ModelFileError
from engine.io.weights import read_weights_group, write_weights_group
from engine.models import Sequential, model_from_config
from engine.models.functional import keras_layer_order
from engine.saving.safe_mode import UnsafeCodeError

DTYPE_POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                "registered_name": None}
MODULES = {"initializer": "keras.initializers", "regularizer": "keras.regularizers",
           "constraint": "keras.constraints"}
# Keras 2 argument names that Keras 3 (and we) renamed
KERAS2_RENAMES = {"LeakyReLU": {"alpha": "negative_slope"}}
# Keras config keys with no effect here when they hold their default
IGNORED_WHEN_DEFAULT = {"activity_regularizer": None, "quantization_config": None,
                        "lora_rank": None, "lora_alpha": None, "ragged": False, "optional": False,
                        "synchronized": False, "renorm": False, "renorm_clipping": None,
                        "renorm_momentum": 0.99, "rms_scaling": False, "unroll": False,
                        "stateful": False, "time_major": False, "zero_output_for_mask": False,
                        "implementation": 2, "input_length": None, "seed": None,
                        "embeddings_constraint": None, "sparse": False, "jit_compile": None}


# ------------------------------------------------------------------------------ export
def _keras_value(param, value):
    if isinstance(value, dict) and "class_name" in value and param is not None and \
            param.kind in MODULES:
        return {"module": MODULES[param.kind], "class_name": value["class_name"],
                "config": value.get("config", {}), "registered_name": None}
    return value


def keras_layer_config(layer) -> dict[str, Any]:
    """Keras 3's {"class_name", "config"} for one of our layers (a custom layer: its
    ``get_config()`` with its module and ``registered_name``, as Keras 3 writes it)."""
    if "spec" not in type(layer).__dict__:
        # Keras's legacy HDF5 names a custom class by its registered name ("package>Name")
        from engine.saving import get_registered_name, serialize_keras_object
        return {**serialize_keras_object(layer), "class_name": get_registered_name(type(layer))}
    cfg = layer.get_config()
    spec = layer.spec
    if spec.type_name == "CustomLayer":       # the canvas's code: its registered class
        return {**layer.keras_config(dict(DTYPE_POLICY)), "class_name": layer.registered_name}
    if spec.type_name == "InputLayer":
        return {"class_name": "InputLayer",
                "config": {"batch_shape": list(layer.batch_shape), "dtype": layer.dtype,
                           "sparse": False, "ragged": False, "name": layer.name}}
    out = {"name": layer.name, "trainable": layer.trainable, "dtype": dict(DTYPE_POLICY)}
    params = {p.name: p for p in spec.params}
    for key, value in cfg.items():
        if key in ("name", "trainable", "dtype", "batch_input_shape"):
            continue
        param = params.get(key)
        if param is not None and param.kind == "layer" and value is not None:
            # a wrapped layer (Bidirectional, TimeDistributed): Keras 3 wants it fully qualified
            out[key] = {"module": "keras.layers", **keras_layer_config(getattr(layer, key)),
                        "registered_name": None}
            continue
        out[key] = _keras_value(param, value)
    return {"class_name": spec.type_name, "config": out}


def keras_model_config(model) -> dict[str, Any]:
    if not model._functional:
        raise ValueError(f"Model '{model.name}' is a subclassed model (its call() is Python "
                         f"code): an .h5 file holds Functional and Sequential models only. "
                         f"Save its weights with model.save_weights(...) and rebuild the model "
                         f"in code, or write it with the Functional API")
    model._require_built("config")
    plan = model._plan
    if isinstance(model, Sequential):
        layers = [keras_layer_config(plan.input_layers[0])]
        layers += [_nested_or_layer(layer) for layer in model.layers]
        return {"class_name": "Sequential",
                "config": {"name": model.name, "trainable": True, "dtype": dict(DTYPE_POLICY),
                           "layers": layers}}
    from engine.models.functional_config import layer_calls, tensor_refs
    refs = tensor_refs(plan)

    def tensor(t):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(t.shape), "dtype": t.dtype,
                           "keras_history": list(refs[id(t)])}}
    entries = {layer.name: {**keras_layer_config(layer), "name": layer.name, "inbound_nodes": []}
               for layer in plan.input_layers}
    for layer, nodes in layer_calls(plan):
        inbound = [_keras_node(layer, node, tensor) for node in nodes]
        entries[layer.name] = {**_nested_or_layer(layer), "name": layer.name,
                               "inbound_nodes": inbound}
    return {"class_name": "Functional",
            "config": {"name": model.name, "trainable": True,
                       "input_layers": [list(refs[id(lyr._nodes[0].outputs[0])])
                                        for lyr in plan.input_layers],
                       "output_layers": [list(refs[id(t)]) for t in plan.outputs],
                       # Keras's own order of model.layers, which its loader relies on
                       "layers": [entries[lyr.name] for lyr in keras_layer_order(plan)]}}


def _nested_or_layer(layer) -> dict[str, Any]:
    """A layer's Keras 3 config; a model used as a layer: its whole model config."""
    from engine.models import Model
    if isinstance(layer, Model) and layer._functional:
        return {"module": "keras", **keras_model_config(layer), "registered_name": None}
    return keras_layer_config(layer)


def _keras_node(layer, node, tensor) -> dict[str, Any]:
    """One call in Keras 3's inbound-node form: {"args": [...], "kwargs": {...}}."""
    from engine.layers.calling import fill
    ts = [tensor(t) for t in node.inputs]
    if node.template is not None:
        args, kwargs = fill(node.template, ts)
        return {"args": list(args), "kwargs": kwargs}
    if getattr(layer, "call_tensor_kwargs", ()) and len(ts) > 1:   # RNN initial_state
        return {"args": [ts[0]], "kwargs": {layer.call_tensor_kwargs[0]: ts[1:]}}
    return {"args": [ts] if len(ts) > 1 else ts, "kwargs": {}}


def training_config(model) -> dict[str, Any] | None:
    if not getattr(model, "compiled", False) or model.optimizer is None:
        return None
    from engine import losses

    def name(lo):  # Keras's canonical function names ("mse" → "mean_squared_error")
        if lo is None:                       # an output compiled without a loss
            return None
        return {"huber_loss": "huber"}.get(losses.get(lo).name, losses.get(lo).name)
    loss = model._loss_arg
    if isinstance(loss, dict):
        loss = {k: name(v) for k, v in loss.items()}
    elif isinstance(loss, (list, tuple)):
        loss = [name(v) for v in loss]
    else:
        loss = name(loss)
    metrics = _metric_names(model._metrics_arg)
    if metrics is not None and not isinstance(metrics, (list, dict)):
        metrics = [metrics]
    opt = model.optimizer
    return {"loss": loss, "metrics": metrics, "weighted_metrics": None, "loss_weights": None,
            "optimizer_config": {"class_name": type(opt).__name__, "config": opt.get_config()}}


def _metric_names(metrics):
    """Metric objects → their names, keeping the nesting (one list per output, or a dict)."""
    if metrics is None or isinstance(metrics, str):
        return metrics
    if isinstance(metrics, dict):
        return {k: _metric_names(v) for k, v in metrics.items()}
    if isinstance(metrics, (list, tuple)):
        return [_metric_names(m) for m in metrics]
    return getattr(metrics, "name", str(metrics))


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    import h5py

    path = Path(os.fspath(filepath))
    config = keras_model_config(model)
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["model_config"] = json.dumps(config)
            f.attrs["keras_version"] = KERAS_VERSION
            f.attrs["backend"] = "tensorflow"
            tc = training_config(model) if include_optimizer else None
            if tc is not None:
                f.attrs["training_config"] = json.dumps(tc)
            write_weights_group(f.create_group("model_weights"), model)


# ------------------------------------------------------------------------------ import
# tensor references in a config: node and tensor indexes are small whole numbers
MAX_INDEX = 1 << 16


def _plain(value):
    """Keras 3 serialized objects → our {"class_name", "config"} form."""
    if isinstance(value, dict) and "class_name" in value:
        config = value.get("config")
        # an object's config is a dict; a function's is its (registered) name
        config = config if isinstance(config, dict) or (
            isinstance(config, str) and value["class_name"] == "function") else {}
        if value["class_name"] == "DTypePolicy":
            name = config.get("name", "float32")
            return name if isinstance(name, str) else "float32"
        return {"class_name": value["class_name"], "config": config}
    return value


def our_layer_config(class_name: str, config: dict[str, Any], where: str) -> dict[str, Any]:
    """Keras (2 or 3) layer config → ours; unsupported layers and arguments are named."""
    from engine.registry import get_spec
    if not isinstance(config, dict):
        raise ModelFileError(f"{where}: a layer's 'config' must be an object, found "
                             f"{_kind(config)}")
    if not isinstance(class_name, str):
        raise ModelFileError(f"{where}: layer '{config.get('name', '?')}' has no class_name")
    try:
        spec = get_spec(class_name)
    except KeyError:
        raise ModelFileError(f"{where}: layer '{config.get('name', '?')}' has type "
                             f"{class_name!r}, which is neither a LayerLoom layer nor a custom "
                             f"layer this program knows; if it is your own class, decorate it "
                             f"with @keras.saving.register_keras_serializable() or pass "
                             f"custom_objects={{{class_name!r}: ...}} to load_model") from None
    renames = KERAS2_RENAMES.get(spec.type_name, {})
    known = {p.name for p in spec.params} | {"name", "trainable", "dtype", "batch_input_shape",
                                             "batch_shape", "input_shape", "input_dim"} | \
        set(getattr(spec.cls, "extra_config", ()))   # config-only arguments (not in the form)
    out: dict[str, Any] = {}
    for key, value in config.items():
        key = renames.get(key, key)
        value = _plain(value)
        if key == "dtype":
            value = value if isinstance(value, str) else "float32"
        if key in known:
            out[key] = value
        elif key in IGNORED_WHEN_DEFAULT and value == IGNORED_WHEN_DEFAULT[key]:
            continue
        elif value is not None:
            warnings.warn(f"{where}: layer '{config.get('name')}' ({class_name}): argument "
                          f"'{key}'={_short(value)} is not supported and was ignored",
                          RuntimeWarning, stacklevel=3)
    if spec.type_name == "InputLayer":
        shape = out.pop("batch_shape", None) or out.pop("batch_input_shape", None)
        if shape is not None:
            out["batch_shape"] = shape
    return {"class_name": spec.type_name, "config": out}


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _index(value, what: str, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_INDEX:
        raise ModelFileError(f"{where}: {what} is {_short(value)}, expected a whole number "
                             f"from 0 to {MAX_INDEX - 1}")
    return value


def _reference(ref, what: str, where: str) -> list:
    """A checked ``[layer name, node index, tensor index]``."""
    if not isinstance(ref, list) or len(ref) < 3 or not isinstance(ref[0], str):
        raise ModelFileError(f"{where}: {what} is {_short(ref)}, expected [layer name, node "
                             f"index, tensor index]")
    return [ref[0], _index(ref[1], f"{what}'s node index", where),
            _index(ref[2], f"{what}'s tensor index", where)]


def _inbound(entry: dict, where: str) -> list:
    """Keras 3 ({"args": ..., "kwargs": ...}) or Keras 2 ([[name, node, index, kwargs]])
    inbound nodes → ours, one per call of the layer (a shared layer has several)."""
    name = entry.get("name")
    nodes = entry.get("inbound_nodes") or []
    if not isinstance(nodes, list):
        raise ModelFileError(f"{where}: layer '{name}': 'inbound_nodes' must be a list")
    what = f"layer '{name}': an input"
    out = []
    for node in nodes:
        if isinstance(node, dict):
            refs: list = []
            _tensor_histories(node.get("args", []), refs, what, where)
            _tensor_histories(_without_mask(node.get("kwargs", {})), refs, what, where)
            if not refs:
                raise ModelFileError(f"{where}: layer '{name}' is called on no tensor "
                                     f"(its 'args' hold {_short(node.get('args'))})")
            out.append(refs)
        elif isinstance(node, list) and node:
            out.append([_reference(r, what, where) + [{}] for r in node])
        else:
            raise ModelFileError(f"{where}: layer '{name}': an inbound node is {_short(node)}, "
                                 f"expected {{'args': [...], 'kwargs': {{...}}}} or a list of "
                                 f"[layer name, node, tensor, kwargs]")
    return out


def _without_mask(kwargs) -> Any:
    """A call's kwargs without ``mask``: Keras 3 passes a layer its mask as a kwarg computed by
    op layers (NotEqual, Any ...); our models compute masks themselves."""
    return {k: v for k, v in kwargs.items() if k != "mask"} if isinstance(kwargs, dict) \
        else kwargs


def _needed_entries(layers: list, cfg: dict, where: str) -> list:
    """The layer entries the outputs depend on (through call arguments other than ``mask``),
    and the inputs — what remains when Keras's mask-computing op layers are left out."""
    by_name = {e.get("name"): e for e in layers}
    wanted = [r[0] for key in ("output_layers", "input_layers")
              for r in _tensor_refs(cfg.get(key), key, set(by_name), where)]
    keep: set = set()
    while wanted:
        name = wanted.pop()
        if name in keep or name not in by_name:
            continue
        keep.add(name)
        nodes = by_name[name].get("inbound_nodes") or []
        for node in nodes if isinstance(nodes, list) else []:   # _inbound names a bad form
            what = f"layer '{name}': an input"
            if isinstance(node, dict):
                refs: list = []
                _tensor_histories(node.get("args", []), refs, what, where)
                _tensor_histories(_without_mask(node.get("kwargs", {})), refs, what, where)
                wanted += [r[0] for r in refs]
            elif isinstance(node, list):
                wanted += [r[0] for r in node if isinstance(r, list) and r]
    return [e for e in layers if e.get("name") in keep]


def _tensor_histories(obj, refs: list, what: str, where: str, depth: int = 0) -> None:
    """The checked [layer, node, index, {}] of every __keras_tensor__ in ``obj``, in order."""
    if depth > 64:
        raise ModelFileError(f"{where}: {what}: the call arguments are nested too deeply")
    if isinstance(obj, dict) and obj.get("class_name") == "__keras_tensor__":
        config = obj.get("config")
        history = config.get("keras_history") if isinstance(config, dict) else None
        refs.append(_reference(history, what, where) + [{}])
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _tensor_histories(o, refs, what, where, depth + 1)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensor_histories(o, refs, what, where, depth + 1)


def _layer_entries(cfg: dict, where: str) -> list[dict]:
    layers = cfg.get("layers")
    if not isinstance(layers, list):
        raise ModelFileError(f"{where}: model_config has no layer list")
    for i, e in enumerate(layers):
        if not isinstance(e, dict):
            raise ModelFileError(f"{where}: layer {i} of model_config is {_kind(e)}, expected "
                                 f"an object with 'class_name' and 'config'")
        if e.get("config") is not None and not isinstance(e.get("config"), dict):
            raise ModelFileError(f"{where}: layer {i} ({e.get('class_name')!r}): its 'config' "
                                 f"is {_kind(e.get('config'))}, expected an object")
        if e.get("name") is not None and not isinstance(e.get("name"), str):
            raise ModelFileError(f"{where}: layer {i}: its 'name' is {_kind(e.get('name'))}")
    return layers


def model_from_keras_config(data: dict[str, Any], where: str = "model"):
    """An engine model from Keras's model config (a .h5 ``model_config``, a .keras
    ``config.json``; Keras 2 or 3 form); every part is checked first, problems are
    :class:`ModelFileError`."""
    return model_from_config(our_model_config(data, where), safe_mode=None)  # (the loader's)


def our_model_config(data: dict[str, Any], where: str = "model") -> dict[str, Any]:
    """Keras's model config (Keras 2 or 3 form) in ours, checked; nested models converted too."""
    if not isinstance(data, dict):
        raise ModelFileError(f"{where}: model_config is {_kind(data)}, expected an object with "
                             f"'class_name' and 'config'")
    kind = data.get("class_name")
    cfg = data.get("config")
    if not isinstance(cfg, dict):
        raise ModelFileError(f"{where}: model_config has no 'config' object")
    layers = _layer_entries(cfg, where)
    name = cfg.get("name") if isinstance(cfg.get("name"), str) else None
    if kind == "Sequential":
        ours = [_layer_entry(e, where) for e in layers]
        return {"class_name": "Sequential", "config": {"name": name, "layers": ours}}
    if kind not in ("Functional", "Model"):
        raise ModelFileError(f"{where}: model class {_short(kind)} is not supported (Sequential "
                             f"or Functional models only)")
    ours = []
    for e in _needed_entries(layers, cfg, where):
        conv = _layer_entry(e, where)
        conv["name"] = e.get("name", conv["config"].get("name"))
        conv["inbound_nodes"] = _inbound(e, where)
        ours.append(conv)
    names = {c["name"] for c in ours}
    return {"class_name": "Functional", "config": {
        "name": name, "layers": ours,
        "input_layers": _tensor_refs(cfg.get("input_layers"), "input_layers", names, where),
        "output_layers": _tensor_refs(cfg.get("output_layers"), "output_layers", names,
                                      where)}}


def _layer_entry(entry: dict, where: str) -> dict[str, Any]:
    """One layer of a model config in our form: a built-in type converted by
    :func:`our_layer_config`; a custom class the program registered or passed in
    (``custom_objects``) kept as Keras wrote it, for its own ``from_config``."""
    from engine.registry import ALIASES, LAYERS
    from engine.saving.object_registration import find_custom_object
    class_name, cfg = entry.get("class_name"), entry.get("config") or {}
    if class_name in ("Functional", "Sequential", "Model") and isinstance(cfg, dict) and \
            isinstance(cfg.get("layers"), list):      # a model used as a layer
        return our_model_config(entry, where)
    registered = entry.get("registered_name")
    custom = find_custom_object(class_name, registered)
    if custom is None and isinstance(entry.get("layerloom_source"), str):
        return dict(entry)                    # a canvas CustomLayer (deserialize_layer)
    if custom is None and ALIASES.get(class_name, class_name) not in LAYERS:
        custom = find_custom_object(class_name, registered, loose=True)
    if custom is None:
        return our_layer_config(class_name, cfg, where)
    # Keras's base arguments at their no-op defaults go (a Dense subclass would pass
    # quantization_config=None on to our Dense, which does not take it)
    cfg = {k: _plain(v) if k == "dtype" else v for k, v in cfg.items()
           if not (k in IGNORED_WHEN_DEFAULT and v == IGNORED_WHEN_DEFAULT[k])}
    return {"class_name": class_name, "registered_name": registered, "config": cfg,
            "build_config": entry.get("build_config")}


def _tensor_refs(refs, key: str, names: set, where: str) -> list:
    """Keras 3 writes one input or output as a bare ``[name, node, index]`` and several as a
    list of them; ours is always the list."""
    if isinstance(refs, list) and len(refs) == 3 and isinstance(refs[0], str):
        refs = [refs]
    if not isinstance(refs, list) or not refs:
        raise ModelFileError(f"{where}: the model config's '{key}' is not a list of "
                             f"[layer name, node, tensor] references: {_short(refs)}")
    out = [_reference(r, f"'{key}' entry {i}", where) for i, r in enumerate(refs)]
    for r in out:
        if r[0] not in names:
            raise ModelFileError(f"{where}: the model config's '{key}' names layer "
                                 f"{_short(r[0])}, which the model does not have")
    return out


def _open(filepath):
    import h5py
    path = Path(os.fspath(filepath))
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        return path, h5py.File(path, "r")
    except OSError as e:
        raise ModelFileError(f"{path.name}: not a readable HDF5 file ({e})") from None


def _json_attribute(f, name: str, path: Path, fail):
    if name not in f.attrs:
        return None
    raw = read_attribute(f, name, fail, "")
    if isinstance(raw, np.ndarray) and raw.shape == ():
        raw = raw[()]
    if not isinstance(raw, (bytes, str)):
        raise fail(f"attribute '{name}' holds {type(raw).__name__}, expected JSON text")
    data = parse_json(raw, name, fail)
    if data is None:
        raise fail(f"attribute '{name}' is null")
    return data


def code_in_file(filepath) -> dict[str, str]:
    """{layer name: code} of the layers in a .h5 or .keras model that hold code (nothing is
    run; the file is read as boundedly as for loading)."""
    from engine.io.keras_format import is_keras_archive, keras_archive_config
    from engine.saving.layer_source import code_in_model_config
    if is_keras_archive(filepath):
        return code_in_model_config(keras_archive_config(filepath))
    path, f = _open(filepath)

    def fail(message: str) -> ModelFileError:
        return ModelFileError(f"{path.name}: {message}")
    with f:
        data = _json_attribute(f, "model_config", path, fail)
    return code_in_model_config(data) if data is not None else {}


def load_model(filepath, compile: bool = True):
    """A Keras 2 or 3 legacy .h5 model as an engine Model, with weights (and compiled).

    Every problem with the file is a :class:`ModelFileError` of one line; memory is bounded
    by the file's size (:mod:`engine.io.bounded`) before anything is read."""
    path, f = _open(filepath)
    try:
        with f:
            return _load_open(path, f, compile)
    except (ModelFileError, UnsafeCodeError):
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError,
            OverflowError, RecursionError, MemoryError) as e:
        # h5py reports damaged files lazily, from whichever read first hits the damage; a
        # config that passed the checks can still describe a model that cannot be built
        text = " ".join(str(e).split())[:300] or type(e).__name__
        if type(e) is ValueError:         # the engine's own messages name layer and argument
            raise ModelFileError(f"{path.name}: {text}") from None
        raise ModelFileError(f"{path.name}: the file is damaged or describes a model that "
                             f"cannot be built ({type(e).__name__}: {text})") from None


def _load_open(path, f, compile: bool):
    from engine.layers.base import shape_only_build

    def fail(message: str) -> ModelFileError:
        return ModelFileError(f"{path.name}: {message}")
    data = _json_attribute(f, "model_config", path, fail)
    if data is None:
        raise fail("no model_config attribute (a weights-only file? load it with "
                   "model.load_weights)")
    # built without initializing: every weight comes from the file (or loading fails)
    with shape_only_build():
        model = model_from_keras_config(data, path.name)
    group = hdf5_child(f, "model_weights", fail, "")
    if group is not None:
        read_weights_group(group, model, source=path.name,
                           budget=Budget(budget_for(path), fail))
    elif any(layer.weights for layer in model.layers):
        names = [layer.name for layer in model.layers if layer.weights]
        raise fail(f"has no 'model_weights' group, so the weights of {', '.join(names[:5])}"
                   f"{' …' if len(names) > 5 else ''} are missing (an architecture-only file?)")
    if compile:
        try:
            tc = _json_attribute(f, "training_config", path, fail)
        except ModelFileError as e:
            warnings.warn(f"{e}; the model is loaded uncompiled", RuntimeWarning, stacklevel=3)
            tc = None
        if tc is not None:
            _compile_from(model, tc, path)
    return model


def _compile_from(model, tc, path) -> None:
    compile_from_training_config(model, tc, path.name)


def _metrics_from_file(metrics):
    """Saved metrics (names or serialized objects, nested per output) → names."""
    if isinstance(metrics, list):
        return [_metrics_from_file(m) for m in metrics if m is not None]
    if isinstance(metrics, dict):
        if "class_name" in metrics:
            return (metrics.get("config") or {}).get("name")
        return {k: _metrics_from_file(v) for k, v in metrics.items()}
    return metrics


def compile_from_training_config(model, tc: dict, where: str) -> None:
    """Compile ``model`` as a saved training configuration says (optimizer, loss, metrics);
    a configuration we cannot follow leaves the model uncompiled with a warning."""
    try:
        if not isinstance(tc, dict):
            raise TypeError(f"training_config is {_kind(tc)}, expected an object")
        opt = tc.get("optimizer_config") or "rmsprop"
        if isinstance(opt, dict):
            opt = {"class_name": opt.get("class_name"), "config": opt.get("config") or {}}
        loss = tc.get("loss")
        if isinstance(loss, dict) and "class_name" in loss:
            loss = _plain(loss)
        metrics = _metrics_from_file(tc.get("metrics"))
        model.compile(optimizer=opt, loss=loss, metrics=metrics or None)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError,
            RecursionError) as e:
        warnings.warn(f"{where}: the training configuration could not be restored "
                      f"({_short(str(e))}); the model is loaded uncompiled", RuntimeWarning,
                      stacklevel=3)
