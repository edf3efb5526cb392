"""Conv1DTranspose: the transposed 1-D convolution, run as :class:`Conv2DTranspose` on an
image of height 1.

Its public arguments are 1-D (``kernel_size=(k,)``) as Keras's; after construction the layer
keeps the 2-D form its parent computes with — ``(1, k)``, a height-1 window — and
:meth:`get_config` gives the 1-D values back. The kernel has Keras's shape (k, filters,
in_channels); the parent only ever reads it as a (taps·filters, in_channels) matrix, which
both shapes give.
"""
from __future__ import annotations

import numpy as np

from engine.layers.conv import Conv2DTranspose, _add_kernel_and_bias, _conv_params
from engine.registry import Param, register

_PARAMS_2D = {p.name for p in _conv_params(2)}


def _params() -> list[Param]:
    one = _conv_params(1)
    padding = Param("padding", "choice", "valid", "'valid' or 'same' (the output is input × "
                    "strides).", choices=("valid", "same"))
    return [*one[:3], padding,
            Param("output_padding", "ints", None, "Extra steps at the end of the output "
                  "(< strides).", length=1, min=0, optional=True, advanced=True),
            *one[4:6], *one[7:]]


@register("Convolution", "Transposed 1-D convolution: upsamples sequences with learned "
          "kernels (the reverse of Conv1D).", _params(),
          key_params=("filters", "kernel_size", "strides"))
class Conv1DTranspose(Conv2DTranspose):
    rank = 1
    _ONE_D = ("kernel_size", "strides", "dilation_rate")

    def _validate(self):
        super()._validate()
        for name in self._ONE_D:                        # the height-1 window of the parent
            setattr(self, name, (1,) + tuple(getattr(self, name)))
        if self.output_padding is not None:
            self.output_padding = (0,) + tuple(self.output_padding)

    def get_config(self):
        cfg = super().get_config()
        for name in self._ONE_D + ("output_padding",):
            if cfg.get(name) is not None:
                cfg[name] = list(cfg[name])[1:]
        return cfg

    def build(self, input_shape):
        self._check_input(input_shape)
        self._sizes(1, input_shape[1])
        _add_kernel_and_bias(self, (self.kernel_size[1], self.filters, input_shape[-1]))

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape)
        (_, ow), _ = self._sizes(1, input_shape[1])
        return (input_shape[0], ow, self.filters)

    def forward(self, x, training=False):
        return super().forward(np.ascontiguousarray(x)[:, None], training)[:, 0]

    def backward(self, dy):
        dx = super().backward(np.ascontiguousarray(dy)[:, None])
        return None if dx is None else dx[:, 0]
