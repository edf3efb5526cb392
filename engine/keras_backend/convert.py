"""The engine model as a real Keras 3 model — the same layers (built from the same config that
``.keras`` files carry) and the same weights — and the trained weights back.

Layers or arguments Keras does not have are found before any training starts: each layer's
config is handed to Keras on its own, so the error names the layer.
"""
from __future__ import annotations

import numpy as np

from engine.keras_backend import KerasBackendError


def unsupported_layers(model) -> list[str]:
    """Why Keras cannot rebuild some layers of ``model`` (empty when it can): layers that
    are not one of the built-in layer types (custom subclasses, Lambda)."""
    from engine.registry import LAYERS
    out = []
    for layer in model.layers:
        spec = getattr(type(layer), "spec", None)
        if spec is None or spec.cls is not type(layer) or \
                LAYERS.get(spec.type_name) is not spec or spec.keras_module != "keras.layers":
            out.append(f"layer '{layer.name}' ({type(layer).__name__}) is not a built-in "
                       f"Keras layer, so Keras cannot rebuild it")
    return out


def check_layers(keras, model) -> None:
    """Raise KerasBackendError naming the first layer Keras cannot build as configured."""
    from engine.io.keras_format import keras3_model_config
    problems = unsupported_layers(model)
    if problems:
        raise KerasBackendError(problems[0])
    for entry in keras3_model_config(model, include_optimizer=False)["config"]["layers"]:
        cfg = {k: v for k, v in entry.items() if k not in ("inbound_nodes", "name")}
        try:
            keras.saving.deserialize_keras_object(cfg)
        except Exception as e:  # noqa: BLE001 - Keras raises TypeError, ValueError...
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise KerasBackendError(
                f"layer '{entry['config'].get('name')}' ({entry['class_name']}): Keras "
                f"{keras.__version__} cannot build it as configured: {msg}") from None


def to_keras(keras, model):
    """A Keras model with ``model``'s layers and current weights."""
    from engine.io.keras_format import keras3_model_config
    check_layers(keras, model)
    config = keras3_model_config(model, include_optimizer=False)
    kmodel = keras.saving.deserialize_keras_object(config)
    copy_weights(model, kmodel)
    return kmodel


def copy_weights(model, kmodel) -> None:
    """Engine → Keras, layer by layer (the weight orders are Keras's by design)."""
    for layer in model.layers:
        if layer.weights:
            kmodel.get_layer(layer.name).set_weights(layer.get_weights())


def attach_state(kmodel) -> None:
    """Make ``kmodel``'s variables hold its current values: JAX detaches them while an epoch
    runs (a no-op elsewhere and between epochs)."""
    sync = getattr(kmodel, "jax_state_sync", None)
    if sync is not None:
        sync()


def copy_weights_back(kmodel, model) -> None:
    """Keras → engine, layer by layer."""
    attach_state(kmodel)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([np.asarray(a, dtype=np.float32)
                               for a in kmodel.get_layer(layer.name).get_weights()])


def first_nonfinite_layer(kmodel, model):
    """The engine layer whose Keras weights hold NaN or inf first (None when all are finite)."""
    attach_state(kmodel)
    for layer in model.layers:
        if layer.weights and any(not np.isfinite(np.asarray(a)).all()
                                 for a in kmodel.get_layer(layer.name).get_weights()):
            return layer
    return None


def compile_keras(keras, model, kmodel) -> None:
    """Compile ``kmodel`` as ``model`` is compiled (optimizer with its settings, loss,
    metrics) and give the Keras optimizer the engine's state (step count and slots)."""
    from engine.io.keras_format import compile_config
    from engine.io.keras_optimizer_state import keras_optimizer_arrays
    cc = compile_config(model)
    if cc is None:
        raise KerasBackendError(f"model '{model.name}' must be compiled before it trains")
    try:
        optimizer = keras.optimizers.deserialize(cc["optimizer"])
    except Exception as e:  # noqa: BLE001
        raise KerasBackendError(f"optimizer {cc['optimizer']['class_name']}: Keras cannot "
                                f"build it with these settings ({e})") from None
    try:
        kmodel.compile(optimizer=optimizer, loss=cc["loss"], metrics=cc["metrics"])
    except Exception as e:  # noqa: BLE001 - an unknown loss or metric name, mostly
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise KerasBackendError(f"loss {cc['loss']!r} / metrics {cc['metrics']!r}: Keras "
                                f"cannot compile the model with them ({msg})") from None
    kmodel.optimizer.build(kmodel.trainable_variables)
    arrays = keras_optimizer_arrays(model)
    variables = kmodel.optimizer.variables
    if len(arrays) == len(variables) and all(
            tuple(np.shape(a)) == tuple(v.shape) for a, v in zip(arrays, variables)):
        for i, (v, a) in enumerate(zip(variables, arrays)):
            if i != 1:          # [1] is the learning rate, which the config already set
                v.assign(np.asarray(a, dtype=v.dtype))


def optimizer_back(kmodel, model) -> None:
    """The Keras optimizer's state into the engine's (so training can go on in either)."""
    from engine.io.keras_optimizer_state import set_optimizer_from_keras
    set_optimizer_from_keras(model, [np.asarray(v) for v in kmodel.optimizer.variables])
