"""What happens when a layer is called: ``layer(x)`` on symbolic tensors, traced tensors or arrays.

=====================  =======================================  ==================================
called on              built-in layer (forward/backward)        layer with ``call`` (user's)
=====================  =======================================  ==================================
KerasTensors           a Node of the Functional graph            a Node; built, and its output
                                                                 shape inferred by running call
                                                                 on zero batches
traced tensors (a      ONE tape node: its own kernels forward,   ``call`` runs inline; its ops
tape records)          its ``backward`` as the node's VJP        record on the same tape
arrays                 ``forward``                               ``call`` on arrays
=====================  =======================================  ==================================

A layer with ``call`` used as a step of a Functional model runs :func:`call_forward` /
:func:`call_backward`: the call recorded on a local tape while training, replayed backwards.
``training`` not passed to a call is the caller's (``fit``: True), as in Keras.
"""
from __future__ import annotations

import inspect
import threading
from typing import Any

import numpy as np

from engine import backend
from engine.ops.tape import Tape, Tensor, active_tape, as_data, paused

_ctx = threading.local()


# ---------------------------------------------------------------------- call context
def _stack() -> list:
    s = getattr(_ctx, "stack", None)
    if s is None:
        s = _ctx.stack = []
    return s


def current_training() -> bool:
    """``training`` of the innermost layer call in progress (False outside any call)."""
    s = _stack()
    return bool(s[-1]) if s else False


class _CallScope:
    def __init__(self, layer, training: bool):
        self.layer, self.training = layer, training

    def __enter__(self):
        stack = _stack()
        if not stack:                      # a top-level call: layer.losses start afresh
            clear_losses(self.layer)
        stack.append(self.training)

    def __exit__(self, *exc):
        _stack().pop()


def clear_losses(layer) -> None:
    from engine.layers.tracking import walk_layers
    for sub in walk_layers(layer):
        sub.__dict__["_layer_losses"] = []


# ---------------------------------------------------------------------- structures
class _Slot:
    __slots__ = ("i",)

    def __init__(self, i: int):
        self.i = i

    def __repr__(self) -> str:
        return f"<input {self.i}>"


def flatten(obj, is_leaf) -> tuple[Any, list]:
    """(template, leaves): ``obj`` (nested lists, tuples, dicts) with each leaf replaced by a
    placeholder, and the leaves in order."""
    leaves: list = []

    def walk(o):
        if is_leaf(o):
            leaves.append(o)
            return _Slot(len(leaves) - 1)
        if isinstance(o, (list, tuple)):
            return type(o)(walk(v) for v in o)
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items()}
        return o
    return walk(obj), leaves


def fill(template, values: list):
    """The structure of ``template`` with its placeholders replaced by ``values``."""
    if isinstance(template, _Slot):
        return values[template.i]
    if isinstance(template, (list, tuple)):
        return type(template)(fill(v, values) for v in template)
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    return template


def _is_keras_tensor(o) -> bool:
    from engine.layers.base import KerasTensor
    return isinstance(o, KerasTensor)


def is_array_like(o) -> bool:
    return isinstance(o, (Tensor, np.ndarray, np.generic)) or getattr(o, "_is_weight", False)


def _to_input(x, dtype: str):
    """An eager input as the layer's float dtype (as Keras autocasts); ints stay ints."""
    if isinstance(x, Tensor) or getattr(x, "_is_weight", False):
        return x
    a = np.asarray(x)
    if a.dtype.kind == "f" and a.dtype != np.dtype(dtype) and dtype.startswith("float"):
        return a.astype(dtype)
    return a


def _shape_of(x) -> tuple:
    return tuple(np.shape(as_data(x)))


def shapes_like(obj, shape_of=_shape_of):
    """The shapes of ``obj``'s tensors in its structure (what ``build`` gets)."""
    if isinstance(obj, (list, tuple)):
        return type(obj)(shapes_like(v, shape_of) for v in obj)
    if isinstance(obj, dict):
        return {k: shapes_like(v, shape_of) for k, v in obj.items()}
    return shape_of(obj)


