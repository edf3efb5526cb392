"""The execution plan of a Functional model: layer calls in topological order, run forward and
backward over arrays. Built once from the symbolic tensors of ``Model(inputs, outputs)``.

A layer may be called several times (a *shared* layer, e.g. the two branches of a siamese
network): its steps save the layer's per-call state after their forward and restore it before
their backward, and its weight gradients add up over its steps. Layers with ``call`` (user
layers, subclassed models) are steps like any other: their forward records a local tape and
their ``add_loss`` values are collected in ``added_losses``. A model made only of built-in
layers called once each runs exactly as before: none of this costs it anything.
"""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any

import numpy as np

from engine import threading_policy

# Layers keep per-call caches for their backward pass, so one model must not run in two threads
# at once (the app's training thread and a GUI preview of activations): this lock serializes
# every forward and backward pass. A model that shares no layer with another may get a lock of
# its own (isolate_execution) and then runs beside the others.
EXECUTION_LOCK = threading.RLock()

from engine.layers.base import KerasTensor, Layer, Node, is_predicting


@dataclass
class Step:
    layer: Layer
    inputs: list[int]          # tensor slots read
    outputs: list[int]         # tensor slots written
    multi_in: bool             # forward gets a list
    multi_out: bool            # forward returns a list
    fused: Layer | None = None  # training runs this layer and the next one as one kernel
    prefused: bool = False      # this layer's work was done by the step before it (training)
    fused_predict: bool = False  # ... and in prediction too (the pair holds no batch statistics)
    fused_dropout: Layer | None = None  # ... and the Dropout after the next one (training)
    shared: bool = False       # the layer has other steps: save/restore its per-call state
    template: Any = None       # a user layer's call arguments rebuilt from the inputs
    node: Node | None = None   # the layer call this step runs


class NonFiniteError(FloatingPointError):
    """A layer produced NaN or inf; ``layer`` is that layer (None when the loss itself is)."""

    def __init__(self, message: str, layer: Layer | None = None):
        super().__init__(message)
        self.layer = layer


