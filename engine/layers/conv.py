"""Convolution layers (channels-last): Conv2D, Conv1D (the padding, cropping and upsampling of
images: image_reshaping.py).

Weights are Keras's: Conv2D kernel (kh, kw, cin, filters), Conv1D kernel (k, cin, filters),
bias (filters,). Conv1D runs as a Conv2D of height 1.
"""
from __future__ import annotations

import numba
import numpy as np

from engine import activations
from engine.kernels import conv_s1, conv_tiles, conv_winograd
from engine.kernels.conv import (
    bias_relu_grad,
    col2im,
    conv_direct_dw,
    conv_direct_dx,
    conv_direct_forward,
    conv_output_size,
    im2col,
)
from engine.kernels.conv_gemm import (
    conv_gemm_backward,
    conv_gemm_forward,
    conv_gemm_pool_backward,
    conv_gemm_pool_forward,
    gemm_fused,
)
from engine.kernels.conv_pool import conv_relu_pool_backward, conv_relu_pool_forward
from engine.kernels.conv_tokens import conv1d_tokens_backward, conv1d_tokens_forward
from engine.kernels.embedding import group_rows
from engine.kernels.gemm import matmul
from engine.layers.base import Layer
from engine.layers.core import ACTIVATION_PARAM, USE_BIAS_PARAM, weight_params
from engine.registry import Param, register

