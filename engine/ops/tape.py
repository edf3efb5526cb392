"""Reverse-mode differentiation for ``engine.ops``: the tape and the traced tensors it records.

While a :class:`Tape` records (``with Tape() as tape:``), an op whose inputs include a traced
:class:`Tensor` of that tape, or a trainable :class:`~engine.layers.base.Weight`, computes its
result with numpy as usual, wraps it in a new Tensor and appends one node to the tape: the slots
of its traced inputs, the slot(s) of its output(s) and its vector-Jacobian product. Without a
recording tape (inference, eager code) ops return plain numpy arrays and record nothing, so a
model made only of built-in layers never touches this module.

``tape.backward(roots)`` walks the nodes in reverse recording order (a topological order, since
an op can only read tensors recorded before it) and returns the gradients of the tensors asked
for; the gradients of weights collect in ``tape.weight_grads`` — from weights used by ops
directly and from built-in layers recorded as one node each (:func:`record_layer_call`), which
*add* their weight gradients, so one layer called several times sums its contributions.

A node's ``vjp(g, need)`` gets the output gradient ``g`` (a list for multi-output nodes, with
None for an output that received none) and ``need``, one bool per input telling which input
gradients are wanted; it returns one gradient (or None) per input, in the input's shape.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any, Self

import numpy as np

from engine import backend
from engine.ops.operators import ArrayOperators

_local = threading.local()


def active_tape() -> Tape | None:
    """The innermost recording tape of this thread, or None."""
    stack = getattr(_local, "tapes", None)
    return stack[-1] if stack else None


@contextlib.contextmanager
def paused():
    """Run ops without recording (what ``stop_gradient`` and custom gradients need)."""
    stack = getattr(_local, "tapes", None)
    if stack is None:
        stack = _local.tapes = []
    stack.append(None)
    try:
        yield
    finally:
        stack.pop()


class Tensor(ArrayOperators):
    """A value recorded on a tape: numpy ``data`` plus its place (``slot``) on the ``tape``.

    Supports Python's operators (each one an op, so recorded), indexing, ``.shape``/``.dtype``/
    ``.ndim``/``.T``; ``np.asarray(t)`` and ``t.numpy()`` give the data (without gradient)."""

    __slots__ = ("data", "slot", "tape")
    __array_priority__ = 1000

    def __init__(self, data: np.ndarray, tape: Tape, slot: int):
        self.data = data
        self.tape = tape
        self.slot = slot

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def numpy(self) -> np.ndarray:
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def __len__(self) -> int:
        return len(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __repr__(self) -> str:
        return f"<Tensor shape={self.data.shape} dtype={self.data.dtype}>\n{self.data!r}"

    __hash__ = object.__hash__


class _Node:
    __slots__ = ("inputs", "need", "outputs", "vjp")

    def __init__(self, inputs: tuple, outputs: tuple, vjp: Callable, need: tuple):
        self.inputs = inputs      # slot per op input, -1 for a constant
        self.outputs = outputs    # slot per output
        self.vjp = vjp
        self.need = need          # bool per op input: is it traced


class Tape:
    """Records ops for reverse-mode differentiation; a context manager (``with Tape() as t``).

    Tapes nest: ops record on the innermost one; a Tensor of an outer tape met by an op while an
    inner tape records counts as a constant there."""

    def __init__(self):
        self.nodes: list[_Node] = []
        self.n_slots = 0
        self._weight_leaf: dict[int, Tensor] = {}     # id(weight) → its leaf tensor
        self._leaf_weight: dict[int, Any] = {}        # slot → weight
        self.weight_grads: dict[int, list] = {}       # id(weight) → [weight, gradient]
        self.losses: list = []                        # add_loss() terms recorded meanwhile

    def __enter__(self) -> Self:
        stack = getattr(_local, "tapes", None)
        if stack is None:
            stack = _local.tapes = []
        stack.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _local.tapes.pop()

    # ------------------------------------------------------------------ recording
    def _new_slot(self) -> int:
        self.n_slots += 1
        return self.n_slots - 1

    def watch(self, x) -> Tensor:
        """A new leaf tensor holding ``x`` (an array): its gradient can be asked for."""
        if isinstance(x, Tensor) and x.tape is self:
            return x
        return Tensor(np.asarray(as_data(x)), self, self._new_slot())

    def weight_leaf(self, w) -> Tensor:
        """The leaf tensor standing for weight ``w`` on this tape (one per weight)."""
        leaf = self._weight_leaf.get(id(w))
        if leaf is None:
            leaf = Tensor(w.value, self, self._new_slot())
            self._weight_leaf[id(w)] = leaf
            self._leaf_weight[leaf.slot] = w
        return leaf

    def slot_of(self, x) -> int:
        """The slot of ``x`` if it is traced on this tape (a trainable weight becomes a leaf),
        else -1 (a constant)."""
        if isinstance(x, Tensor):
            return x.slot if x.tape is self else -1
        if getattr(x, "_is_weight", False) and x.trainable and \
                (x.layer is None or x.layer.trainable):
            return self.weight_leaf(x).slot
        return -1

    def add_node(self, ys: Sequence[np.ndarray], in_slots: tuple, vjp: Callable) -> list[Tensor]:
        outs = [Tensor(y, self, self._new_slot()) for y in ys]
        need = tuple(s >= 0 for s in in_slots)
        self.nodes.append(_Node(in_slots, tuple(t.slot for t in outs), vjp, need))
        return outs

    def add_weight_grad(self, w, g: np.ndarray) -> None:
        """Add ``g`` to the gradient collected for weight ``w`` (copied on first use)."""
        entry = self.weight_grads.get(id(w))
        if entry is None:
            self.weight_grads[id(w)] = [w, np.array(g, copy=True)]
        else:
            entry[1] = entry[1] + g

    # ------------------------------------------------------------------ differentiation
    def backward(self, roots: Sequence[tuple[Any, Any]], wrt: Sequence[Any] = ()) -> list:
        """Propagate ``roots`` = [(tensor, gradient of the objective w.r.t. it), ...] back
        through the tape. Returns the gradients of the tensors in ``wrt`` (None where the
        objective does not depend on them); weight gradients collect in ``weight_grads``."""
        grads: dict[int, np.ndarray] = {}
        for t, g in roots:
            s = self.slot_of(t)
            if s < 0 or g is None:
                continue
            g = np.broadcast_to(np.asarray(g, dtype=t.dtype), t.shape)
            grads[s] = g if s not in grads else grads[s] + g
        keep = {self.slot_of(t) for t in wrt}
        for node in reversed(self.nodes):
            outs = node.outputs
            if len(outs) == 1:
                g = grads.get(outs[0]) if outs[0] in keep else grads.pop(outs[0], None)
                if g is None:
                    continue
            else:
                g = [grads.get(s) if s in keep else grads.pop(s, None) for s in outs]
                if all(x is None for x in g):
                    continue
            in_grads = node.vjp(g, node.need)
            for s, gi in zip(node.inputs, in_grads):
                if s < 0 or gi is None:
                    continue
                grads[s] = gi if s not in grads else grads[s] + gi
        for slot, w in self._leaf_weight.items():
            g = grads.get(slot)
            if g is not None:
                self.add_weight_grad(w, g)
        return [grads.get(self.slot_of(t)) for t in wrt]

    def gradient(self, target, sources, output_gradient=None):
        """d target / d sources (``target`` a scalar tensor unless ``output_gradient`` given);
        a single source gives a single gradient, a list a list."""
        single = not isinstance(sources, (list, tuple))
        srcs = [sources] if single else list(sources)
        g = np.ones(np.shape(as_data(target))) if output_gradient is None else output_gradient
        out = self.backward([(target, g)], srcs)
        out = [np.zeros(np.shape(as_data(s)), as_data(s).dtype) if g is None else np.asarray(g)
               for s, g in zip(srcs, out)]
        return out[0] if single else out


# ---------------------------------------------------------------------- helpers for the ops
def as_data(x):
    """The numpy value of ``x``: a Tensor's data, a Weight's value; arrays and Python scalars
    as they are (scalars stay weak, so ``x * 0.5`` keeps float32); lists become arrays, float
    lists in the engine's float dtype (as Keras converts them)."""
    if isinstance(x, Tensor):
        return x.data
    if getattr(x, "_is_weight", False):
        return x.value
    if isinstance(x, (np.ndarray, np.generic, int, float, bool)):
        return x
    if isinstance(x, (list, tuple)):
        a = np.asarray([as_data(v) for v in x])
        return a.astype(backend.floatx()) if a.dtype == np.float64 else a
    return np.asarray(x)


def is_traced(x) -> bool:
    tape = active_tape()
    return tape is not None and tape.slot_of(x) >= 0


def record(y: np.ndarray, inputs: Sequence[Any], vjp: Callable):
    """Return ``y``, recorded as the output of an op on ``inputs`` when one of them is traced
    on the active tape (then as a Tensor), else as it is."""
    tape = active_tape()
    if tape is None:
        return y
    slots = tuple(tape.slot_of(x) for x in inputs)
    if all(s < 0 for s in slots):
        return y
    return tape.add_node([np.asarray(y)], slots, vjp)[0]


def record_multi(ys: Sequence[np.ndarray], inputs: Sequence[Any], vjp: Callable) -> list:
    """Several outputs of one op (split, unstack, a layer with several outputs)."""
    tape = active_tape()
    if tape is None:
        return list(ys)
    slots = tuple(tape.slot_of(x) for x in inputs)
    if all(s < 0 for s in slots):
        return list(ys)
    return tape.add_node([np.asarray(y) for y in ys], slots, vjp)


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` over the axes that broadcasting added or stretched, back to ``shape``."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)
