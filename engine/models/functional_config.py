"""The config of a Functional model (Keras's ``inbound_nodes`` form) and the model rebuilt from it.

A layer called several times (shared) has one entry with several inbound nodes; a reference
``[layer_name, node_index, tensor_index, kwargs]`` names the node_index-th call of that layer in
this model. Layers are created first, then their calls are replayed in an order where every
call's inputs exist (as Keras does), so config order does not matter.
"""
from __future__ import annotations

from typing import Any

from engine.layers.base import KerasTensor, Layer, Node
from engine.layers.layer_config import deserialize_layer, serialize_layer


def layer_calls(plan) -> list[tuple[Layer, list[Node]]]:
    """Each layer the plan runs, in first-call order, with its calls in plan order."""
    order: list[Layer] = []
    calls: dict[int, list[Node]] = {}
    for step in plan.steps:
        if id(step.layer) not in calls:
            order.append(step.layer)
            calls[id(step.layer)] = []
        calls[id(step.layer)].append(step.node)
    return [(layer, calls[id(layer)]) for layer in order]


def tensor_refs(plan) -> dict[int, tuple[str, int, int]]:
    """id(KerasTensor) → (producing layer name, its node index in this model, output index)."""
    refs: dict[int, tuple[str, int, int]] = {}
    for layer in plan.input_layers:
        refs[id(layer._nodes[0].outputs[0])] = (layer.name, 0, 0)
    for layer, nodes in layer_calls(plan):
        for n, node in enumerate(nodes):
            for k, t in enumerate(node.outputs):
                refs[id(t)] = (layer.name, n, k)
    return refs


def functional_config(model) -> dict[str, Any]:
    """``model.get_config()`` of a Functional model (Keras 2's list form of inbound nodes)."""
    plan = model._plan
    refs = tensor_refs(plan)
    layers_cfg = [{**serialize_layer(layer), "name": layer.name, "inbound_nodes": []}
                  for layer in plan.input_layers]
    for layer, nodes in layer_calls(plan):
        inbound = [[[*refs[id(t)], {}] for t in node.inputs] for node in nodes]
        layers_cfg.append({**serialize_layer(layer), "name": layer.name,
                           "inbound_nodes": inbound})
    return {"name": model.name, "layers": layers_cfg,
            "input_layers": [list(refs[id(lyr._nodes[0].outputs[0])])
                             for lyr in plan.input_layers],
            "output_layers": [list(refs[id(t)]) for t in plan.outputs]}


def functional_from_config(cls, config: dict[str, Any]):
    """A Functional model (of class ``cls``) from :func:`functional_config`'s form."""
    if "layers" not in config or not isinstance(config["layers"], list):
        raise ValueError("model config: missing the 'layers' list")
    # layers are known by their entry's name, which references use — as Keras does: a custom
    # layer whose get_config() leaves out "name" is rebuilt with a new name
    layers: dict[str, Layer] = {}
    key: dict[int, str] = {}
    pending: list[tuple[Layer, int, list]] = []
    for entry in config["layers"]:
        layer = deserialize_layer(entry)
        name = entry.get("name") or layer.name
        if name in layers:
            raise ValueError(f"model config: two layers are named '{name}'")
        layers[name], key[id(layer)] = layer, name
        for n, inbound in enumerate(entry.get("inbound_nodes") or []):
            pending.append((layer, n, inbound))
    outputs: dict[tuple[str, int], list[KerasTensor]] = {}
    for name, layer in layers.items():
        if not entry_has_calls(layer, pending):
            if not layer._nodes:
                raise ValueError(f"model config: layer '{name}' is never called")
            outputs[(name, 0)] = list(layer._nodes[0].outputs)   # an InputLayer
    while pending:
        progress = []
        for item in pending:
            layer, n, inbound = item
            if n > 0 and (key[id(layer)], n - 1) not in outputs:
                continue                      # a layer's calls are replayed in their order
            try:
                args = [outputs[(ref[0], ref[1])][ref[2]] for ref in inbound]
            except KeyError:
                continue
            except IndexError:
                raise ValueError(f"model config: layer '{layer.name}' takes an output that its "
                                 f"source does not have ({inbound})") from None
            out = layer(args if len(args) > 1 else args[0])
            outputs[(key[id(layer)], n)] = list(out) if isinstance(out, (list, tuple)) \
                else [out]
            progress.append(item)
        if not progress:
            missing = sorted({ref[0] for _, _, inbound in pending for ref in inbound
                              if ref[0] not in layers})
            what = (f"takes inputs from undefined layers {missing}" if missing
                    else "has a cycle or a call whose inputs never exist")
            raise ValueError(f"model config: layer '{key[id(pending[0][0])]}' {what}")
        pending = [p for p in pending if p not in progress]

    def pick(refs):
        try:
            return [outputs[(r[0], r[1])][r[2]] for r in refs]
        except (KeyError, IndexError):
            raise ValueError(f"model config: input/output references {refs} name tensors "
                             f"that the layers do not make") from None
    ins, outs = pick(config["input_layers"]), pick(config["output_layers"])
    return cls(ins if len(ins) > 1 else ins[0], outs if len(outs) > 1 else outs[0],
               name=config.get("name"))


def entry_has_calls(layer: Layer, pending) -> bool:
    return any(p[0] is layer for p in pending)