# Up to this many taps (KH·KW·Cin) a strided convolution runs as a direct numba loop rather
# than im2col + sgemm (measured on a 3×3×1 layer: 4.0 ms im2col + 4.9 ms sgemm + 0.9 ms relu →
# 1.6 ms direct). Stride-1 convolutions run on the planes kernels (kernels/conv_s1.py), but
# for the deep 2-D layers below.
DIRECT_MAX_TAPS = 32
# From IM2COL_MIN_TAPS taps (KH·KW·Cin), on an output of at most IM2COL_MAX_POSITIONS positions
# (OH·OW; IM2COL_MAX_POSITIONS_DEEP from IM2COL_DEEP_TAPS taps), a stride-1 convolution runs as
# im2col + sgemm by chunks of samples (kernels/conv_gemm.py: conv_gemm_forward, and
# conv_gemm_pool_forward with a relu and a 2×2 max pool) rather than on the planes kernels
# (kernels/conv_s1.py): the deeper layers of a CNN, many channels on smaller images (2-D only:
# measured on 3×3 kernels). bench/conv_modes.py, 3×3 relu conv + 2×2 max pool, forward + backward,
# batch 32, two threads, time as im2col / time on the planes, both fused with the pool (2026-12-05
# 15:06): 288 taps (32 channels) 0.54 - 0.77 from 8×8 to 26×26 outputs, 0.94 at 32×32 (1.00 - 1.07
# in earlier runs), 1.08 at 64×64, 1.12 at 72×72; 576 taps 0.51 - 0.71 up to 24×24, 0.83 at 32×32,
# 1.02 at 48×48; 1,152 - 2,304 taps 0.22 - 0.64 up to 16×16; with few channels the planes win or
# tie (72 taps 1.35 at 26×26; 144 taps 0.82 at 13×13 but 1.03 at 32×32: left on the planes).
IM2COL_MIN_TAPS = 256
IM2COL_MAX_POSITIONS = 600
IM2COL_DEEP_TAPS = 512
IM2COL_MAX_POSITIONS_DEEP = 1100
# A stride-1 2-D convolution that is not fused with a pool runs on the register tiles
# (kernels/conv_tiles.py) from TILES_MIN_CHANNELS input channels (a multiple of 4),
# TILES_MIN_FILTERS filters and TILES_MIN_POSITIONS output positions (OH·OW).
# bench/conv_modes.py --no-pool, 3×3 relu conv, forward + backward, batch 32, two threads, time
# on the tiles / the faster of the planes and im2col (two runs, 2026-12-06 04:55 and 05:05):
# 32 channels 0.76 - 0.94 from 28×28 to 64×64 with 24 - 64 filters, 0.87 - 0.91 at 16×16; 64
# channels 0.85 - 0.91 at 16×16 and 32×32; 16 channels 0.99 with 32 filters but 1.14 - 1.28
# with 16 (half of each tile's 32 filters idle); 8 channels 1.17 - 1.24; at 8×8 (64 positions)
# 64 channels 0.92 - 1.04, 128 channels 1.05 - 1.14.
TILES_MIN_CHANNELS = 16
TILES_MIN_FILTERS = 24
TILES_MIN_POSITIONS = 128
# Fused with a 2×2 max pool the planes and im2col gain more than the tiles do (bench/conv_modes.py,
# conv + pool, same runs' ratios, 2026-12-06 05:20): tiles / the faster other 0.80 - 0.88 from
# 1,024 positions ('same' 32×32 and 48×48 with 32 - 64 channels, 64×64×32), but 1.01 on
# 74×74×32 'valid' and 1.06 on 32×32×16 (taken all the same: one run, not yet split by
# channels), 0.96 - 1.07 from 400 to 576 positions, 0.97 - 1.00 at 16×16, 1.10 - 1.31 at 13×13
# and 15×15 (valid: 13 wide rows fill 16 tile pixels).
TILES_MIN_POSITIONS_POOLED = 1024
# A 3×3 stride-1 undilated 2-D convolution in float32 runs by Winograd's F(2×2, 3×3)
# (kernels/conv_winograd.py: the forward and the input gradient; the weight gradient as im2col +
# sgemm) from WINOGRAD_MIN_CHANNELS input channels and WINOGRAD_MIN_FILTERS filters on outputs
# of at most WINOGRAD_MAX_POSITIONS positions (OH·OW), and from WINOGRAD_DEEP_CHANNELS on
# outputs of at most WINOGRAD_MAX_POSITIONS_DEEP, with or without a pool fused; before the
# other routes. bench/conv_modes.py (2026-12-06 07:52, batch 32, two threads, forward + backward,
# Winograd / the fastest other route), 3×3 relu conv + 2×2 max pool: 32 channels → 64 filters
# 0.88 - 0.97 from 8×8 to 26×26 outputs; 64 - 256 channels 0.70 - 0.99 up to 48×48 (0.73 -
# 0.77 with 128 - 256 on 8×8 and 16×16); but 32 → 32 filters 0.97 - 1.18 (half of each tile's
# 32 filters idle), 1.03 - 1.24 for 16 and 32 channels from 32×32 (the tiles). Without the
# pool: 0.76 - 0.94 with 64 - 128 channels, 1.02 at 16×16×32 → 64, 1.01 - 1.25 for 32 channels
# from 28×28 (the tiles).
WINOGRAD_MIN_CHANNELS = 32
WINOGRAD_MIN_FILTERS = 64
WINOGRAD_MAX_POSITIONS = 600
WINOGRAD_DEEP_CHANNELS = 64
WINOGRAD_MAX_POSITIONS_DEEP = 2304
# The input gradient by Winograd too from WINOGRAD_DX_MIN_CHANNELS input channels, else im2col's
# dz·Wᵀ and col2im: in the seed CIFAR-10 CNN's training the 15×15×32 → 64 layer's dx by Winograd
# took 2.2 ms, its whole backward as im2col 2.9 (its pooled grid computes 6×6 tiles, the input
# gradient's 8×8, each with 64 channels in); in the VGG-style CNN's, with 64 and 128 channels,
# Winograd's dx 1.29 - 1.60 ms against 1.4 - 1.8 for im2col's (its backward, 3.7 - 4.2 ms, less
# the weight-gradient part, 2.0 - 2.6, in alternating runs). (A Winograd weight gradient, tried:
# 1.5 - 1.9 ms + 0.2 for a separate unpool against 2.0 for im2col's fused one, no gain.)
WINOGRAD_DX_MIN_CHANNELS = 64


# batch slices of the strided fused conv + pool backward, each with its own partial gradients
_NCHUNKS = 8


CHANNELS_LAST = Param("data_format", "choice", "channels_last",
                      "Only channels_last is supported.", choices=("channels_last",),
                      optional=True, advanced=True)


def _add_kernel_and_bias(layer: Layer, kernel_shape: tuple) -> None:
    """The kernel (Keras's layout, given) and the optional bias of a convolution layer."""
    layer.kernel = layer.add_weight("kernel", kernel_shape, layer.kernel_initializer,
                                    layer.kernel_regularizer, layer.kernel_constraint)
    layer.bias = (layer.add_weight("bias", (layer.filters,), layer.bias_initializer,
                                   layer.bias_regularizer, layer.bias_constraint)
                  if layer.use_bias else None)
    layer.need_dx = True


