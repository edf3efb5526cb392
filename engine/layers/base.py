"""Layer base class, weights and the symbolic tensors of the Functional API.

A layer type is one class with

* a ``@register(...)`` declaration (engine/registry.py): constructor parameters, defaults, help;
* ``build(input_shape)``: creates weights with :meth:`Layer.add_weight`;
* ``compute_output_shape(input_shape)``: shapes include the batch axis as ``None``;
* ``forward(x, training)``: computes the output and keeps what ``backward`` needs;
* ``backward(dy)``: returns ``dx`` and *writes* (never accumulates) every weight's ``grad``.

Multi-input layers get and return lists; a layer with several outputs (``return_state``)
returns a list from ``forward`` and receives a list (``None`` for an unused output) in
``backward``. Layers with ``uses_mask = True`` get ``forward(x, training, mask=...)``.
"""
from __future__ import annotations

import contextlib
import re
import threading
from collections import defaultdict
from typing import Any

import numpy as np

from engine import backend
from engine.ops.operators import ArrayOperators
from engine.registry import LayerSpec, coerce, get_spec, serialize_value

Shape = tuple  # (None, d1, d2, ...)

_name_counters: dict[str, int] = defaultdict(int)
_dry = threading.local()
# One weight tensor above this many values (1 GiB of float32) is a mistake or a hostile file.
MAX_WEIGHT_VALUES = 2 ** 28


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


def reset_name_counters() -> None:
    """Start automatic layer names afresh (``dense``, ``dense_1`` ...)."""
    _name_counters.clear()


