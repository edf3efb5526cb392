"""``keras.models.clone_model``: the same architecture with new layers (fresh weights).

Sequential and Functional models are rebuilt call by call: every layer goes through
``clone_function`` once (a shared layer stays shared in the clone), its calls are replayed on the
new tensors in the original order. Nested models are cloned by ``clone_function`` too, or taken
apart and rebuilt with ``recursive=True``. A subclassed model is rebuilt from its config.
"""
from __future__ import annotations

from engine.layers.base import KerasTensor, Layer
from engine.layers.calling import fill
from engine.layers.core import Input


def _default_clone(layer: Layer) -> Layer:
    return type(layer).from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive: bool = False, **kwargs):
    """A new model with ``model``'s architecture and newly initialized weights."""
    from engine.models.model import Model
    from engine.models.sequential import Sequential
    if kwargs:
        raise TypeError(f"clone_model: unknown arguments {sorted(kwargs)}")
    clone = clone_function or _default_clone

    def clone_layer(layer):
        if recursive and isinstance(layer, Model) and layer._functional:
            return clone_model(layer, clone_function=clone_function, call_function=call_function,
                               recursive=True)
        return clone(layer)

    if isinstance(model, Sequential):
        new = Sequential(name=model.name)
        if input_tensors is not None:
            new.add(input_tensors[0] if isinstance(input_tensors, (list, tuple))
                    else input_tensors)
        elif model._input_layer is not None:
            src = model._input_layer
            new.add(Input(batch_shape=src.batch_shape, dtype=src.dtype, name=src.name))
        for layer in model.layers:
            new.add(clone_layer(layer))
        return new
    if not isinstance(model, Model) or not model._functional:
        return type(model).from_config(model.get_config())
    plan = model._plan
    if input_tensors is None:
        inputs = [Input(batch_shape=lyr.batch_shape, dtype=lyr.dtype, name=lyr.name)
                  for lyr in plan.input_layers]
    else:
        inputs = list(input_tensors) if isinstance(input_tensors, (list, tuple)) \
            else [input_tensors]
        if len(inputs) != len(plan.inputs) or not all(isinstance(t, KerasTensor)
                                                       for t in inputs):
            raise ValueError(f"clone_model: input_tensors must be {len(plan.inputs)} symbolic "
                             f"tensor(s) made by Input()")
    new_of: dict[int, KerasTensor] = {id(old): new for old, new in zip(plan.inputs, inputs)}
    layers: dict[int, Layer] = {}
    for step in plan.steps:
        node = step.node
        layer = layers.get(id(step.layer))
        if layer is None:
            layer = layers[id(step.layer)] = clone_layer(step.layer)
        args = [new_of[id(t)] for t in node.inputs]
        if node.template is not None:
            call_args, call_kwargs = fill(node.template, args)
        else:
            call_args = (args if step.multi_in else args[0],)
            call_kwargs = {}
        call = call_function or (lambda lyr, *a, **k: lyr(*a, **k))
        out = call(layer, *call_args, **call_kwargs)
        outs = _flat_outputs(out)
        for old, new in zip(node.outputs, outs):
            new_of[id(old)] = new
    outputs = [new_of[id(t)] for t in plan.outputs]
    return Model(inputs if len(inputs) > 1 else inputs[0],
                 outputs if len(outputs) > 1 else outputs[0], name=model.name)


def _flat_outputs(out) -> list:
    if isinstance(out, dict):
        return [v for o in out.values() for v in _flat_outputs(o)]
    if isinstance(out, (list, tuple)):
        return [v for o in out for v in _flat_outputs(o)]
    return [out]

