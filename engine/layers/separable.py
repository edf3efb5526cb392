"""Depthwise and separable convolutions (channels-last): DepthwiseConv2D, DepthwiseConv1D,
SeparableConv2D, SeparableConv1D.

A depthwise convolution filters every input channel on its own with ``depth_multiplier``
kernels (no sum over channels); a separable convolution follows it with a 1×1 convolution
to ``filters`` channels — the same receptive field as Conv2D at a fraction of the weights.
Weights as Keras: ``depthwise_kernel`` (kh, kw, cin, depth_multiplier) (1-D: (k, cin, dm)),
``pointwise_kernel`` (1, 1, cin·dm, filters) (1-D: (1, cin·dm, filters)), ``bias``. The 1-D
layers run as 2-D ones of height 1.
"""
from __future__ import annotations

import numpy as np

from engine import activations
from engine.kernels.depthwise import depthwise_dk, depthwise_dx, depthwise_forward
from engine.layers.base import Layer
from engine.layers.conv import CHANNELS_LAST
from engine.layers.core import ACTIVATION_PARAM, USE_BIAS_PARAM
from engine.registry import Param, register


def _weight(name: str, kind: str, default, what: str) -> Param:
    help_ = {"initializer": f"How the {what} is initialized.",
             "regularizer": f"Penalty on the {what} added to the loss (l1, l2, l1_l2).",
             "constraint": f"Constraint applied to the {what} after each update."}[kind]
    return Param(name, kind, default, help_, optional=default is None, advanced=True)


def _params(rank: int, separable: bool) -> list[Param]:
    """Keras's positional order: DepthwiseConv(kernel_size, strides, padding, depth_multiplier,
    ...); SeparableConv(filters, kernel_size, strides, padding, data_format, dilation_rate,
    depth_multiplier, ...)."""
    kernel = [Param("kernel_size", "ints", None, "Size of the window, e.g. 3 or (3, 3).",
                    length=rank, min=1, suggested=3),
              Param("strides", "ints", 1, "Step of the window.", length=rank, min=1),
              Param("padding", "choice", "valid", "'valid': no padding; 'same': pad so that "
                    "the output has ceil(input / stride) positions.", choices=("valid", "same"))]
    multiplier = Param("depth_multiplier", "int", 1, "Filters per input channel in the "
                       "depthwise step.", min=1)
    layout = [CHANNELS_LAST, Param("dilation_rate", "ints", 1, "Spacing between kernel taps.",
                                   length=rank, min=1, advanced=True)]
    inits = [_weight("depthwise_initializer", "initializer", "glorot_uniform",
                     "depthwise kernel")]
    regs = [_weight("depthwise_regularizer", "regularizer", None, "depthwise kernel")]
    cons = [_weight("depthwise_constraint", "constraint", None, "depthwise kernel")]
    if separable:
        inits.append(_weight("pointwise_initializer", "initializer", "glorot_uniform",
                             "pointwise kernel"))
        regs.append(_weight("pointwise_regularizer", "regularizer", None, "pointwise kernel"))
        cons.append(_weight("pointwise_constraint", "constraint", None, "pointwise kernel"))
    tail = [ACTIVATION_PARAM, USE_BIAS_PARAM,
            *inits, _weight("bias_initializer", "initializer", "zeros", "bias"),
            *regs, _weight("bias_regularizer", "regularizer", None, "bias"),
            *cons, _weight("bias_constraint", "constraint", None, "bias")]
    if separable:
        filters = Param("filters", "int", None, "Number of output channels (after the 1×1 "
                        "step).", min=1, suggested=32)
        return [filters, *kernel, *layout, multiplier, *tail]
    return [*kernel, multiplier, *layout, *tail]


