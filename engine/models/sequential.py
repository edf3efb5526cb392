"""``Sequential``: a linear stack of layers (``keras.Sequential``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers.base import KerasTensor, Layer, unique_name
from engine.layers.layer_config import deserialize_layer, serialize_layer
from engine.layers.core import InputLayer
from engine.models import data_adapter as da
from engine.models.functional import Plan
from engine.models.model import Model


class Sequential(Model):
    """A linear stack of layers: ``Sequential([Dense(64, input_dim=100), Dense(10)])``."""

    keras_class_name = "Sequential"

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
        # each rebuild calls the layers afresh: drop the calls the previous one made
        for layer, node in self.__dict__.get("_made_nodes", ()):
            if node in layer._nodes:
                layer._nodes.remove(node)
        self._made_nodes = []
        t = self._input_layer.output
        for layer in self._stack:
            before = len(layer._nodes)
            out = layer(t)
            self._made_nodes += [(layer, n) for n in layer._nodes[before:]]
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

    def _sublayers(self) -> list[Layer]:
        return list(self.__dict__.get("_stack", ()))

    def get_config(self) -> dict[str, Any]:
        layers = []
        if self._input_layer is not None:
            layers.append({"class_name": "InputLayer", "config": self._input_layer.get_config()})
        layers += [serialize_layer(lyr) for lyr in self._stack]
        return {"name": self.name, "layers": layers}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None) -> Sequential:
        from engine.saving.object_registration import custom_objects_added
        if not isinstance(config.get("layers"), list):
            raise ValueError("Sequential config: missing the 'layers' list")
        model = cls(name=config.get("name"))
        with custom_objects_added(custom_objects):
            for entry in config["layers"]:
                model.add(deserialize_layer(entry))
        return model


def _input_dtype_for(first: Layer) -> str | None:
    return "int32" if getattr(first, "spec", None) is not None and \
        first.spec.type_name == "Embedding" else None