def _snake(name: str) -> str:
    """Keras's default layer names: Conv2D → conv2d, GlobalAveragePooling2D →
    global_average_pooling2d, SimpleRNN → simple_rnn."""
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(base: str) -> str:
    n = _name_counters[base]
    _name_counters[base] += 1
    return base if n == 0 else f"{base}_{n}"


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

    def __init__(self, layer: Layer, name: str, shape: tuple, initializer, regularizer=None,
                 constraint=None, trainable: bool = True, dtype=None):
        from engine import constraints, initializers, regularizers
        self.layer = layer
        self.name = name
        self.shape = tuple(int(s) for s in shape)
        n = int(np.prod(self.shape, dtype=np.float64))
        if n > MAX_WEIGHT_VALUES:
            raise ValueError(f"{layer.where}: weight '{name}' of shape {self.shape} would hold "
                             f"{n:,} values ({n * 4 / 2 ** 30:,.1f} GiB); that is too large "
                             f"for this machine (limit {MAX_WEIGHT_VALUES:,})")
        self.initializer = initializers.get(initializer)
        self.regularizer = regularizers.get(regularizer)
        self.constraint = constraints.get(constraint)
        self.trainable = trainable
        dtype = backend.floatx() if dtype is None else np.dtype(getattr(dtype, "name", dtype))
        if getattr(_dry, "on", False):
            self.value = np.zeros(self.shape, dtype=dtype)
        else:
            # (np.ascontiguousarray would turn a scalar weight's shape () into (1,))
            init = self.initializer(self.shape, dtype if dtype.kind == "f" else backend.floatx())
            self.value = np.array(init, order="C").astype(dtype, copy=False).reshape(self.shape)
        self.grad = np.zeros(self.shape, dtype=self.value.dtype)

    @property
    def path(self) -> str:
        """``layer_name/weight_name`` as Keras names weights in HDF5 files."""
        return f"{self.layer.name}/{self.name}"

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
            raise ValueError(f"layer '{self.layer.name}': weight '{self.name}' has shape "
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


class KerasTensor:
    """A symbolic tensor of the Functional API: a shape plus the layer call that made it."""

    def __init__(self, shape: Shape, dtype: str = "float32", node: Node | None = None,
                 index: int = 0, name: str | None = None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node
        self.index = index
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        src = self.node.layer.name if self.node else "?"
        return f"<KerasTensor shape={self.shape} dtype={self.dtype} from '{src}'>"


class Node:
    """One call of a layer on symbolic tensors."""

    def __init__(self, layer: Layer, inputs: list[KerasTensor], output_shapes: list[Shape],
                 output_dtype: str):
        self.layer = layer
        self.inputs = inputs
        self.outputs = [KerasTensor(s, output_dtype, self, i) for i, s in enumerate(output_shapes)]


class Layer:
    spec: LayerSpec            # set by @register
    supports_masking = False   # passes the incoming mask on unchanged
    uses_mask = False          # forward() takes mask=
    has_activation_output = False  # forward ends in self.activation (fused loss gradients)

    def __init__(self, *args, name: str | None = None, trainable: bool = True,
                 dtype: Any = None, input_shape=None, input_dim=None, batch_input_shape=None,
                 batch_size=None, batch_shape=None, **kwargs):
        spec = type(self).spec
        where = f"{spec.type_name} '{name}'" if name else spec.type_name
        if len(args) > len(spec.params):
            raise TypeError(f"{where}: takes at most {len(spec.params)} positional arguments "
                            f"({', '.join(p.name for p in spec.params)}), got {len(args)}")
        values = spec.defaults()
        for p, v in zip(spec.params, args):
            if p.name in kwargs:
                raise TypeError(f"{where}: argument '{p.name}' given twice")
            values[p.name] = v
        for k, v in kwargs.items():
            if k not in values:
                known = ", ".join(p.name for p in spec.params)
                raise TypeError(f"{where}: unknown argument '{k}'; {spec.type_name} takes: {known}")
            values[k] = v
        for p in spec.params:
            setattr(self, p.name, coerce(where, p, values[p.name]))
        self.name = name or unique_name(_snake(spec.type_name))
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"{spec.type_name}: name must be a non-empty string, got {name!r}")
        self.trainable = bool(trainable)
        self.dtype = "float32" if dtype is None else str(getattr(dtype, "name", dtype))
        self._batch_input_shape = _input_shape_from_kwargs(
            where, input_shape, input_dim, batch_input_shape, batch_size, batch_shape)
        self.weights: list[Weight] = []
        self.built = False
        self.input_shape: Any = None
        self.output_shape: Any = None
        self._nodes: list[Node] = []
        self._validate()

    # ------------------------------------------------------------ overridable API
    def _validate(self) -> None:
        """Cross-parameter checks beyond what each Param's range says."""

    def build(self, input_shape: Shape) -> None:
        """Create the weights for ``input_shape`` (batch axis included, as ``None``)."""

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask):
        return mask if self.supports_masking else None

    def forward(self, x, training: bool = False):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dy):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    # ------------------------------------------------------------ weights
    def add_weight(self, name: str, shape: tuple, initializer="glorot_uniform",
                   regularizer=None, constraint=None, trainable: bool = True) -> Weight:
        w = Weight(self, name, shape, initializer, regularizer, constraint, trainable)
        self.weights.append(w)
        return w

    @property
    def trainable_weights(self) -> list[Weight]:
        return [w for w in self.weights if w.trainable] if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[Weight]:
        return [w for w in self.weights if not (w.trainable and self.trainable)]

    def count_params(self) -> int:
        return sum(w.size for w in self.weights)

    def get_weights(self) -> list[np.ndarray]:
        return [w.value.copy() for w in self.weights]

    def set_weights(self, arrays) -> None:
        arrays = list(arrays)
        if len(arrays) != len(self.weights):
            raise ValueError(f"layer '{self.name}' has {len(self.weights)} weights "
                             f"({', '.join(w.name for w in self.weights)}), got {len(arrays)} arrays")
        for w, a in zip(self.weights, arrays):
            w.assign(a)

    # ------------------------------------------------------------ building and calling
    @property
    def where(self) -> str:
        """How error messages name this layer: ``Dense 'dense_1'``."""
        return f"{self.spec.type_name} '{self.name}'"

    def maybe_build(self, input_shape) -> None:
        if not self.built:
            self.input_shape = input_shape
            self.build(input_shape)
            self.output_shape = self.compute_output_shape(input_shape)
            self.built = True

    def __call__(self, inputs, training: bool = False, **kwargs):
        if kwargs:
            raise TypeError(f"{self.where}: unknown call arguments {sorted(kwargs)}")
        items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if all(isinstance(t, KerasTensor) for t in items):
            return self._call_symbolic(inputs)
        if any(isinstance(t, KerasTensor) for t in items):
            raise TypeError(f"{self.where}: mixes symbolic tensors and arrays in one call")
        return self._call_eager(inputs, training)

    def _call_symbolic(self, inputs):
        multi = isinstance(inputs, (list, tuple))
        tensors = list(inputs) if multi else [inputs]
        self._check_input_count(len(tensors))
        in_shape = [t.shape for t in tensors] if multi else tensors[0].shape
        if self.built:
            self._check_rebuild_shape(in_shape)
        self.maybe_build(in_shape)
        out_shape = self.compute_output_shape(in_shape)
        many = isinstance(out_shape, list)
        node = Node(self, tensors, out_shape if many else [out_shape], self.dtype)
        self._nodes.append(node)
        return node.outputs if many else node.outputs[0]

    def _call_eager(self, inputs, training):
        if isinstance(inputs, (list, tuple)):
            xs = [backend.as_float(x) for x in inputs]
            self.maybe_build([(None,) + x.shape[1:] for x in xs])
            return self.forward(xs, training)
        x = np.asarray(inputs)
        if x.dtype.kind == "f":
            x = backend.as_float(x)
        self.maybe_build((None,) + x.shape[1:])
        return self.forward(x, training)

    def _check_input_count(self, n: int) -> None:
        want = self.spec.n_inputs
        if want is None and n < 2:
            raise ValueError(f"{self.where}: needs a list of at least 2 inputs, got {n}")
        if want is not None and want >= 1 and n != want:
            raise ValueError(f"{self.where}: takes {want} input{'s' if want > 1 else ''}, got {n}")

    def _check_rebuild_shape(self, in_shape) -> None:
        def strip(s):
            return [tuple(x)[1:] for x in s] if isinstance(s, list) else tuple(s)[1:]
        if strip(in_shape) != strip(self.input_shape):
            raise ValueError(f"{self.where}: was built for input shape {self.input_shape}, "
                             f"now called on {in_shape}; a layer's weights fix its input shape")

    # ------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            cfg["batch_input_shape"] = list(self._batch_input_shape)
        for p in self.spec.params:
            cfg[p.name] = serialize_value(p, getattr(self, p.name))
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        cfg = dict(config)
        if "spec" not in cls.__dict__:     # a custom subclass: Keras's default, cls(**config)
            return cls(**cfg)
        allowed = {p.name for p in cls.spec.params} | {
            "name", "trainable", "dtype", "input_shape", "input_dim", "batch_input_shape",
            "batch_size", "batch_shape"} | set(getattr(cls, "extra_config", ()))
        return cls(**{k: v for k, v in cfg.items() if k in allowed})

    def __repr__(self) -> str:
        return f"<{self.spec.type_name} name={self.name!r}>"