class Plan:
    """Topologically ordered layer calls between ``inputs`` and ``outputs``."""

    def __init__(self, inputs: list[KerasTensor], outputs: list[KerasTensor]):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.lock = EXECUTION_LOCK
        slot: dict[int, int] = {}

        def slot_of(t: KerasTensor) -> int:
            return slot.setdefault(id(t), len(slot))

        for t in self.inputs:
            if not isinstance(t, KerasTensor) or t.node is None or t.node.inputs:
                raise ValueError(f"Model inputs must be tensors made by Input(), got {t!r}")
            slot_of(t)
        input_ids = {id(t) for t in self.inputs}
        order: list[Node] = []
        seen: set[int] = set()
        on_path: set[int] = set()

        def visit(t: KerasTensor, path: str) -> None:
            if id(t) in input_ids:
                return
            node = t.node
            if node is None:
                raise ValueError(f"{path}: tensor {t!r} was not made by a layer call")
            if not node.inputs:
                raise ValueError(
                    f"{path} depends on Input '{node.layer.name}', which is not among the "
                    f"model's inputs ({', '.join(i.node.layer.name for i in self.inputs)}); "
                    f"pass it in Model(inputs=[...])")
            if id(node) in seen:
                return
            if id(node) in on_path:
                raise ValueError(f"the graph has a cycle through layer '{node.layer.name}'")
            on_path.add(id(node))
            for x in node.inputs:
                visit(x, f"layer '{node.layer.name}'")
            on_path.discard(id(node))
            seen.add(id(node))
            order.append(node)

        for i, t in enumerate(self.outputs):
            if not isinstance(t, KerasTensor):
                raise ValueError(f"Model output {i} must be a tensor from a layer call, got {t!r}")
            visit(t, f"output {i}")

        calls: dict[int, int] = {}
        for node in order:
            calls[id(node.layer)] = calls.get(id(node.layer), 0) + 1
        self.steps = [Step(n.layer, [slot_of(t) for t in n.inputs], [slot_of(t) for t in n.outputs],
                           len(n.inputs) > 1 or (isinstance(n.layer.input_shape, list)
                                                 and not n.layer._runs_call),
                           len(n.outputs) > 1 or n.out_template is not None,
                           shared=calls[id(n.layer)] > 1, template=n.template, node=n)
                      for n in order]
        self.has_shared = any(s.shared for s in self.steps)
        self.runs_calls = any(s.layer._runs_call for s in self.steps)
        self.added_losses: list[float] = []
        self._states: dict[int, Any] = {}
        self.input_slots = [slot[id(t)] for t in self.inputs]
        self.output_slots = [slot_of(t) for t in self.outputs]
        self.n_slots = len(slot)
        self.input_layers = [t.node.layer for t in self.inputs]
        unique = {id(s.layer): s.layer for s in self.steps}      # a shared layer once
        self.layers: list[Layer] = self.input_layers + list(unique.values())
        self.consumers = np.zeros(self.n_slots, dtype=np.int64)
        for s in self.steps:
            for i in s.inputs:
                self.consumers[i] += 1
        self.uses_masks = any(s.layer.makes_masks() for s in self.steps)
        # A layer returns its input's gradient only when something trainable lies behind it:
        # the first Dense after Flatten (or Conv2D after Rescaling) skips dx = dz·Wᵀ, a third
        # of the seed MLP's products. Slots that no weight reaches are "constant": the model's
        # inputs, and the outputs of weightless registry layers that read only constants.
        constant = set(self.input_slots)
        for s in self.steps:
            if all(i in constant for i in s.inputs) and not s.layer.weights and \
                    not s.layer._runs_call:
                constant.update(s.outputs)
        need: dict[int, bool] = {}
        for s in self.steps:   # a shared layer needs dx if any of its calls does
            need[id(s.layer)] = need.get(id(s.layer), False) or \
                not all(i in constant for i in s.inputs)
        for s in self.steps:
            if hasattr(s.layer, "need_dx"):
                s.layer.need_dx = need[id(s.layer)]
        # Two layers run as one kernel (Conv2D(relu) → MaxPooling2D(2×2), BatchNormalization
        # → relu: the first layer's fuse_next) when the second is the only reader of the first's
        # output; the second then passes its gradient straight to the first, which takes the
        # gradient of the pair. Conv2D + pool run fused in model.predict/evaluate too (seed CNN
        # at batch 256: 12 ms fused against 20-36 ms for the two layers; fuses_when_predicting),
        # but not when a layer's own output is asked for (``upto``, the activation preview).
        for a, b in zip(self.steps, self.steps[1:]):
            if (hasattr(a.layer, "fuse_next") and not self.uses_masks and b.inputs == a.outputs
                    and not a.shared and not b.shared and not b.multi_out
                    and len(a.outputs) == 1 and self.consumers[a.outputs[0]] == 1
                    and a.outputs[0] not in self.output_slots and a.layer.fuse_next(b.layer)):
                a.fused, b.prefused = b.layer, True
                a.fused_predict = b.fused_predict = getattr(a.layer, "fuses_when_predicting",
                                                            False)
        # A Dropout that is the only reader of such a pair's output runs in the pair's kernel
        # too (Conv2D.fuse_dropout); in prediction it passes its input on, as Dropout does.
        # Seed CNN, per step at batch 128: the Dropout's forward and backward took 0.41 ms
        # (cProfile of fit), inside the kernel it adds 0.12-0.14 ms (planes.drop_rows).
        for a, b, c in zip(self.steps, self.steps[1:], self.steps[2:]):
            if (a.fused is b.layer and hasattr(a.layer, "fuse_dropout")
                    and c.inputs == b.outputs and c.template is None and not c.shared
                    and not c.multi_out and self.consumers[b.outputs[0]] == 1
                    and b.outputs[0] not in self.output_slots
                    and a.layer.fuse_dropout(c.layer)):
                a.fused_dropout, c.prefused, c.fused_predict = c.layer, True, a.fused_predict
        self._ran_fused = False

    # ------------------------------------------------------------------ forward
    def forward(self, xs: list[np.ndarray], training: bool, check_finite: bool = False,
                upto: Layer | None = None) -> list[np.ndarray]:
        threading_policy.threads()        # this thread's kernels: threads for the load now
        with self.lock:
            return self._forward(xs, training, check_finite, upto)

    def _forward(self, xs, training, check_finite, upto):
        vals: list = [None] * self.n_slots
        masks: list = [None] * self.n_slots if self.uses_masks else None
        for s, x in zip(self.input_slots, xs):
            vals[s] = x
        fused_predict = not training and upto is None and is_predicting()
        if self.runs_calls:
            self.added_losses = []
        self._ran_fused = training and masks is None
        for k, step in enumerate(self.steps):
            layer = step.layer
            x = [vals[i] for i in step.inputs] if step.multi_in else vals[step.inputs[0]]
            if step.template is not None:
                m = [masks[i] for i in step.inputs] if masks is not None else None
                y = layer.forward([vals[i] for i in step.inputs], training, mask=m,
                                  template=step.template)
            elif masks is not None:
                m = [masks[i] for i in step.inputs] if step.multi_in else masks[step.inputs[0]]
                y = layer.forward(x, training, mask=m) if layer.uses_mask else layer.forward(x, training)
                out_mask = layer.compute_mask(x, m)
                for o in step.outputs:
                    masks[o] = out_mask[step.outputs.index(o)] if isinstance(out_mask, list) \
                        else out_mask
            elif step.fused is not None and (training or fused_predict and step.fused_predict):
                y = layer.forward_fused(x, step.fused, step.fused_dropout) \
                    if training and step.fused_dropout is not None else \
                    layer.forward_fused(x, step.fused)
            elif step.prefused and (training or fused_predict and step.fused_predict):
                y = x
            else:
                y = layer.forward(x, training)
            if step.shared:
                self._states[k] = layer.save_call_state()
            if layer._runs_call:
                self.added_losses.extend(layer._call_losses)
            ys = y if step.multi_out else [y]
            for o, v in zip(step.outputs, ys):
                vals[o] = v
            if check_finite:
                for v in ys:
                    if v.dtype.kind == "f" and not np.isfinite(v).all():
                        raise NonFiniteError(f"the output of {layer.where} is not finite "
                                             f"(contains NaN or inf)", layer)
            if layer is upto:
                return ys
        return [vals[s] for s in self.output_slots]

    # ------------------------------------------------------------------ backward
    def backward(self, output_grads: list[np.ndarray | None],
                 input_grads: bool = False) -> list | None:
        """Propagate gradients from the outputs; every weight's ``grad`` is written. With
        ``input_grads`` (a model used as a layer) returns the gradients of the inputs."""
        threading_policy.threads()
        with self.lock:
            return self._backward(output_grads, input_grads)

    def _backward(self, output_grads, input_grads: bool = False):
        grads: list = [None] * self.n_slots
        for s, g in zip(self.output_slots, output_grads):
            if g is not None:
                grads[s] = g if grads[s] is None else grads[s] + g
        acc: dict[int, list] | None = {} if self.has_shared else None
        owned: set[int] = set()     # slots whose gradient array this pass may add into
        for k in range(len(self.steps) - 1, -1, -1):
            step = self.steps[k]
            layer = step.layer
            dys = [grads[o] for o in step.outputs]
            if all(d is None for d in dys) and not (layer._runs_call and layer._call_losses):
                if not step.shared:
                    for w in layer.weights:
                        w.grad[...] = 0
                continue
            if step.shared:
                layer.restore_call_state(self._states[k])
            if input_grads and hasattr(layer, "need_dx"):
                layer.need_dx = True        # the gradient must reach the model's inputs
            if step.prefused and self._ran_fused:
                dx = dys[0]     # the step before did this layer's work and takes its gradient
            else:
                dx = layer.backward(dys if step.multi_out else dys[0])
            if step.shared:
                _accumulate(acc, layer)
            if dx is None:
                continue
            single = not (step.multi_in or step.template is not None)
            fresh = single and _fresh_input_grad(layer)
            dxs = [dx] if single else dx
            for i, g in zip(step.inputs, dxs):
                if g is None:
                    continue
                if grads[i] is None:
                    grads[i] = g
                    if fresh:
                        owned.add(i)
                else:
                    grads[i] = _add_gradients(grads[i], g, i in owned, fresh)
                    owned.add(i)
        if acc is not None:
            for layer in {id(s.layer): s.layer for s in self.steps if s.shared}.values():
                sums = acc.get(id(layer))
                for j, w in enumerate(layer.weights):
                    w.grad[...] = 0 if sums is None else sums[j]
        if input_grads:
            return [grads[s] for s in self.input_slots]
        return None


