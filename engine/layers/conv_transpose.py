"""Transposed convolutions ("deconvolutions"): Conv2DTranspose, and Conv1DTranspose, the 1-D one,
run as a Conv2DTranspose on an image of height 1.

Conv1DTranspose's public arguments are 1-D (``kernel_size=(k,)``) as Keras's; after construction
the layer keeps the 2-D form its parent computes with — ``(1, k)``, a height-1 window — and
:meth:`get_config` gives the 1-D values back. The kernel has Keras's shape (k, filters,
in_channels); the parent only ever reads it as a (taps·filters, in_channels) matrix, which
both shapes give.
"""
from __future__ import annotations

import numpy as np

from engine.kernels.conv import col2im, conv_output_size, im2col
from engine.kernels.conv_gemm import gemm_fused, transpose_backward, transpose_forward
from engine.kernels.gemm import matmul
from engine.layers.base import Layer
from engine.layers.conv import _add_kernel_and_bias, _Conv, _conv_params
from engine.registry import Param, register


def transpose_output_size(size: int, k: int, stride: int, dilation: int, padding: str,
                          output_padding: int | None) -> int:
    """Keras's output length of a transposed convolution."""
    k_eff = k + (k - 1) * (dilation - 1)
    if output_padding is None:
        return size * stride + max(k_eff - stride, 0) if padding == "valid" else size * stride
    pad = k_eff // 2 if padding == "same" else 0
    return (size - 1) * stride + k_eff - 2 * pad + output_padding


@register("Convolution", "Transposed 2-D convolution (\"deconvolution\"): upsamples images "
          "with learned kernels, as in decoders and autoencoders.",
          [*_conv_params(2)[:4],
           Param("output_padding", "ints", None, "Extra rows/columns at the bottom/right of "
                 "the output (each < strides).", length=2, min=0, optional=True, advanced=True),
           *_conv_params(2)[4:6], *_conv_params(2)[7:]],
          key_params=("filters", "kernel_size", "strides"))
class Conv2DTranspose(Layer):
    """The adjoint of Conv2D: its forward is Conv2D's input gradient. Kernel (kh, kw, filters,
    in_channels) as in Keras; output size as Keras's ``deconv_output_length``."""

    rank = 2
    has_activation_output = True

    def _validate(self):
        _Conv._validate(self)
        if self.output_padding is not None:
            for op, st, d in zip(self.output_padding, self.strides, self.dilation_rate):
                if op >= max(st, d):
                    raise ValueError(f"{self.where}: argument 'output_padding' "
                                     f"{self.output_padding} must be smaller than the strides "
                                     f"{self.strides}")

    def _sizes(self, h: int | None, w: int | None):
        """(output sizes, the virtual forward convolution's top/left padding)."""
        out, pads = [], []
        for size, k, s, d, op in zip((h, w), self.kernel_size, self.strides, self.dilation_rate,
                                     self.output_padding or (None, None)):
            if size is None:
                out.append(None)
                pads.append(0)
                continue
            o = transpose_output_size(size, k, s, d, self.padding, op)
            back, pad = conv_output_size(o, k, s, d, self.padding)
            if o < 1 or back != size:
                raise ValueError(f"{self.where}: output_padding {self.output_padding} gives an "
                                 f"output of {o} pixels, which a stride-{s} convolution does "
                                 f"not map back to the input's {size}")
            out.append(o)
            pads.append(pad)
        return out, pads

    _check_input = _Conv._check_input

    def build(self, input_shape):
        self._check_input(input_shape)
        self._sizes(input_shape[1], input_shape[2])
        _add_kernel_and_bias(self, tuple(self.kernel_size) + (self.filters, input_shape[-1]))

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape)
        (oh, ow), _ = self._sizes(input_shape[1], input_shape[2])
        return (input_shape[0], oh, ow, self.filters)

    def forward(self, x, training=False):
        x = np.ascontiguousarray(x)
        n, h, w, c = x.shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
        (oh, ow), (ph, pw) = self._sizes(h, w)
        geo = (kh, kw, sh, sw, dh, dw, ph, pw, h, w)
        kmat = self.kernel.value.reshape(-1, c)               # (kh·kw·filters, cin)
        z = np.empty((n, oh, ow, self.filters), dtype=x.dtype)
        bias = self.bias.value if self.bias is not None else None
        if gemm_fused(x):
            # the bias, and a relu, added per sample inside the kernel (z is then y)
            relu = self._act.name == "relu"
            transpose_forward(x, kmat, geo, z, bias, relu)
            y = z if relu else self._act.forward(z)
        else:
            cols = matmul(x.reshape(-1, c), kmat.T)           # every input pixel's footprint
            col2im(np.ascontiguousarray(cols), *geo, z)
            if bias is not None:
                z += bias
            y = self._act.forward(z)
        self._cache = (x, z, y, geo)
        return y

    def backward(self, dy):
        # z = col2im(x·Kᵀ) + b:  dx = im2col(dz)·K,  dK = (im2col(dz))ᵀ·x,  db = Σ dz
        x, z, y, geo = self._cache
        n, h, w, c = x.shape
        if gemm_fused(x):
            # relu's mask and the bias gradient inside the kernel
            relu = self._act.name == "relu" and not self.fused_output_grad
            dz = dy if relu or self.fused_output_grad else self._act.backward(z, y, dy)
            return transpose_backward(dz, x, self.kernel.value.reshape(-1, c), geo,
                                      self.kernel.grad.reshape(-1, c), self.need_dx, y, relu,
                                      self.bias.grad if self.bias is not None else None)
        dz = dy if self.fused_output_grad else self._act.backward(z, y, dy)
        dz = np.ascontiguousarray(dz, dtype=x.dtype)
        if self.bias is not None:
            np.sum(dz.reshape(-1, self.filters), axis=0, out=self.bias.grad)
        kh, kw = geo[0], geo[1]
        dcols = np.empty((n * h * w, kh * kw * self.filters), dtype=x.dtype)
        im2col(dz, *geo, dcols)
        matmul(dcols.T, x.reshape(-1, c), self.kernel.grad.reshape(-1, c))
        if not self.need_dx:
            return None
        return matmul(dcols, self.kernel.value.reshape(-1, c)).reshape(x.shape)


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