# ---------------------------------------------------------------------- entry point
def call_layer(layer, args: tuple, kwargs: dict):
    """``layer(*args, **kwargs)``."""
    if not args:
        if "inputs" not in kwargs:
            raise TypeError(f"{layer.where}: called without inputs")
        args = (kwargs.pop("inputs"),)
    training = kwargs.pop("training", None)
    template, symbolic = flatten((args, kwargs), _is_keras_tensor)
    if symbolic:
        if len(symbolic) != len(flatten((args, kwargs), _is_tensorish)[1]):
            raise TypeError(f"{layer.where}: mixes symbolic tensors and arrays in one call")
        if layer._runs_call:
            return _call_symbolic_user(layer, args, kwargs, template, symbolic)
        return _call_symbolic_builtin(layer, args, kwargs)
    if training is None:
        training = current_training()
    if layer._runs_call:
        return run_call(layer, args, kwargs, bool(training))
    inputs = _builtin_inputs(layer, args, kwargs)
    mask = kwargs.get("mask")
    with _CallScope(layer, bool(training)):
        return run_builtin(layer, inputs, bool(training), mask)


def _is_tensorish(o) -> bool:
    return _is_keras_tensor(o) or is_array_like(o)


def _builtin_inputs(layer, args, kwargs):
    extra = set(kwargs) - {"mask"} - set(layer.call_tensor_kwargs)
    if len(args) > 1 or extra:
        raise TypeError(f"{layer.where}: unknown call arguments "
                        f"{sorted(extra) if extra else list(args[1:])}")
    inputs = args[0]
    more = [kwargs[k] for k in layer.call_tensor_kwargs if kwargs.get(k) is not None]
    if more:   # RNN initial_state=[h, c]: extra inputs after the sequence
        states = [v for m in more for v in (m if isinstance(m, (list, tuple)) else [m])]
        inputs = [inputs] + states
    return inputs


# ---------------------------------------------------------------------- built-in layers
def run_builtin(layer, inputs, training: bool, mask=None):
    """A built-in layer's forward on arrays, or ONE tape node when a tape records and the
    layer is differentiated (a traced input, or trainable weights)."""
    tape = active_tape()
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if tape is None or not (any(tape.slot_of(t) >= 0 for t in items)
                            or any(w.trainable for w in layer.trainable_weights)):
        if any(isinstance(t, Tensor) or getattr(t, "_is_weight", False) for t in items):
            inputs = [as_data(t) for t in items] if isinstance(inputs, (list, tuple)) \
                else as_data(inputs)
        if layer.uses_mask and mask is not None:
            layer.maybe_build(_builtin_shapes(inputs))
            return layer.forward(layer._eager_inputs(inputs), training, mask=as_data(mask))
        return layer._call_eager(inputs, training)
    return record_layer_call(tape, layer, inputs, training, mask)


def _builtin_shapes(inputs):
    if isinstance(inputs, (list, tuple)):
        return [(None,) + _shape_of(x)[1:] for x in inputs]
    return (None,) + _shape_of(inputs)[1:]


def record_layer_call(tape: Tape, layer, inputs, training: bool, mask=None):
    """Record ``layer``'s call as one node: forward with its own kernels; the VJP restores this
    call's state, runs ``layer.backward`` and ADDS its weight gradients to the tape's."""
    multi = isinstance(inputs, (list, tuple))
    items = list(inputs) if multi else [inputs]
    datas = layer._eager_inputs([as_data(t) for t in items] if multi else as_data(inputs))
    layer.maybe_build(_builtin_shapes(datas))
    traced = any(tape.slot_of(t) >= 0 for t in items)
    if hasattr(layer, "need_dx"):
        layer.need_dx = traced
    if hasattr(layer, "fused_output_grad"):
        layer.fused_output_grad = False
    if layer.uses_mask and mask is not None:
        y = layer.forward(datas, training, mask=as_data(mask))
    else:
        y = layer.forward(datas, training)
    state = layer.save_call_state()
    multi_out = isinstance(y, list)
    weights = [w for w in layer.weights if w.trainable and w.layer.trainable]

    def vjp(g, need):
        layer.restore_call_state(state)
        dx = layer.backward(g)
        for w in weights:
            tape.add_weight_grad(w, w.grad)
        if dx is None:
            return (None,) * len(items)
        return tuple(dx) if multi else (dx,)

    slots = tuple(tape.slot_of(t) for t in items)
    outs = tape.add_node(y if multi_out else [y], slots, vjp)
    return outs if multi_out else outs[0]


def _call_symbolic_builtin(layer, args, kwargs):
    return layer._call_symbolic(_builtin_inputs(layer, args, kwargs))


# ---------------------------------------------------------------------- layers with call()
def _call_kwargs(layer, kwargs: dict, training: bool, mask) -> dict:
    kw = dict(kwargs)
    params = layer._call_params
    if "training" in params:
        kw["training"] = training
    if "mask" in params:
        if mask is not None:
            kw["mask"] = mask
    else:
        kw.pop("mask", None)
    return kw