def _fresh_input_grad(layer: Layer) -> bool:
    """Whether the layer's backward returns an input gradient it keeps no reference to: the
    class that defines the backward in use declares it (``fresh_input_grad``); a subclass that
    overrides backward, or runs its own call(), does not inherit the promise."""
    return _class_fresh_input_grad(type(layer))


@functools.cache
def _class_fresh_input_grad(cls: type) -> bool:
    """_fresh_input_grad for a layer class (both attributes it reads are set per class), once
    per class rather than once per layer and backward pass."""
    if cls._runs_call:
        return False
    for klass in cls.__mro__:
        if "backward" in vars(klass):
            return vars(klass).get("fresh_input_grad", False) is True
    return False


def _add_gradients(total: np.ndarray, g: np.ndarray, total_owned: bool,
                   g_fresh: bool) -> np.ndarray:
    """total + g, the gradients of a tensor that several layers read. Added in place into
    whichever of the two this backward pass owns (an earlier sum, or a layer's fresh input
    gradient; never an array a layer may still hold, nor one shared with another slot). On the
    residual-block workload (bench/workloads/resblock.py) the sums into new arrays took 1.9-2.0
    ms per step (1.6 ms for the one 4 MB sum at the residual branch; the same addition into an
    existing array takes 0.2 ms alone), in place 0.4-0.5 ms."""
    if total_owned and total.shape == np.broadcast_shapes(total.shape, g.shape) \
            and total.dtype == np.result_type(total, g) and total.flags.writeable:
        np.add(total, g, out=total)
        return total
    if g_fresh and g.shape == np.broadcast_shapes(total.shape, g.shape) \
            and g.dtype == np.result_type(total, g) and g.flags.writeable:
        np.add(g, total, out=g)
        return g
    return total + g


