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
from engine.layers.base import Layer, Node, Weight, _snake, unique_name
from engine.layers.core import InputLayer
from engine.models import data_adapter as da
from engine.models.functional import Plan
from engine.models.functional_config import functional_config, functional_from_config
from engine.models.training import TrainingLoops


class Model(TrainingLoops, Layer):
    """``Model(inputs, outputs, name=None)``: a graph of layer calls (the Functional API); or,
    subclassed with ``call()``, a model whose forward is Python code (trained on a tape). A
    model is a layer: it can be called on tensors inside another model (nested models)."""

    keras_class_name = "Functional"   # the class name in Keras model configs

    def __init__(self, inputs=None, outputs=None, name: str | None = None, **kwargs):
        subclassed = type(self)._runs_call
        default = ("functional" if type(self) is Model else "sequential"
                   if self.keras_class_name == "Sequential" else _snake(type(self).__name__))
        Layer.__init__(self, name=name or unique_name(default), **kwargs)
        self.stop_training = False
        self.optimizer = None
        self.compiled = False
        self.history = None
        self._plan: Plan | None = None
        self._bound_key: tuple | None = None
        self._params = self._grads = None
        self._call_losses: list[float] = []
        if inputs is not None or outputs is not None:
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
        elif not subclassed and self.keras_class_name != "Sequential":
            raise ValueError("Model: give inputs and outputs (Model(inputs=x_in, outputs=y)), "
                             "or subclass Model and define call()")

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
        shapes = [t.shape for t in plan.inputs]
        self.input_shape = shapes if len(shapes) > 1 else shapes[0]
        shapes = [t.shape for t in plan.outputs]
        self.output_shape = shapes if len(shapes) > 1 else shapes[0]

    @property
    def input(self):
        """A Functional model's input tensor(s) (a model called elsewhere too: still its own)."""
        if not self._functional or self._plan is None:
            return Layer.input.fget(self)
        ins = self._plan.inputs
        return ins[0] if len(ins) == 1 else list(ins)

    @property
    def output(self):
        if not self._functional or self._plan is None:
            return Layer.output.fget(self)
        outs = self._plan.outputs
        return outs[0] if len(outs) == 1 else list(outs)

    @property
    def _functional(self) -> bool:
        """Run by a Plan of layer calls (Functional, Sequential), not by a call() method."""
        return not type(self)._runs_call

    def _sublayers(self) -> list[Layer]:
        if self._functional:
            plan = self.__dict__.get("_plan")
            return [] if plan is None else \
                [layer for layer in plan.layers if not isinstance(layer, InputLayer)]
        return Layer._sublayers(self)

    @property
    def layers(self) -> list[Layer]:
        if not self._functional:
            return Layer._sublayers(self)
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
        if not self._functional:
            return Layer.weights.fget(self)
        out, seen = [], set()
        for layer in self.layers:
            for w in layer.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    def count_params(self) -> int:
        return sum(w.size for w in self.weights)

    def _require_built(self, what: str) -> None:
        if self._plan is None:
            how = ("call it on data (or fit/predict/build) first" if not self._functional else
                   "give the first layer an input_shape (or start with Input(shape=...)), or "
                   "call fit/predict/build first")
            raise ValueError(f"Model '{self.name}' is not built yet, so it has no {what}: {how}")

    # ---------------------------------------------------------------- as a layer
    def forward(self, x, training: bool = False, mask=None):
        """A Functional model as one step of another model: its plan forward."""
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        outs = self._plan.forward(xs, training)
        self._call_losses = list(self._plan.added_losses)
        return outs if len(outs) > 1 else outs[0]

    def backward(self, dy):
        dys = dy if isinstance(dy, list) else [dy]
        dxs = self._plan.backward(dys, input_grads=True)
        return dxs if len(dxs) > 1 else dxs[0]

    def save_call_state(self):
        state = Layer.save_call_state(self)
        if self._functional and self._plan is not None:
            state.append((self._plan, self._plan.__dict__.copy()))
        return state

    def _call_eager(self, inputs, training):
        if self._plan is None:
            self._build_from_data(inputs)
        xs = da.prepare_inputs(inputs, self._plan.input_layers)
        outs = self._plan.forward(xs, training=training)
        return outs if len(outs) > 1 else outs[0]

    def _eager_inputs(self, inputs):
        return inputs

    def _call_symbolic(self, inputs):
        self._require_built("inputs")
        multi = isinstance(inputs, (list, tuple, dict))
        tensors = list(inputs.values()) if isinstance(inputs, dict) else \
            list(inputs) if multi else [inputs]
        if len(tensors) != len(self._plan.inputs):
            raise ValueError(f"Model '{self.name}' takes {len(self._plan.inputs)} input(s), "
                             f"got {len(tensors)}")
        for t, want in zip(tensors, self._plan.inputs):
            if tuple(t.shape[1:]) != tuple(want.shape[1:]) and None not in want.shape[1:]:
                raise ValueError(f"Model '{self.name}': input '{want.node.layer.name}' expects "
                                 f"shape {want.shape}, got {t.shape}")
        node = Node(self, tensors, [t.shape for t in self._plan.outputs],
                    [t.dtype for t in self._plan.outputs])
        self._nodes.append(node)
        return list(node.outputs) if len(node.outputs) > 1 else node.outputs[0]

    def call(self, inputs, training=None, mask=None):
        """A Functional model's computation on arrays or traced tensors (subclasses define
        their own)."""
        return Layer.call(self, inputs, training, mask)

    def build(self, input_shape=None) -> None:
        """Subclassed models: build by running call() on zeros of ``input_shape``."""
        if self._plan is not None or self._functional:
            return
        if input_shape is None:
            raise ValueError(f"Model '{self.name}': build needs the input shape, e.g. "
                             f"build((None, 784))")
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        zeros = [np.zeros((2,) + tuple(1 if d is None else d for d in s[1:]), backend.floatx())
                 for s in shapes]
        self._build_from_data(zeros if isinstance(input_shape, list) else zeros[0])

    build.builds_by_calling = True   # a first call builds it: build() must not call again

    def _build_from_data(self, x) -> None:
        if self._functional:
            self._require_built("inputs")
            return
        from engine.models.subclassed import CallPlan
        self._plan = CallPlan(self, x)
        self._bound_key = None
        self.built = True
        self.output_names = self._plan.output_names
        self.input_names = [layer.name for layer in self._plan.input_layers]

    # ---------------------------------------------------------------- parameters
    def _bind_parameters(self) -> None:
        """Move every trainable weight into one flat buffer (and grads into another)."""
        weights = self.weights
        train = [w for w in weights if w.trainable and w.layer.trainable and w.dtype.kind == "f"]
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
        if not self._functional:
            return Layer.get_config(self)
        self._require_built("config")
        return functional_config(self)

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None) -> Model:
        if cls._runs_call:                  # a subclassed model: its own arguments
            return Layer.from_config.__func__(cls, config)
        from engine.saving.object_registration import custom_objects_added
        with custom_objects_added(custom_objects):   # also for what the layers' configs name
            return functional_from_config(Model if cls is Model else cls, config)

    def to_json(self, **kwargs) -> str:
        return json.dumps({"class_name": self.keras_class_name, "config": self.get_config(),
                           "keras_version": KERAS_VERSION, "backend": "layerloom"}, **kwargs)

    def summary(self, line_length: int | None = None, positions=None, print_fn=None,
                expand_nested: bool = False, show_trainable: bool = False) -> None:
        from engine.summary import format_summary
        text = format_summary(self, line_length or 80)
        (print_fn or print)(text)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"
