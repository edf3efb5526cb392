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

from engine.io import KERAS_VERSION
from engine.io.atomic import atomic_path
from engine.io.weights import read_weights_group, write_weights_group
from engine.models import Sequential, model_from_config
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


class KerasFileError(ValueError):
    """A Keras file we cannot read; the message names the file and the layer."""


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
    entries = [{**keras_layer_config(layer), "name": layer.name, "inbound_nodes": []}
               for layer in plan.input_layers]
    for layer, nodes in layer_calls(plan):
        inbound = [_keras_node(layer, node, tensor) for node in nodes]
        entries.append({**_nested_or_layer(layer), "name": layer.name, "inbound_nodes": inbound})
    return {"class_name": "Functional",
            "config": {"name": model.name, "trainable": True,
                       "input_layers": [list(refs[id(lyr._nodes[0].outputs[0])])
                                        for lyr in plan.input_layers],
                       "output_layers": [list(refs[id(t)]) for t in plan.outputs],
                       "layers": entries}}


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
        return {"huber_loss": "huber"}.get(losses.get(lo).name, losses.get(lo).name)
    loss = model._loss_arg
    if isinstance(loss, dict):
        loss = {k: name(v) for k, v in loss.items()}
    elif isinstance(loss, (list, tuple)):
        loss = [name(v) for v in loss]
    else:
        loss = name(loss)
    metrics = model._metrics_arg
    if metrics is not None:
        metrics = [m if isinstance(m, str) else getattr(m, "name", str(m))
                   for m in (metrics if isinstance(metrics, (list, tuple)) else [metrics])]
    opt = model.optimizer
    return {"loss": loss, "metrics": metrics, "weighted_metrics": None, "loss_weights": None,
            "optimizer_config": {"class_name": type(opt).__name__, "config": opt.get_config()}}


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
def _plain(value):
    """Keras 3 serialized objects → our {"class_name", "config"} form."""
    if isinstance(value, dict) and "class_name" in value:
        if value["class_name"] == "DTypePolicy":
            return value.get("config", {}).get("name", "float32")
        return {"class_name": value["class_name"], "config": value.get("config") or {}}
    return value


def our_layer_config(class_name: str, config: dict[str, Any], where: str) -> dict[str, Any]:
    """Keras (2 or 3) layer config → ours; unsupported layers and arguments are named."""
    from engine.registry import get_spec
    try:
        spec = get_spec(class_name)
    except KeyError:
        raise KerasFileError(f"{where}: layer '{config.get('name', '?')}' has type "
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
                          f"'{key}'={value!r} is not supported and was ignored", RuntimeWarning,
                          stacklevel=3)
    if spec.type_name == "InputLayer":
        shape = out.pop("batch_shape", None) or out.pop("batch_input_shape", None)
        if shape is not None:
            out["batch_shape"] = shape
    return {"class_name": spec.type_name, "config": out}


def _inbound(entry: dict, where: str) -> list:
    """Keras 3 ({"args": ...}) or Keras 2 ([[name, node, index, kwargs]]) inbound nodes → ours."""
    nodes = entry.get("inbound_nodes") or []
    out = []
    for node in nodes:
        if isinstance(node, dict):
            refs: list = []
            _tensor_histories(node.get("args", []), refs)
            _tensor_histories(node.get("kwargs", {}), refs)
            out.append(refs)
        elif isinstance(node, list):
            out.append([[r[0], r[1], r[2], {}] for r in node])
        else:
            raise KerasFileError(f"{where}: layer '{entry.get('name')}' has an inbound node "
                                 f"of an unknown form: {node!r:.80}")
    return out


def _tensor_histories(obj, refs: list) -> None:
    """The [layer, node, index, {}] of every __keras_tensor__ in ``obj``, in order."""
    if isinstance(obj, dict) and obj.get("class_name") == "__keras_tensor__":
        h = obj["config"]["keras_history"]
        refs.append([h[0], h[1], h[2], {}])
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _tensor_histories(o, refs)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensor_histories(o, refs)


def model_from_keras_config(data: dict[str, Any], where: str = "model"):
    """A model from Keras's config (Keras 2 or 3 form)."""
    return model_from_config(our_model_config(data, where), safe_mode=None)  # (the loader's)


