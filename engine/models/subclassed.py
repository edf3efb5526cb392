"""The executor of a subclassed model (``class M(keras.Model)`` with ``call()``) for the training
loops: the same interface as a Functional model's :class:`~engine.models.functional.Plan`
(``input_layers``, ``outputs``, ``forward``, ``backward``, ``added_losses``), so ``fit``,
``evaluate`` and ``predict`` run it unchanged.

Its inputs and outputs are learned from the first data, as Keras builds a subclassed model on
its first call: the structure of ``x`` (an array, a list, a dict) is what ``call`` receives; the
structure ``call`` returns gives the model's outputs. Training records ``call`` on a tape
(:func:`engine.layers.calling.call_forward`), built-in layers inside as one node each with
their own kernels; backward replays it and writes every weight's gradient.
"""
from __future__ import annotations

import numpy as np

from engine.layers.base import KerasTensor, unique_name
from engine.layers.calling import is_array_like
from engine.layers.core import InputLayer
from engine.models import data_adapter as da
from engine.models.functional import EXECUTION_LOCK, NonFiniteError


class CallPlan:
    """Runs ``model.call`` for the training loops (see the module docstring)."""

    steps: tuple = ()

    def __init__(self, model, x):
        self.model = model
        self.lock = EXECUTION_LOCK
        if isinstance(x, dict):
            names = list(x)
            arrays = [x[k] for k in names]
            self._template = {k: i for i, k in enumerate(names)}
        elif isinstance(x, (list, tuple)) and x and all(_is_array(a) for a in x):
            names = [f"input_{i}" for i in range(len(x))]
            arrays = list(x)
            self._template = list(range(len(x)))
        else:
            names, arrays, self._template = ["input"], [x], None
        self.input_layers = []
        for name, a in zip(names, arrays):
            a = da._check_ragged(a, f"Model '{model.name}': input '{name}'")
            self.input_layers.append(InputLayer(
                batch_shape=(None,) + a.shape[1:],
                name=name if isinstance(x, dict) else unique_name("input_layer"),
                dtype="int32" if a.dtype.kind in "iub" else None))
        self.inputs = [layer._nodes[0].outputs[0] for layer in self.input_layers]
        probe = [da.prepare_inputs(a[:2], [layer])[0] for a, layer in zip(arrays,
                                                                            self.input_layers)]
        with self.lock:
            out = model.forward(self._structure(probe), training=False)
        outs = out if isinstance(out, list) else [out]
        self.outputs = [KerasTensor((None,) + np.shape(o)[1:], np.asarray(o).dtype.name)
                        for o in outs]
        self.output_names = [f"output_{i}" for i in range(len(outs))] if len(outs) > 1 \
            else ["output"]
        self.output_slots = list(range(len(outs)))
        self.consumers = np.zeros(len(outs), dtype=np.int64)
        self.layers = model.layers
        self.added_losses: list[float] = []

    def _structure(self, xs: list):
        """The model's inputs as ``call`` gets them (the structure of the data)."""
        if self._template is None:
            return xs[0]
        if isinstance(self._template, dict):
            return {k: xs[i] for k, i in self._template.items()}
        return list(xs)

    def forward(self, xs: list[np.ndarray], training: bool, check_finite: bool = False,
                upto=None) -> list[np.ndarray]:
        with self.lock:
            out = self.model.forward(self._structure(xs), training)
        self.added_losses = list(self.model._call_losses)
        outs = out if isinstance(out, list) else [out]
        if check_finite:
            for o in outs:
                if o.dtype.kind == "f" and not np.isfinite(o).all():
                    raise NonFiniteError(f"the output of model '{self.model.name}' is not "
                                         f"finite (contains NaN or inf)", None)
        return outs

    def backward(self, output_grads: list, input_grads: bool = False) -> list | None:
        with self.lock:
            dx = self.model.backward(output_grads if len(output_grads) > 1 else output_grads[0])
        if not input_grads:
            return None
        if self._template is None:
            return [dx]
        if isinstance(self._template, dict):
            return [dx[k] for k in self._template]
        return list(dx)


def _is_array(a) -> bool:
    return isinstance(a, np.ndarray) or is_array_like(a)