def _accumulate(acc: dict, layer: Layer) -> None:
    """Add a shared layer's weight gradients of one call to those of its other calls."""
    current = [w.grad for w in layer.weights]
    sums = acc.get(id(layer))
    if sums is None:
        acc[id(layer)] = [g.copy() for g in current]
    else:
        for s, g in zip(sums, current):
            s += g


def nodes_in_plan(plan: Plan) -> dict[int, Any]:
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


def isolate_execution(model) -> None:
    """Give ``model`` its own execution lock, so its forward passes run beside other models'
    (a preview model built from a graph next to the model being trained) instead of waiting
    for them. Only for a model whose layers no other model uses: shared layer objects would
    have their per-call caches overwritten."""
    plan = getattr(model, "_plan", None)
    if plan is None:
        raise ValueError(f"Model '{getattr(model, 'name', model)}' is not built yet; build it "
                         f"before giving it its own execution lock")
    plan.lock = threading.RLock()


def keras_layer_order(plan: Plan) -> list[Layer]:
    """The order in which Keras 3 lists a Functional model's layers (``model.layers``) when it
    builds the model from the same graph: by decreasing depth from the outputs, ties broken by
    first visit in a depth-first walk from the outputs (Keras's ``map_graph``). Keras loads a
    legacy .h5 file's weights by this position, so files must list layers in this order; the
    Plan's own order (one branch after the other) may differ for several branches."""
    input_ids = {id(t) for t in plan.inputs}
    finished: set[int] = set()
    nodes: list[Node] = []                 # from the inputs towards the outputs (post-order)
    first_visit: dict[int, int] = {}       # id(layer) -> order of its first visit

    def parents(node: Node) -> Iterator[Node]:
        """The nodes feeding ``node`` inside the plan (not past one of its inputs)."""
        for t in node.inputs:
            if t.node is None or id(t.node) in finished:
                continue
            if t.node.inputs and id(t) in input_ids:    # an input made by another graph
                finished.add(id(t.node))
                continue
            yield t.node

    for t in plan.outputs:                 # depth-first, iteratively (deep graphs)
        if t.node is None or id(t.node) in finished:
            continue
        if t.node.inputs and id(t) in input_ids:
            finished.add(id(t.node))
            continue
        first_visit.setdefault(id(t.node.layer), len(first_visit))
        stack = [(t.node, parents(t.node))]
        while stack:
            node, pending = stack[-1]
            nxt = next(pending, None)
            if nxt is None:
                stack.pop()
                if id(node) not in finished:
                    finished.add(id(node))
                    nodes.append(node)
            elif id(nxt) not in finished:
                first_visit.setdefault(id(nxt.layer), len(first_visit))
                stack.append((nxt, parents(nxt)))
    in_graph = {id(n) for n in nodes}
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    layers: dict[int, Layer] = {}
    for node in reversed(nodes):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = node_depth[id(node)] = depth
        layers[id(node.layer)] = node.layer
        for parent in node.inputs:
            if parent.node is not None and id(parent.node) in in_graph:
                node_depth[id(parent.node)] = max(depth + 1,
                                                  node_depth.get(id(parent.node), 0))
    for t in plan.inputs:                  # an input no output depends on is still listed
        if id(t.node.layer) not in layer_depth:
            layer_depth[id(t.node.layer)], first_visit[id(t.node.layer)] = 0, -1
            layers[id(t.node.layer)] = t.node.layer
    return sorted(layers.values(), key=lambda lyr: (-layer_depth[id(lyr)],
                                                    first_visit[id(lyr)]))
