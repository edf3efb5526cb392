"""Keras's preprocessing layers that live inside a model: Rescaling.

A model that starts with ``Rescaling(1 / 255)`` takes raw pixel values, in LayerLoom and in Keras
after export (the layer is saved in the .h5 like any other).
"""
from __future__ import annotations

import math

import numpy as np

from engine.layers.base import Layer
from engine.registry import Param, register


@register("Core", "Multiplies inputs by `scale` and adds `offset` (e.g. 1/255 for pixels).",
          [Param("scale", "float", None, "Factor, e.g. 0.00392157 (1/255)."),
           Param("offset", "float", 0.0, "Added after scaling, e.g. -1 with scale 1/127.5.")],
          key_params=("scale", "offset"))
class Rescaling(Layer):
    supports_masking = True

    def _validate(self):
        for name in ("scale", "offset"):
            value = getattr(self, name)
            if value is None or isinstance(value, bool) or \
                    not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
                raise ValueError(f"{self.where}: argument '{name}' expects a finite number, got "
                                 f"{value!r}")
        self.scale, self.offset = float(self.scale), float(self.offset)

    def forward(self, x, training=False):
        dt = x.dtype.type if x.dtype.kind == "f" else np.float32
        y = x.astype(dt(0).dtype, copy=False) * dt(self.scale)
        if self.offset:
            y += dt(self.offset)
        return y

    def backward(self, dy):
        return dy * dy.dtype.type(self.scale)
