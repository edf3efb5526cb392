"""Weights: a layer's parameter arrays (Keras's Variables)."""
from __future__ import annotations

import contextlib
import threading
from typing import Any

import numpy as np

from engine import backend
from engine.ops.operators import ArrayOperators

# One weight tensor above this many values (1 GiB of float32) is a mistake or a hostile file.
MAX_WEIGHT_VALUES = 2 ** 28
_dry = threading.local()


@contextlib.contextmanager
def shape_only_build():
    """Build layers without initializing weights (lazily zeroed memory): used by shape
    inference in the graph editor, which needs shapes and parameter counts, not values."""
    old = getattr(_dry, "on", False)
    _dry.on = True
    try:
        yield
    finally:
        _dry.on = old


def shape_only() -> bool:
    return getattr(_dry, "on", False)


class Weight(ArrayOperators):
    """A named parameter array (Keras's Variable). ``value`` and ``grad`` become views into the
    model's flat buffers when the model binds its parameters, so writes go straight to the
    buffers. Arithmetic on a weight (``x @ w + b``) runs engine ops, recorded while a tape
    records; ``np.asarray(w)`` and ``w.numpy()`` give the value. ``==`` is identity."""

    __slots__ = (
        "constraint",
        "grad",
        "initializer",
        "layer",
        "name",
        "regularizer",
        "shape",
        "trainable",
        "value",
    )
    _is_weight = True
    __array_priority__ = 1000

    def __init__(self, layer, name: str, shape: tuple, initializer, regularizer=None,
                 constraint=None, trainable: bool = True, dtype=None):
        from engine import constraints, initializers, regularizers
        self.layer = layer
        self.name = name
        self.shape = tuple(int(s) for s in shape)
        n = int(np.prod(self.shape, dtype=np.float64))
        if n > MAX_WEIGHT_VALUES:
            raise ValueError(f"{layer.where if layer is not None else 'Variable'}: weight '{name}' of shape {self.shape} would hold "
                             f"{n:,} values ({n * 4 / 2 ** 30:,.1f} GiB); that is too large "
                             f"for this machine (limit {MAX_WEIGHT_VALUES:,})")
        self.initializer = initializers.get(initializer)
        self.regularizer = regularizers.get(regularizer)
        self.constraint = constraints.get(constraint)
        self.trainable = trainable
        dtype = backend.floatx() if dtype is None else np.dtype(getattr(dtype, "name", dtype))
        if shape_only():
            self.value = np.zeros(self.shape, dtype=dtype)
        else:
            # (np.ascontiguousarray would turn a scalar weight's shape () into (1,))
            init = self.initializer(self.shape, dtype if dtype.kind == "f" else backend.floatx())
            self.value = np.array(init, order="C").astype(dtype, copy=False).reshape(self.shape)
        self.grad = np.zeros(self.shape, dtype=self.value.dtype)

    @property
    def path(self) -> str:
        """``layer_name/weight_name`` as Keras names weights in HDF5 files."""
        return self.name if self.layer is None else f"{self.layer.name}/{self.name}"

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def assign(self, array: Any) -> None:
        array = np.asarray(_value_of(array))
        if tuple(array.shape) != self.shape:
            raise ValueError(f"weight '{self.path}' has shape "
                             f"{self.shape}, the value given has shape {tuple(array.shape)}")
        self.value[...] = array

    def assign_add(self, delta: Any) -> None:
        self.assign(self.value + np.asarray(_value_of(delta), dtype=self.value.dtype))

    def assign_sub(self, delta: Any) -> None:
        self.assign(self.value - np.asarray(_value_of(delta), dtype=self.value.dtype))

    def numpy(self) -> np.ndarray:
        return self.value.copy()

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype, copy=False)

    def __len__(self) -> int:
        return self.shape[0]

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        return f"<Weight {self.path} {self.shape}>"


def _value_of(x):
    """The plain value of a weight or traced tensor (assignments record no gradient)."""
    from engine.ops.tape import as_data
    return as_data(x)


def Variable(initializer, shape=None, dtype=None, trainable: bool = True, autocast: bool = True,
             aggregation: str = "none", name: str | None = None) -> Weight:
    """``keras.Variable``: a weight made outside ``add_weight`` — from a value (array, list,
    number) or an initializer with ``shape``. Assigned to a layer's attribute, it becomes
    that layer's weight."""
    if isinstance(initializer, (str, dict)) or (callable(initializer)
                                                and not isinstance(initializer, np.ndarray)):
        if shape is None:
            raise ValueError("Variable: an initializer needs a shape, e.g. "
                             "Variable('zeros', shape=(3,))")
        return Weight(None, name or "variable", shape, initializer, trainable=trainable,
                      dtype=dtype)
    from engine.ops.tape import as_data
    value = np.asarray(as_data(initializer))
    if dtype is None and value.dtype.kind == "f":
        dtype = backend.floatx()
    w = Weight(None, name or "variable", value.shape, "zeros", trainable=trainable,
               dtype=dtype if dtype is not None else value.dtype)
    w.assign(value)
    return w
