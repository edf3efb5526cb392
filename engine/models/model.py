"""``Model``: the Functional API, a DAG of layer calls (``keras.Model``).

Parameters of a model live in one flat buffer (``Model._params``) with per-weight views, and the
gradients in another (``Model._grads``), so an optimizer step is one fused kernel over both.
The execution plan is :mod:`engine.models.functional`; the training, evaluation and prediction
loops are :mod:`engine.models.training`. Saving goes through :mod:`engine.saving`, imported when
a model is saved (as Keras does): file formats build models, so models cannot import them first.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from engine import backend
from engine.io import KERAS_VERSION
from engine.layers.base import (
    KerasTensor,
    Layer,
    Weight,
    deserialize_layer,
    serialize_layer,
    unique_name,
)
from engine.layers.core import InputLayer
from engine.models.functional import Plan, nodes_in_plan
from engine.models.training import TrainingLoops


class Model(TrainingLoops):
    """``Model(inputs, outputs, name=None)``: a graph of layer calls (the Functional API)."""

    keras_class_name = "Functional"   # the class name in Keras model configs

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
            ends = np.cumsum([0] + [w.size for w in train])
            self.optimizer.build(n, segments=list(zip(ends[:-1].tolist(), ends[1:].tolist())),
                                 shapes=[w.shape for w in train])

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
        from engine.saving import save_model
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
        node_of = nodes_in_plan(plan)
        for step in plan.steps:
            node = node_of[id(step.layer)]
            for k, t in enumerate(node.outputs):
                producer[id(t)] = (step.layer.name, k)
            inbound = [[producer[id(t)][0], 0, producer[id(t)][1], {}] for t in node.inputs]
            layers_cfg.append({**serialize_layer(step.layer), "name": step.layer.name,
                               "inbound_nodes": [inbound]})
        return {"name": self.name, "layers": layers_cfg,
                "input_layers": [[lyr.name, 0, 0] for lyr in plan.input_layers],
                "output_layers": [[*producer[id(t)][:1], 0, producer[id(t)][1]]
                                  for t in plan.outputs]}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None) -> Model:
        from engine.saving.object_registration import custom_objects_added
        with custom_objects_added(custom_objects):   # also for what the layers' configs name
            return cls._from_config(config)

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Model:
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
        return json.dumps({"class_name": self.keras_class_name, "config": self.get_config(),
                           "keras_version": KERAS_VERSION, "backend": "layerloom"}, **kwargs)

    def summary(self, line_length: int | None = None, positions=None, print_fn=None) -> None:
        from engine.summary import format_summary
        text = format_summary(self, line_length or 80)
        (print_fn or print)(text)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"
