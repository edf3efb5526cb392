"""Lambda: a layer whose computation is a Python function (``Lambda(lambda x: ops.sum(x, -1))``).

The function runs like a user layer's ``call``: on arrays in inference, recorded on a tape when
training, so it is differentiated when written with engine ops. Its output shape is
``output_shape`` when given, else inferred by running it on zero batches. It is saved as its
source text (engine.saving.python_code); loading a file that holds one runs that code, so it
needs the user's consent (``safe_mode=False``). A function given as text (the canvas's Lambda
node) is compiled the same way.
"""
from __future__ import annotations

from typing import Any

from engine.layers.base import Layer
from engine.registry import Param, register


def _code():
    from engine.saving import python_code   # (engine.saving imports the models: not at load)
    return python_code


@register("Core", "Applies a Python function (written with ops) to its input, e.g. "
          "lambda x: ops.sum(x, axis=-1).",
          [Param("function", "function", None, "The function: a lambda or a def, e.g. "
                 "lambda x: x * 2.", suggested="lambda x: x"),
           Param("output_shape", "shape", None, "Output shape of one sample (empty: found by "
                 "running the function).", optional=True, advanced=True)],
          key_params=("function",))
class Lambda(Layer):
    """``Lambda(function, output_shape=None, mask=None, arguments=None)``."""

    extra_config = ("mask", "arguments")
    holds_code = True

    def __init__(self, function=None, output_shape=None, mask=None, arguments=None, **kwargs):
        # (the layer's computed output_shape is another attribute: keep the argument apart)
        self.output_shape_arg = None if output_shape is None else \
            output_shape if callable(output_shape) else tuple(output_shape)
        super().__init__(function, None, **kwargs)
        self.mask = mask
        self.arguments = dict(arguments or {})
        self._has_output_shape = self.output_shape_arg is not None

    def _validate(self) -> None:
        if self.function is None:
            raise ValueError(f"{self.where}: argument 'function' is required, e.g. "
                             f"Lambda(lambda x: x * 2)")
        self._fn = _code().load_function(self.function, self.where)
        if not callable(self._fn):
            raise ValueError(f"{self.where}: argument 'function' must be callable, got "
                             f"{self._fn!r:.60}")

    def call(self, inputs, mask=None):
        return self._fn(inputs, **self.arguments)

    def compute_output_shape(self, input_shape):
        shape = self.output_shape_arg
        if callable(shape):
            return shape(input_shape)
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return (batch,) + tuple(shape)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    @property
    def source(self) -> str | None:
        """The function's source text (what a saved file holds)."""
        return _code().source_of(_code().function_config(self.function))

    def get_config(self) -> dict[str, Any]:
        cfg = super().get_config()
        cfg["function"] = _code().function_config(self.function)
        cfg["output_shape"] = None if self.output_shape_arg is None or \
            callable(self.output_shape_arg) else list(self.output_shape_arg)
        if self.arguments:
            cfg["arguments"] = dict(self.arguments)
        return cfg