def _input_shape_from_kwargs(where, input_shape, input_dim, batch_input_shape, batch_size,
                             batch_shape) -> tuple | None:
    """Keras's ways of giving the first layer's input shape, as one batch shape tuple."""
    given = [n for n, v in (("input_shape", input_shape), ("input_dim", input_dim),
                            ("batch_input_shape", batch_input_shape),
                            ("batch_shape", batch_shape)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"{where}: give only one of {', '.join(given)}")
    if input_dim is not None:
        input_shape = (input_dim,)
    if input_shape is not None:
        if isinstance(input_shape, int):
            input_shape = (input_shape,)
        return (batch_size,) + tuple(_check_dims(where, "input_shape", input_shape))
    bs = batch_input_shape if batch_input_shape is not None else batch_shape
    if bs is not None:
        bs = tuple(bs)
        return (bs[0],) + tuple(_check_dims(where, "batch_input_shape", bs[1:]))
    return None


def _check_dims(where: str, arg: str, dims) -> tuple:
    dims = tuple(dims)
    for d in dims:
        if d is not None and (not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d <= 0):
            raise ValueError(f"{where}: argument '{arg}' expects positive sizes or None, got {dims}")
    return tuple(None if d is None else int(d) for d in dims)


def serialize_layer(layer: Layer) -> dict[str, Any]:
    """A built-in layer's {"class_name", "config"}; a custom layer's Keras 3 form (with its
    module and ``registered_name``)."""
    if "spec" not in type(layer).__dict__:
        from engine.saving import serialize_keras_object
        return serialize_keras_object(layer)
    return {"class_name": layer.spec.type_name, "config": layer.get_config()}


def deserialize_layer(data: dict[str, Any], custom_objects=None) -> Layer:
    """A layer from its config: a custom class the program registered or passed in (by
    ``registered_name`` or class name), else a built-in layer type."""
    if not isinstance(data, dict) or "class_name" not in data:
        raise ValueError(f"a layer config must be a dict with 'class_name', got {data!r:.80}")
    from engine.saving.object_registration import find_custom_object
    name, registered = data["class_name"], data.get("registered_name")
    cls = find_custom_object(name, registered, custom_objects)
    if cls is None:
        try:
            cls = get_spec(name).cls
        except KeyError:
            cls = find_custom_object(name, registered, custom_objects, loose=True)
            if cls is None:
                raise
    return cls.from_config(data.get("config", {}))