def same_padding(size: int, k: int, stride: int, dilation: int) -> tuple[int, int, int]:
    """TensorFlow's 'same': (output size, padding before, padding after)."""
    eff = (k - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return out, total // 2, total - total // 2


class _Depthwise(Layer):
    rank = 2
    separable = False
    has_activation_output = True

    def _validate(self):
        if self.kernel_size is None:
            raise ValueError(f"{self.where}: argument 'kernel_size' is required, e.g. 3")
        if self.separable and self.filters is None:
            raise ValueError(f"{self.where}: argument 'filters' is required (output channels)")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{self.where}: strides {self.strides} and dilation_rate "
                             f"{self.dilation_rate} cannot both be above 1")
        self._act = activations.get(self.activation)
        self.fused_output_grad = False

    def _geometry(self):
        """(kh, kw), (sh, sw), (dh, dw): a 1-D layer is a 2-D one of height 1."""
        if self.rank == 1:
            return (1,) + self.kernel_size, (1,) + self.strides, (1,) + self.dilation_rate
        return self.kernel_size, self.strides, self.dilation_rate

    def _check_input(self, input_shape):
        want = self.rank + 2
        if len(input_shape) != want:
            dims = "(batch, steps, channels)" if self.rank == 1 else \
                "(batch, height, width, channels)"
            raise ValueError(f"{self.where}: expects {want}-D input {dims}, got shape "
                             f"{tuple(input_shape)}")
        if input_shape[-1] is None:
            raise ValueError(f"{self.where}: the number of input channels must be known")

    def _sizes(self, spatial):
        """Output sizes and (before, after) paddings of the (height, width) axes."""
        spatial = (1,) + tuple(spatial) if self.rank == 1 else tuple(spatial)
        out, pads = [], []
        for size, k, s, d in zip(spatial, *self._geometry()):
            if size is None:
                out.append(None)
                pads.append((0, 0))
                continue
            if self.padding == "same":
                o, before, after = same_padding(size, k, s, d)
            else:
                o, before, after = (size - (k - 1) * d - 1) // s + 1, 0, 0
            if o < 1:
                raise ValueError(f"{self.where}: kernel_size {self.kernel_size} (dilation "
                                 f"{self.dilation_rate}) is larger than its input "
                                 f"{tuple(spatial[2 - self.rank:])}; use padding='same' or "
                                 f"a smaller kernel")
            out.append(o)
            pads.append((before, after))
        return out, pads

    def build(self, input_shape):
        self._check_input(input_shape)
        self._sizes(input_shape[1:-1])
        cin, dm = input_shape[-1], self.depth_multiplier
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", tuple(self.kernel_size) + (cin, dm), self.depthwise_initializer,
            self.depthwise_regularizer, self.depthwise_constraint)
        if self.separable:
            self.pointwise_kernel = self.add_weight(
                "pointwise_kernel", (1,) * self.rank + (cin * dm, self.filters),
                self.pointwise_initializer, self.pointwise_regularizer,
                self.pointwise_constraint)
        units = self.filters if self.separable else cin * dm
        self.bias = (self.add_weight("bias", (units,), self.bias_initializer,
                                     self.bias_regularizer, self.bias_constraint)
                     if self.use_bias else None)
        self.need_dx = True

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape)
        out, _ = self._sizes(input_shape[1:-1])
        units = self.filters if self.separable else input_shape[-1] * self.depth_multiplier
        return (input_shape[0],) + tuple(out[2 - self.rank:]) + (units,)

    def forward(self, x, training=False):
        x4 = x[:, None] if self.rank == 1 else x
        n, h, w, c = x4.shape
        (oh, ow), pads = self._sizes((h, w) if self.rank == 2 else (w,))
        xp = np.ascontiguousarray(np.pad(x4, ((0, 0), pads[0], pads[1], (0, 0))))
        (kh, kw), (sh, sw), (dh, dw) = self._geometry()
        k4 = self.depthwise_kernel.value.reshape(kh, kw, c, self.depth_multiplier)
        d = np.empty((n, oh, ow, c * self.depth_multiplier), dtype=xp.dtype)
        depthwise_forward(xp, k4, sh, sw, dh, dw, d)
        z = d.reshape(-1, d.shape[-1])
        if self.separable:
            z = z @ self.pointwise_kernel.value.reshape(-1, self.filters)
        elif self.bias is not None:
            z = z.copy()
        y = activations.with_bias(self._act, z, self.bias)
        self._cache = (x4.shape, xp, d, z, y, pads)
        out = y.reshape(n, oh, ow, -1)
        return out[:, 0] if self.rank == 1 else out

    def backward(self, dy):
        # z = depthwise(x)·P + b:  dP = dᵀ·dz,  db = Σ dz,  dd = dz·Pᵀ,
        # dK[tap, c, m] = Σ x[·, tap, c]·dd[·, c·M+m],  dx[tap, c] += dd[·, c·M+m]·K[tap, c, m]
        shape4, xp, d, z, y, pads = self._cache
        units = z.shape[-1]
        dy2 = np.ascontiguousarray(dy).reshape(-1, units)
        dz = dy2 if self.fused_output_grad else self._act.backward(z, y, dy2)
        if self.bias is not None:
            np.sum(dz, axis=0, out=self.bias.grad)
        if self.separable:
            pw = self.pointwise_kernel.value.reshape(-1, self.filters)
            np.matmul(d.reshape(-1, d.shape[-1]).T, dz,
                      out=self.pointwise_kernel.grad.reshape(pw.shape))
            dd = dz @ pw.T
        else:
            dd = dz
        dd4 = np.ascontiguousarray(dd, dtype=xp.dtype).reshape(d.shape)
        (kh, kw), (sh, sw), (dh, dw) = self._geometry()
        c, dm = shape4[-1], self.depth_multiplier
        dk = np.empty((kh, kw, c, dm), dtype=xp.dtype)
        depthwise_dk(xp, dd4, sh, sw, dh, dw, dk)
        self.depthwise_kernel.grad[...] = dk.reshape(self.depthwise_kernel.shape)
        if not self.need_dx:
            return None
        dxp = np.empty_like(xp)
        depthwise_dx(dd4, self.depthwise_kernel.value.reshape(kh, kw, c, dm), sh, sw, dh, dw,
                     dxp)
        (t, _), (lft, _) = pads
        dx = dxp[:, t:t + shape4[1], lft:lft + shape4[2]]
        return np.ascontiguousarray(dx[:, 0] if self.rank == 1 else dx)


@register("Convolution", "Depthwise 2-D convolution: every input channel filtered on its own "
          "(depth_multiplier kernels each), no mixing of channels.", _params(2, False),
          key_params=("kernel_size", "depth_multiplier"))
class DepthwiseConv2D(_Depthwise):
    rank = 2


@register("Convolution", "Depthwise 1-D convolution over sequences: every channel filtered on "
          "its own.", _params(1, False), key_params=("kernel_size", "depth_multiplier"))
class DepthwiseConv1D(_Depthwise):
    rank = 1


@register("Convolution", "Separable 2-D convolution: a depthwise convolution, then a 1×1 "
          "convolution to `filters` channels (far fewer weights than Conv2D).",
          _params(2, True), key_params=("filters", "kernel_size", "activation"))
class SeparableConv2D(_Depthwise):
    rank = 2
    separable = True


@register("Convolution", "Separable 1-D convolution over sequences: depthwise, then 1×1 to "
          "`filters` channels.", _params(1, True),
          key_params=("filters", "kernel_size", "activation"))
class SeparableConv1D(_Depthwise):
    rank = 1
    separable = True
