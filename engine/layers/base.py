"""The Layer base class (the symbolic tensors of the Functional API: engine/layers/symbolic.py).

A built-in layer type is one class with

* a ``@register(...)`` declaration (engine/registry.py): constructor parameters, defaults, help;
* ``build(input_shape)``: creates weights with :meth:`Layer.add_weight`;
* ``compute_output_shape(input_shape)``: shapes include the batch axis as ``None``;
* ``forward(x, training)``: computes the output and keeps what ``backward`` needs;
* ``backward(dy)``: returns ``dx`` and *writes* (never accumulates) every weight's ``grad``.

Multi-input layers get and return lists; a layer with several outputs (``return_state``)
returns a list from ``forward`` and receives a list (``None`` for an unused output) in
``backward``. Layers with ``uses_mask = True`` get ``forward(x, training, mask=...)``.

A *user layer* is a subclass that is not registered, as in Keras 3: ``__init__(**kwargs)``,
``build``, ``add_weight``, ``call(inputs, training=None, mask=None)``, ``get_config``. A class
that defines ``call`` runs it forward and is differentiated by the tape
(:mod:`engine.layers.calling`); its sublayers and weights are found from its attributes
(:mod:`engine.layers.tracking`). What a forward keeps for its backward belongs to the call:
:meth:`Layer.save_call_state` / :meth:`Layer.restore_call_state` let one layer be called
several times (shared layers).
"""
from __future__ import annotations

import contextlib
import re
import threading
from collections import defaultdict
from typing import Any

import numpy as np

from engine import backend
from engine.layers import calling, tracking
from engine.layers.symbolic import KerasTensor, Node, Shape  # noqa: F401  (their home)
from engine.layers.weight import MAX_WEIGHT_VALUES, Weight, shape_only_build  # noqa: F401
from engine.registry import LayerSpec, coerce, serialize_value


_name_counters: dict[str, int] = defaultdict(int)
_predict_state = threading.local()
# the keyword arguments Keras's base Layer takes
_BASE_KWARGS = ("name", "trainable", "dtype", "input_shape", "input_dim", "batch_input_shape",
                "batch_size", "batch_shape")


@contextlib.contextmanager
def predicting():
    """While ``model.predict`` / ``evaluate`` run a forward pass, no backward pass follows it:
    layers may then skip what only backward needs (the LSTM keeps no per-step states).
    ``forward(x, training=False)`` alone still keeps them (a custom loop may differentiate
    it)."""
    old = getattr(_predict_state, "on", False)
    _predict_state.on = True
    try:
        yield
    finally:
        _predict_state.on = old


def is_predicting() -> bool:
    """True inside :func:`predicting` (on this thread)."""
    return getattr(_predict_state, "on", False)


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


def is_user_layer(obj) -> bool:
    """True for a layer (class or instance) defined outside the registry: a Keras-style
    subclass of Layer (or of a built-in layer) without its own ``@register``."""
    cls = obj if isinstance(obj, type) else type(obj)
    return issubclass(cls, Layer) and "spec" not in cls.__dict__


