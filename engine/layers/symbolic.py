"""The symbolic tensors of the Functional API: :class:`KerasTensor` (a shape plus the layer call
that made it) and :class:`Node` (one call of a layer on symbolic tensors)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.layers.base import Layer

Shape = tuple  # (None, d1, d2, ...)


def _symbolic(name: str, *args):
    from engine.layers.op_call import symbolic_op
    return symbolic_op(name, args, {})


class KerasTensor:
    """A symbolic tensor of the Functional API: a shape plus the layer call that made it.
    Python operators and engine ops on it add an op step to the graph (``x * 2``, ``x[:, 0]``,
    ``ops.mean(x, axis=1)``), as in Keras 3. ``_keras_mask``: the symbolic mask flowing with it,
    if any (engine/layers/masking.py)."""

    _keras_tensor = True
    _keras_mask = None

    def __init__(self, shape: Shape, dtype: str = "float32", node: Node | None = None,
                 index: int = 0, name: str | None = None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node
        self.index = index
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        src = self.node.layer.name if self.node else "?"
        return f"<KerasTensor shape={self.shape} dtype={self.dtype} from '{src}'>"

    def __add__(self, o):
        return _symbolic("add", self, o)

    def __radd__(self, o):
        return _symbolic("add", o, self)

    def __sub__(self, o):
        return _symbolic("subtract", self, o)

    def __rsub__(self, o):
        return _symbolic("subtract", o, self)

    def __mul__(self, o):
        return _symbolic("multiply", self, o)

    def __rmul__(self, o):
        return _symbolic("multiply", o, self)

    def __truediv__(self, o):
        return _symbolic("divide", self, o)

    def __rtruediv__(self, o):
        return _symbolic("divide", o, self)

    def __pow__(self, o):
        return _symbolic("power", self, o)

    def __matmul__(self, o):
        return _symbolic("matmul", self, o)

    def __rmatmul__(self, o):
        return _symbolic("matmul", o, self)

    def __neg__(self):
        return _symbolic("negative", self)

    def __abs__(self):
        return _symbolic("absolute", self)

    def __getitem__(self, key):
        return _symbolic("get_item", self, key)


class Node:
    """One call of a layer on symbolic tensors. ``template`` (None for ``layer(x)`` or
    ``layer([a, b])``) rebuilds a user layer's call arguments from the inputs; ``out_template``
    its output structure (a tuple, a dict ...) from the outputs."""

    def __init__(self, layer: Layer, inputs: list[KerasTensor], output_shapes: list[Shape],
                 output_dtype, template=None, out_template=None):
        self.layer = layer
        self.inputs = inputs
        dtypes = output_dtype if isinstance(output_dtype, list) else \
            [output_dtype] * len(output_shapes)
        self.outputs = [KerasTensor(s, d, self, i)
                        for i, (s, d) in enumerate(zip(output_shapes, dtypes))]
        self.template = template
        self.out_template = out_template
