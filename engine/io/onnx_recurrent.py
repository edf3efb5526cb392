"""Recurrent layers as ONNX's LSTM / GRU / RNN ops (for :mod:`engine.io.onnx_export`).

ONNX's recurrent ops take time-major input ``(T, N, D)`` and per-direction weights
``W (dirs, G·U, D)``, ``R (dirs, G·U, U)``, ``B (dirs, 2·G·U)`` (input then recurrent biases);
``Y`` is ``(T, dirs, N, U)`` in input time order and ``Y_h`` the last state ``(dirs, N, U)``.

* LSTM: Keras's gates (i, f, c, o) are ONNX's (i, o, f, c); activations f, g, h =
  recurrent_activation, activation, activation.
* GRU: both use (z, r, h); Keras's ``reset_after=True`` is ``linear_before_reset=1``, its
  bias (2, 3U) being the input and the recurrent bias; with ``reset_after=False`` the single
  bias is the input bias.
* SimpleRNN: one gate.

Keras's ``go_backwards`` returns the sequence in processing order (reversed), ONNX in input
order, so such sequences are reversed back; Bidirectional's merge modes combine the two
directions' outputs.
"""
from __future__ import annotations

import numpy as np

from engine.io.onnx_graph import OnnxExportError

ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "linear": "Affine",
               "hard_sigmoid": "HardSigmoid"}
# (alpha, beta) of the ONNX activations that take them
ACTIVATION_PARAMS = {"Affine": (1.0, 0.0), "HardSigmoid": (1.0 / 6.0, 0.5)}


def _weights(layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W (G·U, D), R (G·U, U), B (2·G·U)) of one direction in ONNX's gate order."""
    kernel = np.asarray(layer.kernel.value)
    rec = np.asarray(layer.recurrent_kernel.value)
    u = layer.units
    g = kernel.shape[1] // u
    if layer.bias is None:
        bias = np.zeros(2 * g * u, np.float32)
    elif type(layer).__name__ == "GRU" and layer.reset_after:
        bias = np.asarray(layer.bias.value).reshape(-1)                   # (input, recurrent)
    else:
        bias = np.concatenate([np.asarray(layer.bias.value), np.zeros(g * u, np.float32)])
    if type(layer).__name__ == "LSTM":
        order = [0, 3, 1, 2]                                           # i f c o → i o f c
        kernel, rec = (np.concatenate([a[:, k * u:(k + 1) * u] for k in order], axis=1)
                       for a in (kernel, rec))
        bias = np.concatenate([bias[half * g * u:(half + 1) * g * u][k * u:(k + 1) * u]
                               for half in (0, 1) for k in order])
    return kernel.T, rec.T, bias


def _activation_names(layer) -> list[str]:
    from engine import activations
    names = [activations.get(layer.recurrent_activation).name] \
        if type(layer).__name__ in ("LSTM", "GRU") else []
    act = activations.get(layer.activation).name
    names += [act] * (2 if type(layer).__name__ == "LSTM" else 1)
    out = []
    for n in names:
        if n not in ACTIVATIONS:
            raise OnnxExportError(f"{layer.where}: activation {n!r} has no form in ONNX's "
                                  f"recurrent ops (sigmoid, tanh, relu, linear, hard_sigmoid)")
        out.append(ACTIVATIONS[n])
    return out


def check_recurrent(layer) -> str | None:
    """Why ``layer`` (a recurrent layer) cannot be exported, or None."""
    if layer.stateful:
        return "stateful recurrent layers have no ONNX form"
    if layer.return_state:
        return "return_state is not exported (only the output sequence or last output)"
    try:
        _activation_names(layer)
    except OnnxExportError as e:
        return str(e)
    return None


def recurrent(g, layers: list, x: str, base: str, merge_mode: str | None = "concat"
              ) -> str:
    """One recurrent layer, or the forward and backward layers of a Bidirectional wrapper,
    on the batch-major ``x`` (N, T, D); returns the batch-major output."""
    first = layers[0]
    kind = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}[type(first).__name__]
    parts = [_weights(lyr) for lyr in layers]
    w, r, b = (np.stack([p[k] for p in parts]) for k in range(3))
    acts = [a for lyr in layers for a in _activation_names(lyr)]
    attrs = {"hidden_size": first.units, "activations": acts,
             "direction": "bidirectional" if len(layers) == 2 else
             ("reverse" if first.go_backwards else "forward")}
    params = [ACTIVATION_PARAMS.get(a) for a in acts]
    if any(params):
        attrs["activation_alpha"] = [p[0] if p else 0.0 for p in params]
        attrs["activation_beta"] = [p[1] if p else 0.0 for p in params]
    if kind == "GRU":
        attrs["linear_before_reset"] = int(bool(first.reset_after))
    xt = g.op("Transpose", [x], base, perm=[1, 0, 2])
    outs = g.op(kind, [xt, g.const(w, f"{base}/W"), g.const(r, f"{base}/R"),
                       g.const(b, f"{base}/B")], base, outputs=2, **attrs)
    y, y_h = outs
    dirs = len(layers)
    if not first.return_sequences:
        last = g.op("Transpose", [y_h], base, perm=[1, 0, 2])           # (N, dirs, U)
        return _merge_directions(g, last, dirs, first.units, merge_mode, base, axis=1)
    seq = g.op("Transpose", [y], base, perm=[2, 0, 1, 3])               # (N, T, dirs, U)
    if dirs == 1 and first.go_backwards:                              # Keras: reversed order
        seq = _reverse_time(g, seq, base)
    return _merge_directions(g, seq, dirs, first.units, merge_mode, base, axis=2)


def _reverse_time(g, seq: str, base: str) -> str:
    big = np.iinfo(np.int64).max
    return g.op("Slice", [seq, g.ints([-1], f"{base}/start"), g.ints([-big], f"{base}/end"),
                          g.ints([1], f"{base}/axis"), g.ints([-1], f"{base}/step")], base)


def _merge_directions(g, y: str, dirs: int, units: int, mode, base: str, axis: int) -> str:
    """``y`` with a directions axis at ``axis`` → Keras's output for ``mode``."""
    if dirs == 1:
        return g.op("Squeeze", [y, g.ints([axis], f"{base}/dir_axis")], base)
    if mode == "concat":        # forward then backward along the last axis
        shape = [0] * axis + [dirs * units]
        return g.op("Reshape", [y, g.ints(shape, f"{base}/concat_shape")], base)
    fwd, bwd = g.op("Split", [y, g.ints([1, 1], f"{base}/split")], base, outputs=2, axis=axis)
    fwd = g.op("Squeeze", [fwd, g.ints([axis], f"{base}/fwd_axis")], base)
    bwd = g.op("Squeeze", [bwd, g.ints([axis], f"{base}/bwd_axis")], base)
    if mode == "sum":
        return g.op("Add", [fwd, bwd], base)
    if mode == "mul":
        return g.op("Mul", [fwd, bwd], base)
    if mode == "ave":
        return g.op("Mean", [fwd, bwd], base)
    raise OnnxExportError(f"Bidirectional merge_mode {mode!r} has no single ONNX output")
