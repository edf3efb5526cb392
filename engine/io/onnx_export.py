"""ONNX export (``onnx``, the [onnx] extra): the inference graph of an engine model as an ONNX
model that ONNX Runtime, Netron and TensorRT read.

Channels-last data stays channels-last between layers; convolution, pooling, resizing and batch
normalization transpose to ONNX's channels-first around their op (runtimes fuse such pairs).
Recurrent layers map to ONNX's LSTM / GRU / RNN ops: Keras's LSTM gate order (i, f, c, o)
becomes ONNX's (i, o, f, c); Keras's GRU with ``reset_after`` is ONNX's
``linear_before_reset=1`` with the input and recurrent biases apart; Bidirectional layers are
the ops' ``bidirectional`` direction. Training-only layers (Dropout, GaussianNoise) are
identities. Layers ONNX cannot express are all named in one :class:`OnnxExportError` before
anything is written.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.io.atomic import atomic_path
from engine.io.onnx_graph import OnnxExportError, OnnxGraph

OPSET = 17
INSTALL = 'pip install "layerloom[onnx]"'


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise OnnxExportError(f"ONNX export needs the onnx package; install it with: {INSTALL}") \
            from None
    return onnx


def _act(name_or_obj):
    from engine import activations
    return activations.get(name_or_obj)


def _same_pads(sizes, kernel, strides, dilations) -> tuple[list[int], list[int]]:
    """TensorFlow's 'same' padding: (begins, ends) per spatial axis."""
    begins, ends = [], []
    for n, k, s, d in zip(sizes, kernel, strides, dilations):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        begins.append(total // 2)
        ends.append(total - total // 2)
    return begins, ends


# ------------------------------------------------------------------------------ layers
def _dense(g, layer, xs, shapes, out_shape, base):
    y = g.op("MatMul", [xs[0], g.const(layer.kernel.value, f"{base}/kernel")], base)
    if layer.bias is not None:
        y = g.op("Add", [y, g.const(layer.bias.value, f"{base}/bias")], base)
    return [g.activation(_act(layer.activation), y, base)]


def _activation_layer(g, layer, xs, shapes, out_shape, base):
    return [g.activation(layer._act, xs[0], base)]


def _conv(g, layer, xs, shapes, out_shape, base):
    rank = len(shapes[0])
    spatial = rank - 2
    kernel = np.asarray(layer.kernel.value)                 # (k..., cin, cout)
    w = kernel.transpose(spatial + 1, spatial, *range(spatial))
    ks, strides = list(kernel.shape[:spatial]), list(_tuple(layer.strides, spatial))
    dil = list(_tuple(layer.dilation_rate, spatial))
    if layer.padding == "same":
        begins, ends = _same_pads(shapes[0][1:-1], ks, strides, dil)
    elif layer.padding == "causal":
        begins, ends = [(ks[0] - 1) * dil[0]], [0]
    else:
        begins, ends = [0] * spatial, [0] * spatial
    inputs = [g.to_channels_first(xs[0], rank, base), g.const(w, f"{base}/kernel")]
    if layer.bias is not None:
        inputs.append(g.const(layer.bias.value, f"{base}/bias"))
    y = g.op("Conv", inputs, base, kernel_shape=ks, strides=strides, dilations=dil,
             pads=begins + ends)
    y = g.to_channels_last(y, rank, base)
    return [g.activation(_act(layer.activation), y, base)]


def _conv_transpose(g, layer, xs, shapes, out_shape, base):
    kernel = np.asarray(layer.kernel.value)                  # (kh, kw, cout, cin)
    ks, strides = list(kernel.shape[:2]), list(_tuple(layer.strides, 2))
    dil = list(_tuple(layer.dilation_rate, 2))
    out_pad = list(_tuple(layer.output_padding, 2)) if layer.output_padding is not None else None
    begins, ends, extra = [], [], []
    for i, (n, k, s, d) in enumerate(zip(shapes[0][1:3], ks, strides, dil)):
        eff = (k - 1) * d + 1
        if out_pad is not None:                      # Keras: (n−1)s + eff − 2·pad + out_pad
            pad = eff // 2 if layer.padding == "same" else 0
            begins.append(pad)
            ends.append(pad)
            extra.append(out_pad[i])
        else:                                        # valid: n·s + max(eff − s, 0); same: n·s
            total = max(eff - s, 0) if layer.padding == "same" else 0
            begins.append(total // 2)
            ends.append(total - total // 2)
            full = (n - 1) * s + eff - total
            extra.append(out_shape[1 + i] - full)
    inputs = [g.to_channels_first(xs[0], 4, base),
              g.const(kernel.transpose(3, 2, 0, 1), f"{base}/kernel")]
    if layer.bias is not None:
        inputs.append(g.const(layer.bias.value, f"{base}/bias"))
    y = g.op("ConvTranspose", inputs, base, kernel_shape=ks, strides=strides, dilations=dil,
             pads=begins + ends, output_padding=extra)
    return [g.activation(_act(layer.activation), g.to_channels_last(y, 4, base), base)]


def _pool(g, layer, xs, shapes, out_shape, base):
    rank = len(shapes[0])
    spatial = rank - 2
    ks = list(_tuple(layer.pool_size, spatial))
    strides = list(_tuple(layer.strides or layer.pool_size, spatial))
    if layer.padding == "same":
        begins, ends = _same_pads(shapes[0][1:-1], ks, strides, [1] * spatial)
    else:
        begins, ends = [0] * spatial, [0] * spatial
    op = "MaxPool" if layer.mode == "max" else "AveragePool"
    y = g.op(op, [g.to_channels_first(xs[0], rank, base)], base, kernel_shape=ks,
             strides=strides, pads=begins + ends)
    return [g.to_channels_last(y, rank, base)]


def _global_pool(g, layer, xs, shapes, out_shape, base):
    axes = list(range(1, len(shapes[0]) - 1))
    op = "ReduceMean" if layer.mode == "avg" else "ReduceMax"
    return [g.op(op, [xs[0]], base, axes=axes, keepdims=int(bool(layer.keepdims)))]


def _batch_norm(g, layer, xs, shapes, out_shape, base):
    c = shapes[0][-1]
    gamma = layer.gamma.value if layer.gamma is not None else np.ones(c, np.float32)
    beta = layer.beta.value if layer.beta is not None else np.zeros(c, np.float32)
    rank = len(shapes[0])
    x = g.to_channels_first(xs[0], rank, base) if rank > 2 else xs[0]
    y = g.op("BatchNormalization", [x, g.const(gamma, f"{base}/gamma"),
                                    g.const(beta, f"{base}/beta"),
                                    g.const(layer.moving_mean.value, f"{base}/moving_mean"),
                                    g.const(layer.moving_variance.value,
                                            f"{base}/moving_variance")],
             base, epsilon=float(layer.epsilon))
    return [g.to_channels_last(y, rank, base) if rank > 2 else y]


def _layer_norm(g, layer, xs, shapes, out_shape, base):
    c = shapes[0][-1]
    gamma = layer.gamma.value if layer.gamma is not None else np.ones(c, np.float32)
    beta = layer.beta.value if layer.beta is not None else np.zeros(c, np.float32)
    return [g.op("LayerNormalization", [xs[0], g.const(gamma, f"{base}/gamma"),
                                        g.const(beta, f"{base}/beta")],
                 base, axis=-1, epsilon=float(layer.epsilon))]


def _rescaling(g, layer, xs, shapes, out_shape, base):
    y = g.op("Mul", [xs[0], g.const(layer.scale, f"{base}/scale")], base)
    if layer.offset:
        y = g.op("Add", [y, g.const(layer.offset, f"{base}/offset")], base)
    return [y]


def _normalization(g, layer, xs, shapes, out_shape, base):
    mean, std = layer._stats(np.dtype(np.float32))
    mean, std = np.asarray(mean)[0], np.asarray(std)[0]         # drop the batch axis
    if layer.invert:
        return [g.op("Add", [g.op("Mul", [xs[0], g.const(std, f"{base}/std")], base),
                             g.const(mean, f"{base}/mean")], base)]
    return [g.op("Div", [g.op("Sub", [xs[0], g.const(mean, f"{base}/mean")], base),
                         g.const(std, f"{base}/std")], base)]


def _embedding(g, layer, xs, shapes, out_shape, base):
    return [g.op("Gather", [g.const(layer.embeddings.value, f"{base}/embeddings"), xs[0]],
                 base, axis=0)]


def _flatten(g, layer, xs, shapes, out_shape, base):
    return [g.op("Flatten", [xs[0]], base, axis=1)]


def _reshape(g, layer, xs, shapes, out_shape, base):
    return [g.op("Reshape", [xs[0], g.ints([-1, *out_shape[1:]], f"{base}/shape")], base)]


def _permute(g, layer, xs, shapes, out_shape, base):
    return [g.op("Transpose", [xs[0]], base, perm=[0, *layer.dims])]


def _repeat_vector(g, layer, xs, shapes, out_shape, base):
    y = g.op("Unsqueeze", [xs[0], g.ints([1], f"{base}/axis")], base)
    return [g.op("Tile", [y, g.ints([1, layer.n, 1], f"{base}/repeats")], base)]


def _zero_padding(g, layer, xs, shapes, out_shape, base):
    (top, bottom), (left, right) = layer.padding
    return [g.op("Pad", [xs[0], g.ints([0, top, left, 0, 0, bottom, right, 0], f"{base}/pads")],
                 base)]


def _cropping(g, layer, xs, shapes, out_shape, base):
    (top, bottom), (left, right) = layer.cropping
    h, w = shapes[0][1:3]
    return [g.op("Slice", [xs[0], g.ints([top, left], f"{base}/starts"),
                           g.ints([h - bottom, w - right], f"{base}/ends"),
                           g.ints([1, 2], f"{base}/axes")], base)]


def _upsampling(g, layer, xs, shapes, out_shape, base):
    sh, sw = _tuple(layer.size, 2)
    x = g.to_channels_first(xs[0], 4, base)
    scales = g.const([1.0, 1.0, float(sh), float(sw)], f"{base}/scales")
    if layer.interpolation == "bilinear":
        y = g.op("Resize", [x, "", scales], base, mode="linear",
                 coordinate_transformation_mode="half_pixel")
    else:
        y = g.op("Resize", [x, "", scales], base, mode="nearest",
                 coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    return [g.to_channels_last(y, 4, base)]


def _merge(op: str):
    def convert(g, layer, xs, shapes, out_shape, base):
        return [g.op(op, list(xs), base)]
    return convert


def _subtract(g, layer, xs, shapes, out_shape, base):
    return [g.op("Sub", list(xs), base)]


def _multiply(g, layer, xs, shapes, out_shape, base):
    y = xs[0]
    for x in xs[1:]:
        y = g.op("Mul", [y, x], base)
    return [y]


def _concatenate(g, layer, xs, shapes, out_shape, base):
    rank = len(shapes[0])
    return [g.op("Concat", list(xs), base, axis=layer.axis % rank)]


def _tuple(value, n: int) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * n


def _rnn(g, layer, xs, shapes, out_shape, base):
    from engine.io.onnx_recurrent import recurrent
    return [recurrent(g, [layer], xs[0], base)]


def _bidirectional(g, layer, xs, shapes, out_shape, base):
    from engine.io.onnx_recurrent import recurrent
    fwd, bwd = layer.forward_layer, layer.backward_layer
    if type(fwd) is not type(bwd) or fwd.units != bwd.units or \
            fwd.return_sequences != bwd.return_sequences:
        raise OnnxExportError(f"{layer.where}: the two directions differ in type or size")
    return [recurrent(g, [fwd, bwd], xs[0], base, layer.merge_mode)]


def _time_distributed(g, layer, xs, shapes, out_shape, base):
    inner = layer.layer
    steps = shapes[0][1]
    flat_in = (None, *shapes[0][2:])
    flat_out = (None, *out_shape[2:])
    x = g.op("Reshape", [xs[0], g.ints([-1, *shapes[0][2:]], f"{base}/merge_steps")], base)
    (y,) = CONVERTERS[inner.spec.type_name](g, inner, [x], [flat_in], flat_out,
                                            f"{base}/{inner.name}")
    return [g.op("Reshape", [y, g.ints([-1, steps, *out_shape[2:]], f"{base}/split_steps")],
                 base)]


def _identity(g, layer, xs, shapes, out_shape, base):
    return [g.op("Identity", [xs[0]], base)]


CONVERTERS = {
    "Dense": _dense, "Activation": _activation_layer, "ReLU": _activation_layer,
    "LeakyReLU": _activation_layer, "ELU": _activation_layer, "Softmax": _activation_layer,
    "Dropout": _identity, "GaussianNoise": _identity, "Flatten": _flatten,
    "Reshape": _reshape, "Permute": _permute, "RepeatVector": _repeat_vector,
    "Conv2D": _conv, "Conv1D": _conv, "Conv2DTranspose": _conv_transpose,
    "ZeroPadding2D": _zero_padding, "Cropping2D": _cropping, "UpSampling2D": _upsampling,
    "Embedding": _embedding, "Add": _merge("Sum"), "Subtract": _subtract,
    "Multiply": _multiply, "Average": _merge("Mean"), "Maximum": _merge("Max"),
    "Minimum": _merge("Min"), "Concatenate": _concatenate,
    "BatchNormalization": _batch_norm, "LayerNormalization": _layer_norm,
    "MaxPooling2D": _pool, "AveragePooling2D": _pool, "MaxPooling1D": _pool,
    "AveragePooling1D": _pool, "GlobalAveragePooling2D": _global_pool,
    "GlobalMaxPooling2D": _global_pool, "GlobalAveragePooling1D": _global_pool,
    "GlobalMaxPooling1D": _global_pool, "Rescaling": _rescaling,
    "Normalization": _normalization, "SimpleRNN": _rnn, "LSTM": _rnn, "GRU": _rnn,
    "Bidirectional": _bidirectional, "TimeDistributed": _time_distributed,
}


# ------------------------------------------------------------------------------ checks
def _masked(node) -> bool:
    """True when a Keras mask (Embedding mask_zero) reaches this call's input."""
    stack = list(node.inputs)
    while stack:
        t = stack.pop()
        producer = t.node.layer if t.node is not None else None
        if producer is None:
            continue
        if getattr(producer, "mask_zero", False):
            return True
        if getattr(producer, "supports_masking", False):
            stack.extend(t.node.inputs)
    return False


def problems(model) -> list[str]:
    """Every layer of ``model`` that ONNX export cannot express, with the reason."""
    from engine.io.onnx_recurrent import check_recurrent
    from engine.models.functional import nodes_in_plan
    calls = nodes_in_plan(model._plan)
    out = []
    for step in model._plan.steps:
        layer = step.layer
        kind = layer.spec.type_name if getattr(type(layer), "spec", None) else None
        reason = None
        if kind not in CONVERTERS or layer.spec.cls is not type(layer):
            reason = "no ONNX form (a custom layer or one LayerLoom cannot export)"
        elif kind in ("LSTM", "GRU", "SimpleRNN"):
            reason = check_recurrent(layer)
        elif kind == "Bidirectional":
            reason = check_recurrent(layer.forward_layer) or (
                "merge_mode=None gives two outputs" if layer.merge_mode is None else None)
        elif kind == "TimeDistributed" and (layer.layer.spec.type_name not in CONVERTERS or
                                            layer.layer.spec.type_name in ("LSTM", "GRU",
                                                                           "SimpleRNN")):
            reason = f"its inner {layer.layer.spec.type_name} has no ONNX form here"
        if reason is None and kind in ("LSTM", "GRU", "SimpleRNN", "Bidirectional") and \
                _masked(calls[id(layer)]):
            reason = ("its input is masked (Embedding mask_zero=True); ONNX's recurrent ops "
                      "have no per-step mask")
        if reason:
            out.append(f"layer '{layer.name}' ({type(layer).__name__}): {reason}")
    return out


# ------------------------------------------------------------------------------ export
def onnx_model(model, opset: int = OPSET):
    """The ONNX ``ModelProto`` of ``model``'s inference graph."""
    onnx = _import_onnx()
    from engine.models.functional import nodes_in_plan
    model._require_built("ONNX graph")
    found = problems(model)
    if found:
        raise OnnxExportError("ONNX export: " + "; ".join(found))
    g = OnnxGraph(onnx)
    h = onnx.helper
    names: dict[int, str] = {}
    inputs = []
    for t, layer in zip(model.inputs, model._plan.input_layers):
        name = g.fresh(layer.name)
        names[id(t)] = name
        dtype = onnx.TensorProto.INT32 if "int" in str(t.dtype) else onnx.TensorProto.FLOAT
        inputs.append(h.make_tensor_value_info(name, dtype, ["batch", *t.shape[1:]]))
    calls = nodes_in_plan(model._plan)
    for step in model._plan.steps:
        layer = step.layer
        node = calls[id(layer)]
        xs = [names[id(t)] for t in node.inputs]
        shapes = [tuple(t.shape) for t in node.inputs]
        outs = CONVERTERS[layer.spec.type_name](g, layer, xs, shapes,
                                                tuple(node.outputs[0].shape), layer.name)
        for t, name in zip(node.outputs, outs):
            names[id(t)] = name
    outputs = []
    for t, out_name in zip(model.outputs, model.output_names):
        final = g.fresh(out_name)
        g.nodes.append(h.make_node("Identity", [names[id(t)]], [final], name=final))
        outputs.append(h.make_tensor_value_info(final, onnx.TensorProto.FLOAT,
                                                ["batch", *t.shape[1:]]))
    graph = h.make_graph(g.nodes, model.name, inputs, outputs, g.initializers)
    proto = h.make_model(graph, producer_name="LayerLoom",
                         opset_imports=[h.make_opsetid("", opset)])
    proto.ir_version = min(proto.ir_version, 9)      # readable by older runtimes too
    onnx.checker.check_model(proto)
    return proto


def export_onnx(model, filepath, opset: int = OPSET) -> Path:
    """Write ``model`` as an ONNX file (atomically); returns the path."""
    proto = onnx_model(model, opset)
    path = Path(os.fspath(filepath))
    with atomic_path(path) as tmp:
        tmp.write_bytes(proto.SerializeToString())
    return path
