"""An engine optimizer's state as Keras 3's ``optimizer.variables`` list, and back.

Keras 3 keeps ``[iteration, learning_rate]`` and then, per slot group, one variable per
trainable weight (in ``model.trainable_variables`` order); several slots created together are
interleaved per weight (Adam: ``w0_momentum, w0_velocity, w1_momentum, ...``). The engine keeps
each slot as one flat buffer over its trainable weights in binding order. ``SLOTS`` maps one to
the other; an optimizer missing from it is saved with its step count and learning rate only
(Keras then starts its slots afresh, and says so).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

# class name → the optimizer's slot groups: [[(keras slot, engine buffer), ...], ...]
SLOTS: dict[str, Callable] = {
    "SGD": lambda o: [[("momentum", "m")]] if o.momentum else [],
    "RMSprop": lambda o: [[("velocity", "v")]] + ([[("momentum", "mom")]] if o.momentum > 0
                                                  else [])
    + ([[("average_gradient", "mg")]] if o.centered else []),
    "Adagrad": lambda o: [[("accumulator", "acc")]],
    "Adam": lambda o: [[("momentum", "m"), ("velocity", "v")]]
    + ([[("velocity_hat", "vmax")]] if o.amsgrad else []),
    "Nadam": lambda o: [[("momentum", "m"), ("velocity", "v")]],
}
SLOTS["AdamW"] = SLOTS["Adam"]
SLOTS.update({
    "Adadelta": lambda o: [[("accumulated_grad", "acc_grad"),
                            ("accumulated_delta_var", "acc_delta")]],
    "Adamax": lambda o: [[("momentum", "m"), ("norm", "u")]],
    "Lion": lambda o: [[("momentum", "m")]],
    "Ftrl": lambda o: [[("accumulator", "acc"), ("linear", "linear")]],
})
# scalars Keras keeps after the slots
EXTRA_SCALARS: dict[str, tuple[str, ...]] = {"Nadam": ("u_product",)}


def _keras_trainable(model) -> list:
    """The engine weights in Keras 3's ``model.trainable_variables`` order."""
    from engine.io.keras3_weights import keras_layer_order
    return [w for layer in keras_layer_order(model) if layer.trainable
            for w in layer.weights if w.trainable and w.layer.trainable]


def _offsets(model) -> tuple[dict[int, tuple[int, int]], int]:
    """Each trainable weight's (start, stop) in the engine's flat parameter buffer."""
    out, at = {}, 0
    for w in model.weights:
        if w.trainable and w.layer.trainable:
            out[id(w)] = (at, at + w.size)
            at += w.size
    return out, at


def _built_state(opt, n: int):
    """``opt`` when its buffers cover ``n`` parameters, else a fresh copy built for ``n``
    (Adagrad's buffers do not start at zero)."""
    if getattr(opt, "_n", None) == n:
        return opt
    fresh = type(opt).from_config(opt.get_config())
    fresh.build(n)
    return fresh


def keras_optimizer_arrays(model) -> list[np.ndarray]:
    """``model.optimizer``'s state as the arrays of Keras 3's ``optimizer.variables``."""
    opt = model.optimizer
    head = [np.asarray(int(opt.iterations), dtype=np.int64),
            np.asarray(opt.learning_rate, dtype=np.float32)]
    groups = SLOTS.get(type(opt).__name__)
    if groups is None:
        return head
    offsets, n = _offsets(model)
    state = _built_state(opt, n)
    arrays = []
    weights = _keras_trainable(model)
    for group in groups(opt):
        for w in weights:
            start, stop = offsets[id(w)]
            for _slot, buffer in group:
                arrays.append(getattr(state, buffer)[start:stop].reshape(w.shape).copy())
    extra = [np.asarray(getattr(state, s), dtype=np.float32)
             for s in EXTRA_SCALARS.get(type(opt).__name__, ())]
    return head + arrays + extra


def set_optimizer_from_keras(model, arrays: list[np.ndarray]) -> bool:
    """Put Keras 3 optimizer variables into ``model.optimizer``; False (nothing changed)
    when their number or shapes do not fit this optimizer."""
    opt = model.optimizer
    groups = SLOTS.get(type(opt).__name__)
    if groups is None or len(arrays) < 2:
        return False
    offsets, n = _offsets(model)
    weights = _keras_trainable(model)
    pairs = [(slot, buffer, w) for group in groups(opt) for w in weights
             for slot, buffer in group]
    extras = EXTRA_SCALARS.get(type(opt).__name__, ())
    body = arrays[2:]
    if len(body) != len(pairs) + len(extras) or any(
            tuple(np.shape(a)) != w.shape for a, (_s, _b, w) in zip(body, pairs)):
        return False
    model._bind_parameters()           # builds the optimizer for the model's layout
    opt.build(n)
    for a, (_slot, buffer, w) in zip(body, pairs):
        start, stop = offsets[id(w)]
        getattr(opt, buffer)[start:stop] = np.asarray(a, dtype=np.float32).reshape(-1)
    for name, a in zip(extras, body[len(pairs):]):
        setattr(opt, name, float(a))
    opt.iterations = int(arrays[0])
    return True