class Layer:
    spec: LayerSpec            # set by @register
    supports_masking = False   # passes the incoming mask on unchanged
    uses_mask = False          # forward() takes mask=
    has_activation_output = False  # forward ends in self.activation (fused loss gradients)
    # backward's input gradient is a new array (or a view of one) that the layer keeps no
    # reference to, so the model may add the input's other gradients into it in place
    fresh_input_grad = False
    call_tensor_kwargs: tuple = ()  # call kwargs holding extra input tensors (initial_state)
    _runs_call = False         # forward/backward run call() (set for classes defining call)
    _call_params: frozenset = frozenset()
    _has_output_shape = True   # compute_output_shape is defined (else inferred by running)

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        if "spec" not in cls.__dict__:   # a user class: Keras 3's config from __init__ args
            obj.__dict__["_auto_config"] = tracking.auto_config(cls, args, kwargs)
        return obj

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "call" in cls.__dict__ and "forward" not in cls.__dict__:
            cls._runs_call = True
            cls.forward = calling.call_forward
            cls.backward = calling.call_backward
        if cls._runs_call:
            cls._call_params = calling.call_params(cls)
            cls.uses_mask = "mask" in cls._call_params
            cls._has_output_shape = cls.compute_output_shape is not Layer.compute_output_shape

    def __init__(self, *args, name: str | None = None, trainable: bool = True,
                 dtype: Any = None, input_shape=None, input_dim=None, batch_input_shape=None,
                 batch_size=None, batch_shape=None, **kwargs):
        spec = getattr(type(self), "spec", None)
        if spec is not None:
            where = f"{spec.type_name} '{name}'" if name else spec.type_name
            self._set_params(spec, where, args, kwargs)
        else:
            where = f"{type(self).__name__} '{name}'" if name else type(self).__name__
            self._set_base_kwargs(where, args, kwargs)
        self.name = name or unique_name(_snake(spec.type_name if spec is not None
                                               else type(self).__name__))
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"{where}: name must be a non-empty string, got {name!r}")
        self._trainable = bool(trainable)
        if isinstance(dtype, dict):   # Keras 3's DTypePolicy config
            dtype = (dtype.get("config") or {}).get("name", "float32")
        self.dtype = "float32" if dtype is None else str(getattr(dtype, "name", dtype))
        self._explicit_dtype = dtype is not None
        self._batch_input_shape = _input_shape_from_kwargs(
            where, input_shape, input_dim, batch_input_shape, batch_size, batch_shape)
        self._own_weights: list[Weight] = []
        self.built = False
        self.input_shape: Any = None
        self.output_shape: Any = None
        self._nodes: list[Node] = []
        self._layer_losses: list = []
        if spec is not None:
            self._validate()

    def _set_params(self, spec: LayerSpec, where: str, args, kwargs) -> None:
        """A registered layer's constructor arguments, checked by its declaration."""
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
        self.activity_regularizer = None

    def _set_base_kwargs(self, where: str, args, kwargs) -> None:
        """A user layer's base arguments (Keras 3's Layer.__init__ takes keywords only)."""
        if args:
            raise TypeError(f"{where}: Layer.__init__ takes keyword arguments only (name, "
                            f"trainable, dtype ...), got {len(args)} positional")
        from engine import regularizers
        self.activity_regularizer = regularizers.get(kwargs.pop("activity_regularizer", None))
        kwargs.pop("autocast", None)
        if kwargs:
            raise TypeError(f"{where}: unrecognized keyword arguments passed to "
                            f"{type(self).__name__}: {kwargs}; Layer takes "
                            f"{', '.join(_BASE_KWARGS)}, activity_regularizer, autocast")

    # ------------------------------------------------------------ overridable API
    def _validate(self) -> None:
        """Cross-parameter checks beyond what each Param's range says."""

    def build(self, input_shape: Shape) -> None:
        """Create the weights for ``input_shape`` (batch axis included, as ``None``)."""

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask if self.supports_masking else None

    def makes_masks(self) -> bool:
        """Whether this layer may output a mask where its input has none (Embedding with
        mask_zero, Masking, a class with its own compute_mask). A model none of whose layers
        does runs without mask bookkeeping, and may fuse layers (engine/models/functional.py)."""
        return type(self).compute_mask is not Layer.compute_mask

    def forward(self, x, training: bool = False):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dy):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def call(self, inputs, training=None, mask=None):
        """A built-in layer's computation (what ``super().call(x)`` in a subclass runs): its
        forward on arrays, one tape node on traced tensors."""
        if training is None:
            training = calling.current_training()
        return calling.run_builtin(self, inputs, bool(training), mask)

    # ------------------------------------------------------------ weights and sublayers
    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, constraint=None, aggregation="none",
                   overwrite_with_gradient=False, name=None) -> Weight:
        """Keras 3: ``add_weight(shape=..., initializer=..., name=...)`` (positional: shape,
        initializer, dtype). The engine's layers use ``add_weight(name, shape, initializer,
        regularizer, constraint, trainable)``."""
        if args and isinstance(args[0], str):
            legacy = ("name", "shape", "initializer", "regularizer", "constraint", "trainable")
            given = dict(zip(legacy, args))
            name, shape = given["name"], given.get("shape", shape)
            initializer = given.get("initializer", initializer or "glorot_uniform")
            regularizer = given.get("regularizer", regularizer)
            constraint = given.get("constraint", constraint)
            trainable = given.get("trainable", trainable)
        elif args:
            if len(args) > 3:
                raise TypeError(f"{self.where}: add_weight takes at most 3 positional "
                                f"arguments (shape, initializer, dtype), got {len(args)}")
            shape, initializer, dtype = (list(args) + [initializer, dtype][len(args) - 1:])[:3] \
                if len(args) > 1 else (args[0], initializer, dtype)
        shape = () if shape is None else tuple(int(d) for d in shape)
        if initializer is None:
            floating = dtype is None or np.dtype(getattr(dtype, "name", dtype)).kind == "f"
            initializer = "glorot_uniform" if floating else "zeros"
        if name is None:
            taken = {w.name for w in self._own_weights}
            name = "variable" + ("" if "variable" not in taken else f"_{len(taken)}")
        w = Weight(self, name, shape, initializer, regularizer, constraint, bool(trainable),
                   dtype=dtype)
        self._own_weights.append(w)
        return w

    add_variable = add_weight

    @property
    def weights(self) -> list[Weight]:
        if "spec" in type(self).__dict__:
            return self._own_weights
        return self._tracked_weights()

    def _tracked_weights(self) -> list[Weight]:
        """A user layer's weights as Keras tracks them: its own (trainable first), those held
        in attributes, then its sublayers'."""
        own = sorted(self._own_weights, key=lambda w: not w.trainable)
        for w in tracking.attribute_items(self, Weight):
            if w.layer is None:           # a keras.Variable made outside add_weight: adopt it
                w.layer = self
            if w.layer is self and w not in own:
                own.append(w)
        seen = {id(w) for w in own}
        for sub in self._sublayers():
            for w in sub.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    own.append(w)
        return own

    @weights.setter
    def weights(self, value: list[Weight]) -> None:
        self._own_weights = list(value)

    variables = weights

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for sub in self._sublayers():
            sub.trainable = value

    @property
    def trainable_weights(self) -> list[Weight]:
        return [w for w in self.weights if w.trainable and w.layer.trainable] \
            if self.trainable else []

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> list[Weight]:
        train = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in train]

    non_trainable_variables = non_trainable_weights

    def _sublayers(self) -> list[Layer]:
        """Layers held as attributes (a user layer's blocks; a wrapper's inner layers)."""
        if "spec" in type(self).__dict__ and not self.__dict__.get("_inner_layers"):
            return []
        return tracking.attribute_items(self, Layer)

    @property
    def layers(self) -> list[Layer]:
        return self._sublayers()

    def count_params(self) -> int:
        return sum(w.size for w in self.weights)

    def get_weights(self) -> list[np.ndarray]:
        return [w.value.copy() for w in self.weights]

    def set_weights(self, arrays) -> None:
        arrays = list(arrays)
        weights = self.weights
        if len(arrays) != len(weights):
            raise ValueError(f"layer '{self.name}' has {len(weights)} weights "
                             f"({', '.join(w.name for w in weights)}), got {len(arrays)} arrays")
        for w, a in zip(weights, arrays):
            w.assign(a)

    # ------------------------------------------------------------ losses
    def add_loss(self, loss) -> None:
        """Add ``loss`` (a scalar, usually computed from this call's tensors) to the training
        objective; ``layer.losses`` lists this call's."""
        from engine.ops.tape import active_tape
        self.__dict__.setdefault("_layer_losses", []).append(loss)
        tape = active_tape()
        if tape is not None:
            tape.losses.append(loss)

    @property
    def losses(self) -> list:
        """The losses added during the last call (this layer's and its sublayers') and the
        weight regularization penalties."""
        out = []
        for layer in tracking.walk_layers(self):
            out.extend(layer.__dict__.get("_layer_losses", []))
            for w in layer._own_weights:
                if w.regularizer is not None and w.trainable:
                    out.append(np.float32(w.regularizer(w.value)))
        return out

    # ------------------------------------------------------------ per-call state
    def save_call_state(self):
        """What this call's ``backward`` needs: a shallow copy of the attributes of this layer
        and of the layers inside it (see DESIGN: per-call state belongs to the call)."""
        return [(layer, layer.__dict__.copy()) for layer in tracking.walk_layers(self)]

    def restore_call_state(self, state) -> None:
        for layer, attrs in state:
            layer.__dict__.update(attrs)

    # ------------------------------------------------------------ building and calling
    @property
    def compute_dtype(self) -> str:
        """The dtype a user layer's inputs and outputs are cast to: its ``dtype`` if given,
        else the engine's float dtype (float64 in gradient checks)."""
        return self.dtype if self.__dict__.get("_explicit_dtype") else backend.floatx().name

    @property
    def type_name(self) -> str:
        """The registered type name (``Dense``), or a user layer's class name."""
        return self.spec.type_name if "spec" in type(self).__dict__ else type(self).__name__

    @property
    def where(self) -> str:
        """How error messages name this layer: ``Dense 'dense_1'``."""
        return f"{self.type_name} '{self.name}'"

    def maybe_build(self, input_shape) -> None:
        if not self.built:
            self.input_shape = input_shape
            if self._runs_call:       # a layer with call(): its output shape by running it
                calling.build_user_layer(self, input_shape)
                self.output_shape = calling.output_shape_for(self, input_shape)
                return
            self.build(input_shape)
            self.output_shape = self.compute_output_shape(input_shape)
            self.built = True

    def build_from_config(self, config: dict) -> None:
        """Build from a saved ``build_config`` ({"input_shape": ...}) before loading weights."""
        shape = (config or {}).get("input_shape")
        if shape is not None and not self.built:
            self.maybe_build(_shape_from_json(shape))

    def get_build_config(self) -> dict | None:
        shape = self.__dict__.get("_build_input_shape", self.input_shape)
        return None if shape is None else {"input_shape": _shape_to_json(shape)}

    def __call__(self, *args, **kwargs):
        return calling.call_layer(self, args, kwargs)

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
        from engine.layers.masking import attach_symbolic
        attach_symbolic(self, tensors, node.outputs)
        return node.outputs if many else node.outputs[0]

    def _eager_inputs(self, inputs):
        if isinstance(inputs, (list, tuple)):
            return [_as_layer_input(x) for x in inputs]
        return _as_layer_input(inputs)

    def _call_eager(self, inputs, training):
        xs = self._eager_inputs(inputs)
        if isinstance(xs, list):
            self.maybe_build([(None,) + x.shape[1:] for x in xs])
        else:
            self.maybe_build((None,) + xs.shape[1:])
        return self.forward(xs, training)

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

    # ------------------------------------------------------------ graph connections
    def _single_node(self, what: str) -> Node:
        if not self._nodes:
            raise AttributeError(f"{self.where} has never been called on symbolic tensors, so "
                                 f"it has no defined {what}")
        if len(self._nodes) > 1:
            raise AttributeError(f"{self.where} has been called {len(self._nodes)} times (a "
                                 f"shared layer), so it has several {what}s; use "
                                 f"get_{what}_at(node_index)")
        return self._nodes[0]

    @property
    def input(self):
        """The symbolic input of this layer's (only) call."""
        node = self._single_node("input")
        return node.inputs[0] if len(node.inputs) == 1 else list(node.inputs)

    @property
    def output(self):
        """The symbolic output of this layer's (only) call."""
        node = self._single_node("output")
        if node.out_template is not None:
            return calling.fill(node.out_template, node.outputs)
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    def get_input_at(self, node_index: int):
        node = self._nodes[node_index]
        return node.inputs[0] if len(node.inputs) == 1 else list(node.inputs)

    def get_output_at(self, node_index: int):
        node = self._nodes[node_index]
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    # ------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            cfg["batch_input_shape"] = list(self._batch_input_shape)
        if "spec" not in type(self).__dict__ and not hasattr(type(self), "spec"):
            if type(self).get_config is Layer.get_config:
                auto = self.__dict__.get("_auto_config")
                if auto is None:
                    raise NotImplementedError(
                        f"{self.where}: its __init__ takes arguments that are not plain values "
                        f"(or *args), so it must define get_config() returning them, e.g. "
                        f"config = super().get_config(); config.update(units=self.units)")
                cfg.update(auto)
            return cfg
        for p in self.spec.params:
            cfg[p.name] = serialize_value(p, getattr(self, p.name))
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        cfg = dict(config)
        if not hasattr(cls, "spec"):   # a user layer: Keras's cls(**config)
            return cls(**cfg)
        allowed = {p.name for p in cls.spec.params} | set(_BASE_KWARGS) | \
            set(getattr(cls, "extra_config", ()))
        if is_user_layer(cls):         # a subclass of a built-in may add its own arguments
            allowed |= set(cfg) - {"batch_input_shape"}
        return cls(**{k: v for k, v in cfg.items() if k in allowed})

    def __repr__(self) -> str:
        return f"<{self.type_name} name={self.name!r}>"


def _as_layer_input(x):
    x = np.asarray(x)
    return backend.as_float(x) if x.dtype.kind == "f" else x


def _shape_to_json(shape):
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [_shape_to_json(s) for s in shape]
    if isinstance(shape, dict):
        return {k: _shape_to_json(v) for k, v in shape.items()}
    return [None if d is None else int(d) for d in shape]


def _shape_from_json(shape):
    if isinstance(shape, dict):
        return {k: _shape_from_json(v) for k, v in shape.items()}
    if isinstance(shape, list) and shape and isinstance(shape[0], list):
        return [_shape_from_json(s) for s in shape]
    return tuple(shape)


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