def _conv_params(rank: int) -> list[Param]:
    paddings = ("valid", "same") + (("causal",) if rank == 1 else ())
    return [
        Param("filters", "int", None, "Number of output channels (kernels).", min=1,
              suggested=32),
        Param("kernel_size", "ints", None, "Size of the convolution window, e.g. 3 or (3, 3).",
              length=rank, min=1, suggested=3),
        Param("strides", "ints", 1, "Step of the window.", length=rank, min=1),
        Param("padding", "choice", "valid", "'valid': no padding; 'same': pad so that the output "
              "has ceil(input / stride) positions" + ("; 'causal': pad on the left only"
                                                       if rank == 1 else "") + ".",
              choices=paddings),
        CHANNELS_LAST,
        Param("dilation_rate", "ints", 1, "Spacing between kernel taps (atrous convolution).",
              length=rank, min=1, advanced=True),
        Param("groups", "int", 1, "Grouped convolution (only 1 is supported).", min=1, max=1,
              advanced=True),
        ACTIVATION_PARAM, USE_BIAS_PARAM, *weight_params(),
    ]


class _Conv(Layer):
    rank = 2
    has_activation_output = True
    fresh_input_grad = True

    def _validate(self):
        if self.filters is None:
            raise ValueError(f"{self.where}: argument 'filters' is required (output channels)")
        if self.kernel_size is None:
            raise ValueError(f"{self.where}: argument 'kernel_size' is required, e.g. 3")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{self.where}: strides {self.strides} and dilation_rate "
                             f"{self.dilation_rate} cannot both be above 1")
        self._act = activations.get(self.activation)
        self.fused_output_grad = False

    # (kh, kw), (sh, sw), (dh, dw) in 2-D terms
    def _geometry(self):
        if self.rank == 1:
            return (1,) + self.kernel_size, (1,) + self.strides, (1,) + self.dilation_rate
        return self.kernel_size, self.strides, self.dilation_rate

    def _check_input(self, input_shape):
        want = self.rank + 2
        if len(input_shape) != want:
            dims = "(batch, steps, channels)" if self.rank == 1 else \
                "(batch, height, width, channels)"
            msg = f"{self.where}: expects {want}-D input {dims}, got shape {tuple(input_shape)}"
            if len(input_shape) == want - 1:
                rest = ", ".join(str(d) for d in input_shape[1:])
                msg += (f"; the channel axis is missing: add Reshape(({rest}, 1)) before it, "
                        f"or give data with np.expand_dims(x, -1)")
            raise ValueError(msg)
        if input_shape[-1] is None:
            raise ValueError(f"{self.where}: the number of input channels must be known")

    def _out_sizes(self, spatial):
        (kh, kw), (sh, sw), (dh, dw) = self._geometry()
        spatial = (1,) + tuple(spatial) if self.rank == 1 else tuple(spatial)
        out, pads = [], []
        for size, k, s, d, axis in zip(spatial, (kh, kw), (sh, sw), (dh, dw), ("height", "width")):
            if size is None:
                out.append(None)
                pads.append(0)
                continue
            pad = "valid" if self.padding == "causal" else self.padding
            if self.padding == "causal":
                size = size + (k - 1) * d
            o, p = conv_output_size(size, k, s, d, pad)
            if o < 1:
                ks = self.kernel_size if self.rank == 2 else self.kernel_size[0]
                dil = "" if d == 1 else f" (dilated to {(k - 1) * d + 1})"
                raise ValueError(f"{self.where}: kernel_size {ks}{dil} is larger than its input "
                                 f"{tuple(s_ for s_ in spatial[2 - self.rank:])}; use "
                                 f"padding='same' or a smaller kernel")
            out.append(o)
            pads.append(p)
        return out, pads

    def build(self, input_shape):
        self._check_input(input_shape)
        self._out_sizes(input_shape[1:-1])
        _add_kernel_and_bias(self, tuple(self.kernel_size) + (input_shape[-1], self.filters))

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape)
        out, _ = self._out_sizes(input_shape[1:-1])
        return (input_shape[0],) + tuple(out[2 - self.rank:]) + (self.filters,)

    fuses_when_predicting = True   # conv + pool fused: no statistics, same numbers

    def fuse_next(self, pool) -> bool:
        """Whether training may run this layer and ``pool`` (the next layer, the only one reading
        its output) as one kernel: a relu convolution, stride 1 (any number of channels: on the
        planes, or im2col + sgemm by chunks for the deeper layers, :meth:`_im2col_wins`, or on
        the register tiles for many channels on large images, :meth:`_tiles_win`, or by
        Winograd's F(2×2, 3×3) for 3×3 kernels, :meth:`_winograd_wins`) or with
        few taps, followed by a 2×2 max pool with stride 2, 'valid' (or 'same' on even sizes,
        where it pads nothing). Only the pooled output is stored (the seed CNN's 13×13×32, not
        the 26×26×32 conv output)."""
        from engine.layers.pooling import MaxPooling2D
        if self.rank != 2 or self._act.name != "relu" or not isinstance(pool, MaxPooling2D):
            return False
        kh, kw, cin, _ = self.kernel.value.shape
        out = self.output_shape if isinstance(self.output_shape, tuple) else (None,) * 4
        # 'same' pads nothing on even sizes (and the fused pool drops a last odd row/column)
        no_padding = pool.padding == "valid" or all(
            isinstance(d, int) and d % 2 == 0 for d in out[1:3])
        return ((self.strides == (1, 1) or kh * kw * cin <= DIRECT_MAX_TAPS)
                and no_padding and pool._geometry() == ((2, 2), (2, 2)))

    def _tiles_win(self, c: int, oh, ow, pooled: bool = False) -> bool:
        """Whether this stride-1 convolution over ``c`` channels with an OH × OW output (fused
        with a 2×2 max pool when ``pooled``) runs on the register tiles (TILES_MIN_*)."""
        return (self.rank == 2 and c % conv_tiles.PIXELS == 0 and c >= TILES_MIN_CHANNELS
                and self.filters >= TILES_MIN_FILTERS and isinstance(oh, int)
                and isinstance(ow, int)
                and oh * ow >= (TILES_MIN_POSITIONS_POOLED if pooled else TILES_MIN_POSITIONS))

    def _winograd_wins(self, c: int, oh, ow) -> bool:
        """Whether this convolution over ``c`` channels with an OH × OW output runs by
        Winograd's F(2×2, 3×3) (WINOGRAD_*), float32 inputs and numpy's OpenBLAS provided (the
        caller's gemm_fused)."""
        return (self.rank == 2 and self._geometry() == ((3, 3), (1, 1), (1, 1))
                and c >= WINOGRAD_MIN_CHANNELS and self.filters >= WINOGRAD_MIN_FILTERS
                and isinstance(oh, int) and isinstance(ow, int)
                and oh * ow <= (WINOGRAD_MAX_POSITIONS_DEEP if c >= WINOGRAD_DEEP_CHANNELS
                                else WINOGRAD_MAX_POSITIONS))

    def _winograd_dx(self, c: int) -> bool:
        """Whether this layer on the Winograd route makes its input gradient by Winograd too
        (wanted, and WINOGRAD_DX_MIN_CHANNELS) rather than as im2col's."""
        return self.need_dx and c >= WINOGRAD_DX_MIN_CHANNELS

    def _im2col_wins(self, c: int, oh, ow) -> bool:
        """Whether this stride-1 convolution over ``c`` channels with an OH × OW output runs
        as im2col + sgemm (IM2COL_MIN_TAPS); oh / ow None (unknown): the planes."""
        (kh, kw), _, _ = self._geometry()
        taps = kh * kw * c
        if self.rank != 2 or taps < IM2COL_MIN_TAPS or not (isinstance(oh, int) and
                                                            isinstance(ow, int)):
            return False
        return oh * ow <= (IM2COL_MAX_POSITIONS_DEEP if taps >= IM2COL_DEEP_TAPS
                           else IM2COL_MAX_POSITIONS)

    def fuse_dropout(self, dropout) -> bool:
        """Whether a Dropout right after the pool this layer is fused with (the pool's only
        reader) may run inside the same kernel: stride 1 (any of the routes above), a
        plain Dropout (no noise_shape, 0 < rate < 1). The mask is the one Dropout's own kernels
        draw for the same seed; the gradient passes where the code is not DEAD (relu cut or
        dropped), so no mask array is kept."""
        from engine.layers.core import Dropout
        return (self.rank == 2 and self.strides == (1, 1) and type(dropout) is Dropout
                and dropout.noise_shape is None and 0.0 < dropout.rate < 1.0)

    def _kernel4(self, c: int) -> np.ndarray:
        (kh, kw), _, _ = self._geometry()
        return self.kernel.value.reshape((kh, kw, c, self.filters))

    def _bias_or_zeros(self, dtype) -> np.ndarray:
        return self.bias.value if self.bias is not None else np.zeros(self.filters, dtype=dtype)

    def _bias_grad(self, dtype) -> np.ndarray:
        return self.bias.grad if self.bias is not None else np.empty(self.filters, dtype=dtype)

    def forward_fused(self, x, pool, dropout=None):
        """Training forward of this layer and ``pool`` together (see :meth:`fuse_next`), and of
        ``dropout`` after them when given (:meth:`fuse_dropout`): returns the pool's (or the
        dropout's) output; :meth:`backward` then takes the gradient of that output."""
        x4 = np.ascontiguousarray(x)
        n, h, w, c = x4.shape
        (kh, kw), (sh, sw), (dh, dw) = self._geometry()
        (oh, ow), (ph, pw) = self._out_sizes((h, w))
        kernel4, bias = self._kernel4(c), self._bias_or_zeros(x4.dtype)
        drop = dropout.draw(x4.dtype) if dropout is not None else None
        scale = drop[2] if drop is not None else 1.0
        if self._winograd_wins(c, oh, ow) and gemm_fused(x4):
            out, code = conv_winograd.forward(x4, kernel4, bias, (ph, pw), (oh, ow), True,
                                              numba.get_num_threads(), pool=True, dropout=drop)
            self._cache = ("pooled", x4, out, code, (kh, kw, sh, sw, dh, dw, ph, pw, oh, ow),
                           scale, "winograd")
            return out
        if (sh, sw) == (1, 1) and self._tiles_win(c, oh, ow, pooled=True):
            out, code = conv_tiles.forward(x4, kernel4, bias, (dh, dw), (ph, pw), (oh, ow), True,
                                           numba.get_num_threads(), pool=True, dropout=drop)
            self._cache = ("pooled", x4, out, code, (sh, sw, dh, dw, ph, pw, oh, ow), scale,
                           "tiles")
            return out
        if (sh, sw) == (1, 1) and self._im2col_wins(c, oh, ow) and gemm_fused(x4):
            geo = (kh, kw, sh, sw, dh, dw, ph, pw, oh, ow)
            out, code = conv_gemm_pool_forward(x4, self.kernel.value.reshape(-1, self.filters),
                                               bias, geo, drop)
            self._cache = ("pooled", x4, out, code, geo, scale, "im2col")
            return out
        if (sh, sw) == (1, 1):
            out, code = conv_s1.forward(x4, kernel4, bias, (dh, dw), (ph, pw), (oh, ow),
                                        True, True, numba.get_num_threads(), drop)
        else:
            if drop is not None:
                raise ValueError(f"{self.where}: a fused dropout needs stride 1")
            out = np.empty((n, oh // 2, ow // 2, self.filters), dtype=x4.dtype)
            code = np.empty(out.shape, dtype=np.uint8)
            conv_relu_pool_forward(x4, kernel4, bias, sh, sw, dh, dw, ph, pw, out, code,
                                   numba.get_num_threads())
        self._cache = ("pooled", x4, out, code, (sh, sw, dh, dw, ph, pw, oh, ow), scale,
                       "planes" if (sh, sw) == (1, 1) else "direct")
        return out

    def _backward_pooled(self, dy):
        _, x4, out, code, geo, scale, route = self._cache
        db = self._bias_grad(x4.dtype)
        if route in ("im2col", "winograd"):
            # Winograd: dW and db as im2col, dx from the put-back gradient kept for it (or as
            # im2col: WINOGRAD_DX_MIN_CHANNELS)
            n, h, w, c = x4.shape
            oh, ow, ph, pw = geo[8], geo[9], geo[6], geo[7]
            keep = (np.empty((n * oh * ow, self.filters), np.float32)
                    if route == "winograd" and self._winograd_dx(c) else None)
            dx = conv_gemm_pool_backward(dy, code, scale, x4,
                                         self.kernel.value.reshape(-1, self.filters), geo,
                                         self.kernel.grad.reshape(-1, self.filters), db,
                                         self.need_dx and keep is None, keep)
            if keep is None:
                return dx
            return conv_winograd.input_grad(keep.reshape(n, oh, ow, self.filters),
                                            self._kernel4(c), (ph, pw), (h, w),
                                            numba.get_num_threads())
        sh, sw, dh, dw, ph, pw, oh, ow = geo
        kernel4 = self._kernel4(x4.shape[-1])
        dwt = self.kernel.grad.reshape(kernel4.shape)
        if route == "tiles":
            return conv_tiles.backward(x4, kernel4, dy, out, (dh, dw), (ph, pw), True,
                                       self.need_dx, dwt, db, numba.get_num_threads(),
                                       code=code, out_size=(oh, ow), scale=scale)
        if (sh, sw) == (1, 1):
            return conv_s1.backward(x4, kernel4, dy, out, code, (dh, dw), (ph, pw), (oh, ow),
                                    True, self.need_dx, dwt, db, numba.get_num_threads(), scale)
        dx = np.empty(x4.shape if self.need_dx else (1, 1, 1, 1), dtype=x4.dtype)
        chunks = min(_NCHUNKS, x4.shape[0])
        conv_relu_pool_backward(x4, kernel4, np.ascontiguousarray(dy), out, code, sh, sw, dh,
                                dw, ph, pw, chunks, dwt, db, self.need_dx, dx,
                                numba.get_num_threads())
        return dx if self.need_dx else None

    def forward(self, x, training=False):
        x4 = x[:, None] if self.rank == 1 else x
        left = 0
        if self.padding == "causal":
            left = (self.kernel_size[0] - 1) * self.dilation_rate[0]
            x4 = np.pad(x4, ((0, 0), (0, 0), (left, 0), (0, 0)))
        x4 = np.ascontiguousarray(x4)
        n, h, w, c = x4.shape
        (kh, kw), (sh, sw), (dh, dw) = self._geometry()
        # _out_sizes adds the causal padding itself, so it gets the unpadded length
        (oh, ow), (ph, pw) = self._out_sizes((h, w) if self.rank == 2 else (w - left,))
        if self.rank == 1:
            oh, ph = 1, 0
        geo = (kh, kw, sh, sw, dh, dw, ph, pw, oh, ow)
        kernel4 = self._kernel4(c)
        act = self._act.name
        if (kh, kw, sh, sw, ph, pw) == (1, 1, 1, 1, 0, 0) and c > DIRECT_MAX_TAPS:
            mode, cols = "pointwise", x4.reshape(-1, c)   # 1×1: the pixels are the cols
            z = matmul(cols, self.kernel.value.reshape(-1, self.filters))
            y = activations.with_bias(self._act, z, self.bias)
        elif self._winograd_wins(c, oh, ow) and gemm_fused(x4):
            # 3×3, stride 1, many channels: Winograd's F(2×2, 3×3) (kernels/conv_winograd.py)
            mode, cols = "winograd", x4
            relu = act == "relu"
            z = conv_winograd.forward(x4, kernel4, self._bias_or_zeros(x4.dtype), (ph, pw),
                                      (oh, ow), relu, numba.get_num_threads())
            z = z.reshape(-1, self.filters)
            y = z if relu or act == "linear" else self._act.forward(z)
        elif (sh, sw) == (1, 1) and self._tiles_win(c, oh, ow):
            # many channels, stride 1: register tiles (engine/kernels/conv_tiles.py)
            mode, cols = "tiles", x4
            z = conv_tiles.forward(x4, kernel4, self._bias_or_zeros(x4.dtype), (dh, dw),
                                   (ph, pw), (oh, ow), act == "relu", numba.get_num_threads())
            z = z.reshape(-1, self.filters)
            y = z if act in ("relu", "linear") else self._act.forward(z)
        elif (sh, sw) == (1, 1) and not self._im2col_wins(c, oh, ow):
            # stride 1: the planes kernels (engine/kernels/conv_s1.py), relu fused
            mode, cols = "planes", x4
            z, _ = conv_s1.forward(x4, kernel4, self._bias_or_zeros(x4.dtype), (dh, dw),
                                   (ph, pw), (oh, ow), act == "relu", False,
                                   numba.get_num_threads())
            z = z.reshape(-1, self.filters)
            y = z if act in ("relu", "linear") else self._act.forward(z)
        elif kh * kw * c <= DIRECT_MAX_TAPS:
            mode, cols = "direct", x4
            relu = act == "relu"
            z = np.empty((n, oh, ow, self.filters), dtype=x4.dtype)
            conv_direct_forward(x4, kernel4, self._bias_or_zeros(x4.dtype), sh, sw, dh, dw, ph,
                                pw, relu, z)
            z = z.reshape(-1, self.filters)
            y = z if relu else self._act.forward(z)
        elif gemm_fused(x4):
            # im2col + sgemm by chunks of samples, each in the worker's cache (kernels/conv_gemm.py)
            mode, cols = "im2col", x4
            relu = act == "relu"
            z = conv_gemm_forward(x4, self.kernel.value.reshape(-1, self.filters),
                                  self._bias_or_zeros(x4.dtype), geo, relu)
            z = z.reshape(-1, self.filters)
            y = z if relu or act == "linear" else self._act.forward(z)
        else:
            mode = "im2col-batch"
            cols = np.empty((n * oh * ow, kh * kw * c), dtype=x4.dtype)
            im2col(x4, *geo, cols)
            z = matmul(cols, self.kernel.value.reshape(-1, self.filters))
            y = activations.with_bias(self._act, z, self.bias)
        self._cache = (x4.shape, cols, z, y, mode, geo)
        out = y.reshape(n, oh, ow, self.filters)
        return out[:, 0] if self.rank == 1 else out

    def backward(self, dy):
        # z = cols·W + b:  dW = colsᵀ·dz,  db = Σ dz,  dcols = dz·Wᵀ,  dx = col2im(dcols)
        if self._cache[0] == "pooled":
            return self._backward_pooled(dy)
        shape4, cols, z, y, mode, geo = self._cache
        f = self.filters
        kh, kw, sh, sw, dh, dw, ph, pw, oh, ow = geo
        c = shape4[-1]
        dy2 = np.ascontiguousarray(dy).reshape(-1, f)
        relu = self._act.name == "relu" and not self.fused_output_grad
        if mode in ("planes", "tiles"):
            # relu's mask is applied in the kernel; other activations' gradients here
            dz = dy2 if relu or self.fused_output_grad or self._act.name == "linear" \
                else np.ascontiguousarray(self._act.backward(z, y, dy2))
            y4 = y.reshape(shape4[0], oh, ow, f)
            kernel4, dwt = (self.kernel.value.reshape(kh, kw, c, f),
                            self.kernel.grad.reshape(kh, kw, c, f))
            if mode == "tiles":
                dx = conv_tiles.backward(cols, kernel4, dz.reshape(y4.shape), y4, (dh, dw),
                                         (ph, pw), relu, self.need_dx, dwt,
                                         self._bias_grad(dy2.dtype), numba.get_num_threads())
            else:
                dx = conv_s1.backward(cols, kernel4, dz.reshape(y4.shape), y4, None, (dh, dw),
                                      (ph, pw), (oh, ow), relu, self.need_dx, dwt,
                                      self._bias_grad(dy2.dtype), numba.get_num_threads())
            return self._input_grad_layout(dx)
        dz = self._output_grad(z, y, dy2)
        if mode in ("im2col", "winograd"):
            dz4 = dz.reshape(shape4[0], oh, ow, f)
            wino_dx = mode == "winograd" and self._winograd_dx(c)
            dx = conv_gemm_backward(dz4, cols, self.kernel.value.reshape(-1, f), geo,
                                    self.kernel.grad.reshape(-1, f), self.need_dx and not wino_dx)
            if wino_dx:
                dx = conv_winograd.input_grad(dz4, self.kernel.value, (ph, pw), shape4[1:3],
                                              numba.get_num_threads())
            return self._input_grad_layout(dx)
        if mode == "direct":
            dz4 = dz.reshape(shape4[0], oh, ow, f)
            conv_direct_dw(cols, dz4, sh, sw, dh, dw, ph, pw,
                           self.kernel.grad.reshape(kh, kw, c, f))
        else:
            matmul(cols.T, dz, self.kernel.grad.reshape(-1, f))
        if not self.need_dx:
            return None
        if mode == "direct":
            dx = np.empty(shape4, dtype=dz.dtype)
            conv_direct_dx(dz.reshape(shape4[0], oh, ow, f),
                           self.kernel.value.reshape(kh, kw, c, f), sh, sw, dh, dw, ph, pw, dx)
        else:
            dcols = matmul(dz, self.kernel.value.reshape(-1, f).T)
            if mode == "pointwise":
                dx = dcols.reshape(shape4)
            else:
                dx = np.empty(shape4, dtype=dcols.dtype)
                col2im(dcols, *geo, dx)
        return self._input_grad_layout(dx)

    def _output_grad(self, z, y, dy2):
        """dz (M, F), the gradient of z from dy2, the gradient of y = act(z) (all (M, F)), and
        the bias gradient written: relu's mask and the bias sum in one pass (bias_relu_grad);
        with fused_output_grad dy2 already is dz."""
        relu = self._act.name == "relu" and not self.fused_output_grad
        if self.fused_output_grad:
            dz = dy2
        elif relu:
            dz = np.empty_like(dy2)
            bias_relu_grad(y, dy2, dz, self._bias_grad(dy2.dtype))
        else:
            dz = np.ascontiguousarray(self._act.backward(z, y, dy2))
        if self.bias is not None and not relu:
            np.sum(dz, axis=0, out=self.bias.grad)
        return dz

    def _input_grad_layout(self, dx):
        """dx of the (causally padded, 4-D) input → the layer input's gradient."""
        if dx is None:
            return None
        if self.padding == "causal":
            dx = dx[:, :, (self.kernel_size[0] - 1) * self.dilation_rate[0]:]
        return dx[:, 0] if self.rank == 1 else dx


@register("Convolution", "2-D convolution over images (N, H, W, C): learns `filters` kernels.",
          _conv_params(2), key_params=("filters", "kernel_size", "activation"))
class Conv2D(_Conv):
    rank = 2


@register("Convolution", "1-D convolution over sequences (N, steps, channels).",
          _conv_params(1), key_params=("filters", "kernel_size", "activation"))
class Conv1D(_Conv):
    rank = 1
    fresh_input_grad = True      # both backwards below return a new array

    def forward_tokens(self, rows: np.ndarray, inv: np.ndarray, training: bool = True):
        """Forward when the input x[n, t] is rows[inv[n, t]]: rows (P, d) the distinct input
        vectors, inv (N, T) int32 (Embedding → Conv1D in training, Embedding.fuse_next). Each
        distinct row is multiplied by every tap of the kernel once, q = rows @ [W_0 | … |
        W_{k−1}] (P·d·k·F multiply-adds instead of N·O·k·d·F), and each output sums its taps'
        slices of q (engine/kernels/conv_tokens.py). :meth:`backward` then returns the
        gradient of rows."""
        n, t_len = inv.shape
        (k,), (stride,), (dil,) = self.kernel_size, self.strides, self.dilation_rate
        (_, out_len), (_, left) = self._out_sizes((t_len,))
        if self.padding == "causal":
            left = (k - 1) * dil
        d, f = rows.shape[1], self.filters
        taps = np.ascontiguousarray(self.kernel.value.transpose(1, 0, 2)).reshape(d, k * f)
        q = matmul(rows, taps)
        z = np.empty((n, out_len, f), rows.dtype)
        relu = self._act.name == "relu"
        conv1d_tokens_forward(q, inv, self._bias_or_zeros(rows.dtype), z, k, dil, stride, left,
                              relu, np.zeros(1, np.int64), numba.get_num_threads())
        y = z if relu or self._act.name == "linear" else self._act.forward(z)
        self._cache = ("tokens", rows, inv, taps, z, y, (k, dil, stride, left))
        return y

    def backward(self, dy):
        if self._cache[0] != "tokens":
            return super().backward(dy)
        _, rows, inv, taps, z, y, (k, dil, stride, left) = self._cache
        f = self.filters
        dy2 = np.ascontiguousarray(dy, dtype=y.dtype).reshape(-1, f)
        dz = self._output_grad(z.reshape(-1, f), y.reshape(-1, f), dy2).reshape(z.shape)
        starts, order = group_rows(inv.reshape(-1), rows.shape[0])
        dq = np.empty((rows.shape[0], taps.shape[1]), dz.dtype)
        conv1d_tokens_backward(dq, dz, starts, order, inv.shape[1], k, dil, stride, left,
                               np.zeros(1, np.int64), numba.get_num_threads())
        d = rows.shape[1]
        self.kernel.grad[...] = matmul(rows.T, dq).reshape(d, k, f).transpose(1, 0, 2)
        return matmul(dq, taps.T)
