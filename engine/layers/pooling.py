"""Pooling layers: windowed max/average (1-D and 2-D) and global pooling. 1-D pools run as 2-D
pools of height 1; max pooling keeps the argmax of every window for its backward pass."""
from __future__ import annotations

import numpy as np

from engine import threading_policy as policy
from engine.kernels.conv import conv_output_size
from engine.kernels.pooling import (avgpool_backward, avgpool_forward, global_mean_backward,
                                    global_mean_forward, maxpool2x2_backward, maxpool2x2_forward,
                                    maxpool_backward, maxpool_forward)
from engine.layers.base import Layer
from engine.registry import Param, register

_FORMAT = Param("data_format", "choice", "channels_last", "Only channels_last is supported.",
                choices=("channels_last",), optional=True, advanced=True)


def _pool_params(rank: int) -> list[Param]:
    return [Param("pool_size", "ints", 2, "Window size.", length=rank, min=1),
            Param("strides", "ints", None, "Window step (default: the pool size).",
                  length=rank, min=1, optional=True),
            Param("padding", "choice", "valid", "'valid' drops incomplete windows; 'same' keeps "
                  "ceil(input / stride) positions.", choices=("valid", "same")),
            _FORMAT]


class _Pool(Layer):
    rank = 2
    mode = "max"

    def _geometry(self):
        pool = self.pool_size
        strides = self.strides or pool
        if self.rank == 1:
            return (1,) + pool, (1,) + strides
        return pool, strides

    def _sizes(self, spatial):
        (kh, kw), (sh, sw) = self._geometry()
        spatial = (1,) + tuple(spatial) if self.rank == 1 else tuple(spatial)
        out, pads = [], []
        for size, k, s in zip(spatial, (kh, kw), (sh, sw)):
            if size is None:
                out.append(None)
                pads.append(0)
                continue
            o, p = conv_output_size(size, k, s, 1, self.padding)
            if o < 1:
                raise ValueError(f"{self.where}: pool_size {self.pool_size} is larger than its "
                                 f"input {tuple(spatial[2 - self.rank:])}; use padding='same'")
            out.append(o)
            pads.append(p)
        return out, pads

    def compute_output_shape(self, input_shape):
        want = self.rank + 2
        if len(input_shape) != want:
            dims = "(batch, steps, channels)" if self.rank == 1 else \
                "(batch, height, width, channels)"
            raise ValueError(f"{self.where}: expects {want}-D input {dims}, got shape "
                             f"{tuple(input_shape)}")
        out, _ = self._sizes(input_shape[1:-1])
        return (input_shape[0],) + tuple(out[2 - self.rank:]) + (input_shape[-1],)

    def forward(self, x, training=False):
        x4 = np.ascontiguousarray(x[:, None] if self.rank == 1 else x)
        n, h, w, c = x4.shape
        (kh, kw), (sh, sw) = self._geometry()
        (oh, ow), (ph, pw) = self._sizes((h, w) if self.rank == 2 else (w,))
        out = np.empty((n, oh, ow, c), dtype=x4.dtype)
        # each output reads a window of inputs: about kh·kw operations per output value
        nworkers = policy.workers(out.size * kh * kw, n)
        if self.mode == "max":
            arg = np.empty((n, oh, ow, c), dtype=np.int32)
            self._two = (kh, kw, sh, sw, ph, pw) == (2, 2, 2, 2, 0, 0)
            if self._two:
                maxpool2x2_forward(x4, out, arg, nworkers)
            else:
                maxpool_forward(x4, kh, kw, sh, sw, ph, pw, out, arg, nworkers)
            self._cache = (x4.shape, arg)
        else:
            count = np.empty((oh, ow), dtype=np.int32)
            avgpool_forward(x4, kh, kw, sh, sw, ph, pw, out, count, nworkers)
            self._cache = (x4.shape, (kh, kw, sh, sw, ph, pw, count))
        return out[:, 0] if self.rank == 1 else out

    def backward(self, dy):
        shape4, extra = self._cache
        dy4 = np.ascontiguousarray(dy[:, None] if self.rank == 1 else dy)
        nworkers = policy.workers(4 * int(np.prod(shape4)), shape4[0])
        if self.mode == "max" and self._two:
            dx = np.empty(shape4, dtype=dy4.dtype)
            maxpool2x2_backward(dy4, extra, dx, nworkers)
        elif self.mode == "max":
            dx = np.empty((shape4[0], int(np.prod(shape4[1:]))), dtype=dy4.dtype)
            maxpool_backward(dy4, extra, dx, nworkers)
            dx = dx.reshape(shape4)
        else:
            dx = np.empty(shape4, dtype=dy4.dtype)
            avgpool_backward(dy4, *extra, dx, nworkers)
        return dx[:, 0] if self.rank == 1 else dx