def our_model_config(data: dict[str, Any], where: str = "model") -> dict[str, Any]:
    """Keras's model config (Keras 2 or 3 form) in ours; nested models converted too."""
    kind = data.get("class_name")
    cfg = data.get("config")
    if not isinstance(cfg, dict):
        raise KerasFileError(f"{where}: model_config has no 'config' object")
    layers = cfg.get("layers")
    if not isinstance(layers, list):
        raise KerasFileError(f"{where}: model_config has no layer list")
    if kind == "Sequential":
        ours = [_layer_entry(e, where) for e in layers]
        return {"class_name": "Sequential", "config": {"name": cfg.get("name"), "layers": ours}}
    if kind not in ("Functional", "Model"):
        raise KerasFileError(f"{where}: model class {kind!r} is not supported (Sequential or "
                             f"Functional models only)")
    ours = []
    for e in layers:
        conv = _layer_entry(e, where)
        conv["name"] = e.get("name", conv["config"].get("name"))
        conv["inbound_nodes"] = _inbound(e, where)
        ours.append(conv)
    return {"class_name": "Functional", "config": {
        "name": cfg.get("name"), "layers": ours,
        "input_layers": _tensor_refs(cfg.get("input_layers"), "input_layers", where),
        "output_layers": _tensor_refs(cfg.get("output_layers"), "output_layers", where)}}


def _layer_entry(entry: dict, where: str) -> dict[str, Any]:
    """One layer of a model config in our form: a built-in type converted by
    :func:`our_layer_config`; a custom class the program registered or passed in
    (``custom_objects``) kept as Keras wrote it, for its own ``from_config``."""
    from engine.registry import LAYERS, ALIASES
    from engine.saving.object_registration import find_custom_object
    class_name, cfg = entry.get("class_name"), entry.get("config") or {}
    registered = entry.get("registered_name")
    if class_name in ("Functional", "Sequential", "Model") and isinstance(cfg, dict) and \
            isinstance(cfg.get("layers"), list):      # a model used as a layer
        return our_model_config(entry, where)
    custom = find_custom_object(class_name, registered)
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


def _tensor_refs(refs, key: str, where: str) -> list:
    """Keras 3 writes one input or output as a bare ``[name, node, index]`` and several as a
    list of them; ours is always the list."""
    if isinstance(refs, list) and len(refs) == 3 and isinstance(refs[0], str):
        return [refs]
    if not isinstance(refs, list) or not all(
            isinstance(r, list) and len(r) == 3 and isinstance(r[0], str) for r in refs):
        raise KerasFileError(f"{where}: the model config's '{key}' is not a list of "
                             f"[layer name, node, tensor] references: {refs!r}")
    return refs


def _open(filepath):
    import h5py
    path = Path(os.fspath(filepath))
    if not path.is_file():
        raise KerasFileError(f"{path}: no such file")
    try:
        return path, h5py.File(path, "r")
    except OSError as e:
        raise KerasFileError(f"{path.name}: not a readable HDF5 file ({e})") from None


def _config_of(path, f) -> dict:
    raw = f.attrs.get("model_config")
    if raw is None:
        raise KerasFileError(f"{path.name}: no model_config attribute (a weights-only file? load "
                             f"it with model.load_weights)")
    try:
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as e:
        raise KerasFileError(f"{path.name}: model_config is not valid JSON ({e})") from None


def load_model(filepath, compile: bool = True):
    """A Keras 2 or 3 legacy .h5 model as an engine Model, with weights (and compiled)."""
    path, f = _open(filepath)
    try:
        with f:
            return _load_open(path, f, compile)
    except (KerasFileError, UnsafeCodeError):
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as e:
        # h5py reports damaged files lazily, from whichever read first hits the damage
        raise KerasFileError(f"{path.name}: the file is damaged ({e})") from None


def _load_open(path, f, compile: bool):
    data = _config_of(path, f)
    try:
        model = model_from_keras_config(data, path.name)
    except (KerasFileError, UnsafeCodeError):
        raise
    except (ValueError, TypeError, KeyError) as e:
        raise KerasFileError(f"{path.name}: {e}") from None
    if "model_weights" in f:
        try:
            read_weights_group(f["model_weights"], model, source=path.name)
        except (ValueError, KeyError, OSError) as e:
            raise KerasFileError(str(e)) from None
    tc = f.attrs.get("training_config")
    if compile and tc is not None:
        _compile_from(model, tc, path)
    return model


def _compile_from(model, raw, path) -> None:
    try:
        tc = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        opt = tc.get("optimizer_config") or "rmsprop"
        if isinstance(opt, dict):
            opt = {"class_name": opt.get("class_name"), "config": opt.get("config") or {}}
        loss = tc.get("loss")
        if isinstance(loss, dict) and "class_name" in loss:
            loss = _plain(loss)
        metrics = tc.get("metrics")
        if isinstance(metrics, list):
            metrics = [m if isinstance(m, str) else (m.get("config", {}).get("name")
                                                     if isinstance(m, dict) else m)
                       for m in metrics if m is not None]
        model.compile(optimizer=opt, loss=loss, metrics=metrics or None)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        warnings.warn(f"{path.name}: the training configuration could not be restored ({e}); "
                      f"the model is loaded uncompiled", RuntimeWarning, stacklevel=3)
