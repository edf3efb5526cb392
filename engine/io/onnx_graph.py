"""A small builder for ONNX graphs (used by :mod:`engine.io.onnx_export`): unique value names,
constants as initializers, one call per node, and the activations every layer shares.

Only :mod:`engine.io.onnx_export` creates it, after importing ``onnx`` (the [onnx] extra).
"""
from __future__ import annotations

import math

import numpy as np


class OnnxExportError(ValueError):
    """The model cannot be written as ONNX; the message names the layers and why."""


class OnnxGraph:
    def __init__(self, onnx):
        self.onnx = onnx
        self.helper = onnx.helper
        self.nodes: list = []
        self.initializers: list = []
        self._used: set[str] = set()

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self._used:
            name, k = f"{base}_{k}", k + 1
        self._used.add(name)
        return name

    def const(self, value, base: str, dtype=np.float32) -> str:
        name = self.fresh(base)
        arr = np.asarray(value, dtype=dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def ints(self, values, base: str) -> str:
        return self.const(np.asarray(values, dtype=np.int64), base, np.int64)

    def op(self, op_type: str, inputs: list[str], base: str, outputs: int = 1,
           **attrs) -> str | list[str]:
        names = [self.fresh(f"{base}/{op_type}" + (f"_{i}" if outputs > 1 else ""))
                 for i in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, inputs, names, name=names[0],
                                                **attrs))
        return names[0] if outputs == 1 else names

    # ---------------------------------------------------------------- layout helpers
    def to_channels_first(self, x: str, rank: int, base: str) -> str:
        """(N, ..., C) → (N, C, ...)."""
        return self.op("Transpose", [x], base, perm=[0, rank - 1, *range(1, rank - 1)])

    def to_channels_last(self, x: str, rank: int, base: str) -> str:
        """(N, C, ...) → (N, ..., C)."""
        return self.op("Transpose", [x], base, perm=[0, *range(2, rank), 1])

    # ---------------------------------------------------------------- activations
    def activation(self, act, x: str, base: str) -> str:
        """``act`` (an engine activation object) applied to ``x``."""
        name = act.name
        simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus",
                  "softsign": "Softsign", "exponential": "Exp"}
        if name == "linear":
            return x
        if name in simple:
            return self.op(simple[name], [x], base)
        if name == "softmax":
            return self.op("Softmax", [x], base, axis=-1)
        if name == "elu":
            return self.op("Elu", [x], base, alpha=float(act.alpha))
        if name == "selu":
            return self.op("Selu", [x], base, alpha=float(act.alpha), gamma=float(act.scale))
        if name == "hard_sigmoid":
            return self.op("HardSigmoid", [x], base, alpha=1.0 / 6.0, beta=0.5)
        if name in ("swish", "silu"):
            return self.op("Mul", [x, self.op("Sigmoid", [x], base)], base)
        if name == "mish":
            return self.op("Mul", [x, self.op("Tanh", [self.op("Softplus", [x], base)], base)],
                           base)
        if name == "gelu":      # ½x(1 + erf(x/√2)), Keras's exact form
            erf = self.op("Erf", [self.op("Mul", [x, self.const(1 / math.sqrt(2), "rsqrt2")],
                                          base)], base)
            half_x = self.op("Mul", [x, self.const(0.5, "half")], base)
            return self.op("Mul", [half_x, self.op("Add", [erf, self.const(1.0, "one")], base)],
                           base)
        if hasattr(act, "negative_slope"):           # relu, leaky_relu, relu6, custom relu
            return self.relu(x, act.max_value, act.negative_slope, act.threshold, base)
        raise OnnxExportError(f"activation {name!r} has no ONNX form")

    def relu(self, x: str, max_value, negative_slope: float, threshold: float,
             base: str) -> str:
        """Keras's relu(x, negative_slope, max_value, threshold)."""
        if threshold == 0.0 and negative_slope == 0.0:
            y = self.op("Relu", [x], base)
        elif threshold == 0.0:
            y = self.op("LeakyRelu", [x], base, alpha=float(negative_slope))
        else:
            t = self.const(threshold, "threshold")
            leak = self.op("Mul", [self.op("Sub", [x, t], base),
                                   self.const(negative_slope, "slope")], base)
            y = self.op("Where", [self.op("GreaterOrEqual", [x, t], base), x, leak], base)
        if max_value is not None:
            y = self.op("Min", [y, self.const(max_value, "max_value")], base)
        return y