def run_call(layer, args, kwargs, training: bool, mask=None):
    """Run a layer's ``call`` on arrays or traced tensors: builds it first, converts float
    inputs to its dtype, passes ``training``/``mask`` where its signature has them."""
    args = (_convert_inputs(args[0], layer.compute_dtype),) + tuple(args[1:])
    if not layer.built:
        build_user_layer(layer, shapes_like(args[0]))
    kw = _call_kwargs(layer, kwargs, training, mask if mask is not None else kwargs.get("mask"))
    with _CallScope(layer, training):
        out = layer.call(*args, **kw)
    out = _cast_outputs(out, layer.compute_dtype)
    if layer.output_shape is None:
        layer.output_shape = shapes_like(out, lambda t: (None,) + _shape_of(t)[1:])
    if layer.activity_regularizer is not None:
        from engine.ops import reductions
        for t in flatten(out, is_array_like)[1]:
            layer.add_loss(reductions.sum(layer.activity_regularizer(t))
                           / max(_shape_of(t)[0] if _shape_of(t) else 1, 1))
    return out


def _convert_inputs(obj, dtype: str):
    if isinstance(obj, (list, tuple)):
        return type(obj)(_convert_inputs(v, dtype) for v in obj)
    if isinstance(obj, dict):
        return {k: _convert_inputs(v, dtype) for k, v in obj.items()}
    if isinstance(obj, (np.ndarray, Tensor, int, float)) or getattr(obj, "_is_weight", False):
        return _to_input(obj, dtype)
    return obj


def _cast_outputs(out, dtype: str):
    if not dtype.startswith("float"):
        return out

    def cast(t):
        d = np.asarray(as_data(t)).dtype if not isinstance(t, Tensor) else t.dtype
        if d.kind == "f" and d != np.dtype(dtype):
            from engine.ops.core import cast as op_cast
            return op_cast(t, dtype)
        return t
    template, leaves = flatten(out, lambda o: isinstance(o, (Tensor, np.ndarray)))
    return fill(template, [cast(t) for t in leaves]) if leaves else out


def build_user_layer(layer, input_shape) -> None:
    """``build(input_shape)`` once, remembering the shape for the layer's build config."""
    if not getattr(type(layer).build, "builds_by_calling", False):  # (a Model's build calls)
        layer.build(input_shape)
    layer._build_input_shape = input_shape
    layer.input_shape = input_shape
    layer.built = True


def _symbolic_shape(t) -> tuple:
    return tuple(t.shape)


def _call_symbolic_user(layer, args, kwargs, template, tensors):
    from engine.layers.base import Node
    first_shapes = shapes_like(args[0], _symbolic_shape)
    if not layer.built:
        build_user_layer(layer, first_shapes)
    out_template, shapes, dtypes = infer_outputs(layer, template, tensors, first_shapes)
    simple = len(args) == 1 and not kwargs
    node = Node(layer, list(tensors), shapes, dtypes, template=None if simple else template,
                out_template=None if isinstance(out_template, _Slot) else out_template)
    layer._nodes.append(node)
    layer.output_shape = fill(out_template, shapes)
    return fill(out_template, node.outputs)


def infer_outputs(layer, template, tensors, input_shapes):
    """(output template, shapes with None for unknown sizes, dtypes): from the layer's own
    ``compute_output_shape`` when it has one, else by running ``call`` on zero batches twice
    (unknown sizes 2, then 3: a size that follows them is unknown). Weights and losses are
    left as they were."""
    if layer._has_output_shape:
        shape = layer.compute_output_shape(input_shapes)
        out_template, shapes = flatten(shape, _is_shape)
        return out_template, [tuple(s) for s in shapes], [layer.dtype] * len(shapes)
    runs = []
    saved = [(w, w.value.copy()) for w in layer.weights]
    try:
        for size in (2, 3):
            arrays = [np.zeros(tuple(size if d is None else d for d in t.shape),
                               dtype=np.dtype(t.dtype) if t.dtype != "string" else np.float32)
                      for t in tensors]
            args, kwargs = fill(template, arrays)
            with paused():
                try:
                    out = run_call(layer, args, kwargs, training=False)
                except Exception as e:
                    raise type(e)(f"{layer.where}: could not infer its output shape by running "
                                  f"call() on zeros of shape {[a.shape for a in arrays]}: {e}. "
                                  f"Define compute_output_shape(input_shape) for it") from e
            runs.append(flatten(out, is_array_like))
    finally:
        for w, v in saved:
            w.value[...] = v
        clear_losses(layer)
    (out_template, first), (_, second) = runs
    shapes, dtypes = [], []
    for a, b in zip(first, second):
        sa, sb = _shape_of(a), _shape_of(b)
        if len(sa) != len(sb):
            raise ValueError(f"{layer.where}: the rank of its output depends on the batch "
                             f"size ({sa} vs {sb}); define compute_output_shape")
        shapes.append(tuple(d if d == e else None for d, e in zip(sa, sb)))
        dtypes.append(np.asarray(as_data(a)).dtype.name)
    return out_template, shapes, dtypes


