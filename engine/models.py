"""Keras-compatible models: ``Model`` (Functional API, a DAG of layer calls) and ``Sequential``.

Parameters of a model live in one flat buffer (``Model._params``) with per-weight views, and the
gradients in another (``Model._grads``), so an optimizer step is one fused kernel over both.
Training, evaluation and prediction loops are in :mod:`engine.training`.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from engine import backend
from engine import data_adapter as da
from engine.functional import Plan
from engine.layers.base import KerasTensor, Layer, Weight, deserialize_layer, unique_name
from engine.layers.core import InputLayer
from engine.training import TrainingLoops

KERAS_VERSION = "3.15.1"  # the Keras version whose file formats we write


class Model(TrainingLoops):
    """``Model(inputs, outputs, name=None)``: a graph of layer calls (the Functional API)."""

    def __init__(self, inputs=None, outputs=None, name: str | None = None, **kwargs):
        if kwargs:
            raise TypeError(f"Model: unknown arguments {sorted(kwargs)}")
        self.name = name or unique_name("functional" if type(self) is Model else "sequential")
        self.stop_training = False
        self.optimizer = None
        self.compiled = False
        self.history = None
        self._plan: Plan | None = None
        self._bound_key: tuple | None = None
        self._params = self._grads = None
        if type(self) is Model:
            if inputs is None or outputs is None:
                raise ValueError("Model: give both inputs and outputs, e.g. "
                                 "Model(inputs=x_in, outputs=y)")
            self._multi_in = isinstance(inputs, (list, tuple, dict))
            self._multi_out = isinstance(outputs, (list, tuple, dict))
            ins = list(inputs.values()) if isinstance(inputs, dict) else \
                list(inputs) if self._multi_in else [inputs]
            outs = list(outputs.values()) if isinstance(outputs, dict) else \
                list(outputs) if self._multi_out else [outputs]
            self._set_plan(Plan(ins, outs), [] if not isinstance(outputs, dict) else list(outputs))

    # ---------------------------------------------------------------- structure
    def _set_plan(self, plan: Plan, output_names: list[str] | None = None) -> None:
        self._plan = plan
        self.inputs = plan.inputs
        self.outputs = plan.outputs
        names = []
        for i, t in enumerate(plan.outputs):
            base = output_names[i] if output_names else t.node.layer.name
            names.append(base if base not in names else f"{base}_{i}")
        self.output_names = names
        self.input_names = [layer.name for layer in plan.input_layers]
        self._bound_key = None
        self.built = True

    @property
    def layers(self) -> list[Layer]:
        self._require_built("layers")
        return list(self._plan.layers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range; the model has "
                                 f"{len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; the layers are: "
                         + ", ".join(lyr.name for lyr in layers))

    @property
    def weights(self) -> list[Weight]:
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[Weight]:
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[Weight]:
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def count_params(self) -> int:
        return sum(w.size for w in self.weights)

    def _require_built(self, what: str) -> None:
        if self._plan is None:
            raise ValueError(f"Model '{self.name}' is not built yet, so it has no {what}: give the "
                             f"first layer an input_shape (or start with Input(shape=...)), or call "
                             f"fit/predict/build first")

    # ---------------------------------------------------------------- parameters
    def _bind_parameters(self) -> None:
        """Move every trainable weight into one flat buffer (and grads into another)."""
        weights = self.weights
        train = [w for w in weights if w.trainable and w.layer.trainable]
        key = tuple(id(w) for w in train) + (None,) + tuple(id(w) for w in weights)
        if key == self._bound_key:
            return
        dtype = backend.floatx()
        n = sum(w.size for w in train)
        params = np.empty(n, dtype=dtype)
        grads = np.zeros(n, dtype=dtype)
        offset = 0
        for w in train:
            params[offset:offset + w.size] = w.value.reshape(-1)
            w.value = params[offset:offset + w.size].reshape(w.shape)
            w.grad = grads[offset:offset + w.size].reshape(w.shape)
            offset += w.size
        train_ids = {id(w) for w in train}
        for w in weights:
            if id(w) not in train_ids and (w.value.base is not None):
                w.value = w.value.copy()
                w.grad = np.zeros_like(w.value)
        self._params, self._grads = params, grads
        self._regularized = [w for w in train if w.regularizer is not None]
        self._constrained = [w for w in train if w.constraint is not None]
        self._bound_key = key
        if self.optimizer is not None:
            self.optimizer.build(n)

    def get_weights(self) -> list[np.ndarray]:
        return [w.value.copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        mine = self.weights
        weights = list(weights)
        if len(weights) != len(mine):
            raise ValueError(f"Model '{self.name}' has {len(mine)} weight arrays, got "
                             f"{len(weights)}")
        for w, a in zip(mine, weights):
            w.assign(a)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        from engine.io.weights import save_weights
        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch: bool = False, by_name: bool = False) -> None:
        from engine.io.weights import load_weights
        load_weights(self, filepath, skip_mismatch=skip_mismatch, by_name=by_name)

    def save(self, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
        """Save architecture + weights + training config as a Keras legacy HDF5 file."""
        from engine.io.keras_h5 import save_model
        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    # ---------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        self._require_built("config")
        plan = self._plan
        producer: dict[int, tuple[str, int]] = {}
        for layer in plan.input_layers:
            producer[id(layer.output)] = (layer.name, 0)
        layers_cfg = []
        for layer in plan.input_layers:
            layers_cfg.append({"class_name": "InputLayer", "config": layer.get_config(),
                               "name": layer.name, "inbound_nodes": []})
        node_of = _nodes_in_plan(plan)
        for step in plan.steps:
            node = node_of[id(step.layer)]
            for k, t in enumerate(node.outputs):
                producer[id(t)] = (step.layer.name, k)
            inbound = [[producer[id(t)][0], 0, producer[id(t)][1], {}] for t in node.inputs]
            layers_cfg.append({"class_name": step.layer.spec.type_name,
                               "config": step.layer.get_config(), "name": step.layer.name,
                               "inbound_nodes": [inbound]})
        return {"name": self.name, "layers": layers_cfg,
                "input_layers": [[lyr.name, 0, 0] for lyr in plan.input_layers],
                "output_layers": [[*producer[id(t)][:1], 0, producer[id(t)][1]]
                                  for t in plan.outputs]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        if "layers" not in config or not isinstance(config["layers"], list):
            raise ValueError("model config: missing the 'layers' list")
        tensors: dict[str, list[KerasTensor]] = {}
        for entry in config["layers"]:
            layer = deserialize_layer(entry)
            if isinstance(layer, InputLayer):
                tensors[layer.name] = [layer.output]
                continue
            inbound = entry.get("inbound_nodes") or []
            if len(inbound) != 1:
                raise ValueError(f"model config: layer '{layer.name}' has {len(inbound)} calls; "
                                 f"exactly one is supported")
            args = []
            for ref in inbound[0]:
                src, _node, idx = ref[0], ref[1], ref[2]
                if src not in tensors:
                    raise ValueError(f"model config: layer '{layer.name}' takes its input from "
                                     f"'{src}', which is not defined before it")
                args.append(tensors[src][idx])
            out = layer(args if len(args) > 1 else args[0])
            tensors[layer.name] = out if isinstance(out, list) else [out]

        def pick(refs):
            return [tensors[r[0]][r[2]] for r in refs]
        ins, outs = pick(config["input_layers"]), pick(config["output_layers"])
        return Model(ins if len(ins) > 1 else ins[0], outs if len(outs) > 1 else outs[0],
                     name=config.get("name"))

    def to_json(self, **kwargs) -> str:
        return json.dumps({"class_name": "Sequential" if isinstance(self, Sequential)
                           else "Functional", "config": self.get_config(),
                           "keras_version": KERAS_VERSION, "backend": "layerloom"}, **kwargs)

    def summary(self, line_length: int | None = None, positions=None, print_fn=None) -> None:
        from engine.summary import format_summary
        text = format_summary(self, line_length or 80)
        (print_fn or print)(text)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def _nodes_in_plan(plan: Plan) -> dict[int, Any]:
    """The node of each layer that this plan executes (a layer may have been called elsewhere)."""
    slot_nodes: dict[int, Any] = {}
    for t in plan.outputs:
        stack = [t]
        while stack:
            cur = stack.pop()
            node = cur.node
            if node is None or not node.inputs or id(node.layer) in slot_nodes:
                continue
            slot_nodes[id(node.layer)] = node
            stack.extend(node.inputs)
    return slot_nodes


class Sequential(Model):
    """A linear stack of layers: ``Sequential([Dense(64, input_dim=100), Dense(10)])``."""

    def __init__(self, layers=None, name: str | None = None, **kwargs):
        super().__init__(name=name, **kwargs)
        self._stack: list[Layer] = []
        self._input_layer: InputLayer | None = None
        self.built = False
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        if isinstance(layer, KerasTensor):
            if layer.node is None or not isinstance(layer.node.layer, InputLayer):
                raise TypeError("Sequential.add: a tensor can only be added as the first item, "
                                "and it must come from Input(shape=...)")
            layer = layer.node.layer
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a layer, got {type(layer).__name__}: "
                            f"{layer!r:.60}")
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._stack:
                raise ValueError(f"Sequential '{self.name}': an InputLayer can only be the first "
                                 f"layer")
            self._input_layer = layer
            self._rebuild()
            return
        if any(existing.name == layer.name for existing in self._stack):
            raise ValueError(f"Sequential '{self.name}': a layer named '{layer.name}' is already "
                             f"in the model; layer names must be unique")
        if not self._stack and self._input_layer is None and layer._batch_input_shape is not None:
            self._input_layer = InputLayer(batch_shape=layer._batch_input_shape,
                                           name=unique_name("input_layer"),
                                           dtype=_input_dtype_for(layer))
        self._stack.append(layer)
        if self._input_layer is not None:
            try:
                self._rebuild()
            except Exception:
                self._stack.pop()
                raise

    def pop(self) -> Layer:
        if not self._stack:
            raise IndexError(f"Sequential '{self.name}': there is no layer to pop")
        layer = self._stack.pop()
        if self._input_layer is not None:
            self._rebuild()
        return layer

    def _rebuild(self) -> None:
        t = self._input_layer.output
        for layer in self._stack:
            out = layer(t)
            if isinstance(out, list):
                raise ValueError(f"{layer.where} returns {len(out)} tensors; a Sequential model "
                                 f"needs one output per layer - use the Functional API")
            t = out
        if self._stack:
            self._set_plan(Plan([self._input_layer.output], [t]))

    def build(self, input_shape=None) -> None:
        """Build with a batch input shape, e.g. ``build((None, 784))``."""
        if self._plan is not None:
            return
        if input_shape is None:
            raise ValueError(f"Sequential '{self.name}': build needs the input shape")
        self._input_layer = InputLayer(batch_shape=tuple(input_shape),
                                       name=unique_name("input_layer"),
                                       dtype=_input_dtype_for(self._stack[0]) if self._stack
                                       else None)
        self._rebuild()

    def _build_from_data(self, x) -> None:
        if self._plan is not None:
            return
        if not self._stack:
            raise ValueError(f"Sequential '{self.name}' has no layers; add some with model.add()")
        # A Sequential has one input: a list is the data itself (e.g. lists of token ids),
        # unless it is a one-element list holding the input array
        single = isinstance(x, (list, tuple)) and len(x) == 1 and isinstance(x[0], np.ndarray)
        where = self._stack[0].where
        arr = da._check_ragged(x[0] if single else x, where)
        if arr.dtype.kind in "US":
            raise ValueError(f"{where}: expects numbers, got text; turn it into token ids "
                             f"first (Tokenizer or TextVectorization)")
        if arr.dtype == object:
            raise ValueError(f"{where}: expects an array of numbers, got Python objects (ragged "
                             f"lists? pad them with engine.preprocessing.sequence.pad_sequences)")
        self._input_layer = InputLayer(batch_shape=(None,) + arr.shape[1:],
                                       name=unique_name("input_layer"),
                                       dtype="int32" if arr.dtype.kind in "iu" else None)
        self._rebuild()

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def get_config(self) -> dict[str, Any]:
        layers = []
        if self._input_layer is not None:
            layers.append({"class_name": "InputLayer", "config": self._input_layer.get_config()})
        layers += [{"class_name": lyr.spec.type_name, "config": lyr.get_config()}
                   for lyr in self._stack]
        return {"name": self.name, "layers": layers}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        if not isinstance(config.get("layers"), list):
            raise ValueError("Sequential config: missing the 'layers' list")
        model = cls(name=config.get("name"))
        for entry in config["layers"]:
            model.add(deserialize_layer(entry))
        return model


def _input_dtype_for(first: Layer) -> str | None:
    return "int32" if first.spec.type_name == "Embedding" else None


def model_from_config(data: dict[str, Any]) -> Model:
    if not isinstance(data, dict):
        raise ValueError("model config must be a JSON object")
    kind = data.get("class_name")
    cfg = data.get("config")
    if not isinstance(cfg, dict):
        raise ValueError("model config: missing the 'config' object")
    if kind == "Sequential":
        return Sequential.from_config(cfg)
    if kind in ("Functional", "Model"):
        return Model.from_config(cfg)
    raise ValueError(f"model config: class_name must be 'Sequential' or 'Functional', got {kind!r}")


def model_from_json(json_string: str, custom_objects=None) -> Model:
    try:
        data = json.loads(json_string)
    except json.JSONDecodeError as e:
        raise ValueError(f"model_from_json: not valid JSON ({e})") from None
    return model_from_config(data)


def load_model(filepath, custom_objects=None, compile: bool = True) -> Model:
    """Load a Keras HDF5 model file (Keras 3 or Keras 2 legacy format)."""
    from engine.io.keras_h5 import load_model as _load
    return _load(filepath, compile=compile)