@register("Pooling", "Maximum over 2-D windows: keeps the strongest response per window.",
          _pool_params(2), key_params=("pool_size",))
class MaxPooling2D(_Pool):
    rank, mode = 2, "max"


@register("Pooling", "Average over 2-D windows.", _pool_params(2), key_params=("pool_size",))
class AveragePooling2D(_Pool):
    rank, mode = 2, "avg"


@register("Pooling", "Maximum over 1-D windows of a sequence.", _pool_params(1),
          key_params=("pool_size",))
class MaxPooling1D(_Pool):
    rank, mode = 1, "max"


@register("Pooling", "Average over 1-D windows of a sequence.", _pool_params(1),
          key_params=("pool_size",))
class AveragePooling1D(_Pool):
    rank, mode = 1, "avg"


class _Global(Layer):
    rank = 2
    mode = "avg"
    supports_masking = False

    def compute_output_shape(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"{self.where}: expects {self.rank + 2}-D input, got shape "
                             f"{tuple(input_shape)}")
        if self.keepdims:
            return (input_shape[0],) + (1,) * self.rank + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def _mean_by_kernel(self, x) -> bool:
        """Whether the average runs as global_mean_forward/backward: a C-contiguous float32 or
        float64 array with at least one position (the same values as numpy's mean)."""
        return (self.mode == "avg" and isinstance(x, np.ndarray) and x.flags.c_contiguous
                and x.dtype in (np.float32, np.float64) and x.size > 0)

    def forward(self, x, training=False):
        axes = tuple(range(1, 1 + self.rank))
        self._x = x
        n, c = x.shape[0], x.shape[-1]
        if self._mean_by_kernel(x):
            y = np.empty((n,) + (1,) * self.rank + (c,), x.dtype)
            global_mean_forward(x.reshape(n, -1, c), y.reshape(n, c))
        elif self.mode == "avg":
            y = x.mean(axis=axes, keepdims=True)
        else:
            y = x.max(axis=axes, keepdims=True)
        self._y = y
        return y if self.keepdims else y.reshape(n, c)

    def backward(self, dy):
        x = self._x
        dy = dy.reshape(self._y.shape)
        if self._mean_by_kernel(x) and dy.dtype == x.dtype:
            dx = np.empty(x.shape, x.dtype)
            global_mean_backward(np.ascontiguousarray(dy).reshape(x.shape[0], x.shape[-1]),
                                 dx.reshape(x.shape[0], -1, x.shape[-1]))
            return dx
        if self.mode == "avg":
            count = np.prod(x.shape[1:1 + self.rank])
            return np.broadcast_to(dy / dy.dtype.type(count), x.shape).copy()
        # the gradient goes to the first position holding the maximum
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        first = np.argmax(flat, axis=1)
        dx = np.zeros_like(flat)
        np.put_along_axis(dx, first[:, None, :], dy.reshape(x.shape[0], 1, x.shape[-1]), axis=1)
        return dx.reshape(x.shape)


def _global_params():
    return [_FORMAT, Param("keepdims", "bool", False, "Keep the pooled axes with size 1.",
                           advanced=True)]


@register("Pooling", "Average of each channel over the whole image: (N, H, W, C) → (N, C).",
          _global_params())
class GlobalAveragePooling2D(_Global):
    rank, mode = 2, "avg"


@register("Pooling", "Maximum of each channel over the whole image: (N, H, W, C) → (N, C).",
          _global_params())
class GlobalMaxPooling2D(_Global):
    rank, mode = 2, "max"


@register("Pooling", "Average of each channel over all steps: (N, T, C) → (N, C).",
          _global_params())
class GlobalAveragePooling1D(_Global):
    rank, mode = 1, "avg"


@register("Pooling", "Maximum of each channel over all steps: (N, T, C) → (N, C).",
          _global_params())
class GlobalMaxPooling1D(_Global):
    rank, mode = 1, "max"