def output_shape_for(layer, input_shape):
    """The output shape(s) of ``layer`` called on one input of ``input_shape`` (a list of
    shapes for several inputs), in the structure ``call`` returns."""
    from engine.layers.base import KerasTensor
    multi = isinstance(input_shape, list)
    shapes = input_shape if multi else [input_shape]
    tensors = [KerasTensor(tuple(s)) for s in shapes]
    template, _ = flatten(((tensors if multi else tensors[0],), {}), _is_keras_tensor)
    out_template, out_shapes, _ = infer_outputs(layer, template, tensors, input_shape)
    return fill(out_template, out_shapes)


def _is_shape(o) -> bool:
    return isinstance(o, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in o)


# ---------------------------------------------------------------------- as a Plan step
def call_forward(layer, x, training: bool = False, mask=None, template=None):
    """A layer with ``call`` as a step of a Functional model (or a subclassed model run by
    ``fit``): ``x`` its input (an array, a list, a dict ...; with ``template``, the list of the
    node's inputs); returns its output array, or a list for any other output structure. While
    training, the call is recorded on a local tape kept with this call's state for
    :func:`call_backward`."""
    in_template, inputs = flatten(x, is_array_like)
    record = None
    if training:
        tape = Tape()
        with tape:
            leaves = [tape.watch(a) if np.asarray(a).dtype.kind == "f" else a for a in inputs]
            args, kwargs = _step_arguments(in_template, template, leaves)
            out = run_call(layer, args, kwargs, True, mask)
        out_template, outs = flatten(out, is_array_like)
        record = (tape, in_template, leaves, outs)
        losses = tape.losses
    else:
        args, kwargs = _step_arguments(in_template, template, inputs)
        with paused():
            out = run_call(layer, args, kwargs, False, mask)
        out_template, outs = flatten(out, is_array_like)
        losses = layer.__dict__.get("_layer_losses", [])
    layer._call_record = None if record is None else record + (list(losses),)
    layer._call_losses = [float(np.sum(as_data(v))) for v in losses]
    datas = [np.asarray(as_data(o)) for o in outs]
    return datas[0] if isinstance(out_template, _Slot) else datas


def _step_arguments(in_template, template, values):
    if template is None:
        return (fill(in_template, values),), {}
    return fill(template, values)


def call_backward(layer, dy):
    """Replay the tape of this call's :func:`call_forward` (the Plan restores a shared layer's
    state first) from ``dy`` (and the call's ``add_loss`` terms); writes the layer's weight
    gradients, returns the input gradient(s) in the input's structure."""
    record = layer.__dict__.get("_call_record")
    if record is None:
        raise RuntimeError(f"{layer.where}: backward without a training forward pass")
    tape, in_template, leaves, outs, losses = record
    dys = dy if isinstance(dy, list) else [dy]
    roots = [(o, g) for o, g in zip(outs, dys) if g is not None]
    roots += [(v, np.ones(np.shape(as_data(v)))) for v in losses]
    grads = tape.backward(roots, leaves)
    write_weight_grads(layer.weights, tape)
    return fill(in_template, grads)


def write_weight_grads(weights, tape: Tape) -> None:
    """Each trainable weight's ``grad`` := what the tape collected for it (0 if nothing)."""
    for w in weights:
        if not (w.trainable and w.layer.trainable):
            continue
        entry = tape.weight_grads.get(id(w))
        if entry is None:
            w.grad[...] = 0
        else:
            w.grad[...] = entry[1]


def call_params(cls) -> frozenset:
    """The parameter names of ``cls.call`` (cached by the caller)."""
    try:
        return frozenset(inspect.signature(cls.call).parameters)
    except (TypeError, ValueError):
        return frozenset()


def default_dtype() -> str:
    return backend.floatx().name
