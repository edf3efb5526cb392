"""Convolution and pooling ops (Keras 3's ``keras.ops.nn`` names), channels-last, 1-3 spatial axes.

Forward reads every window at once through a strided view (``sliding_window_view``: no copy until
the product); backward adds each kernel tap's share back into the padded input, one slice per tap
(9 slices for a 3×3 kernel), so no scatter of single elements is needed.

Shapes: inputs (batch, *spatial, channels); conv kernel (*kernel_size, in_channels, filters);
depthwise kernel (*kernel_size, in_channels, multiplier).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine.ops.tape import as_data, record

_LETTERS = "defg"   # spatial axes in einsum subscripts (up to 3) and their kernel taps: "pqrs"
_TAPS = "pqrs"


def _tuple(v, rank: int, what: str) -> tuple:
    t = tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v),) * rank
    if len(t) != rank:
        raise ValueError(f"{what} must have {rank} values for {rank}-D inputs, got {v!r}")
    return t


def _check_format(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"data_format={data_format!r} is not supported; the engine is "
                         f"channels_last")


def _pads(size: tuple, k: tuple, s: tuple, d: tuple, padding: str) -> list[tuple[int, int]]:
    """Per spatial axis (before, after) padding, as Keras/TensorFlow pad for 'same'."""
    padding = padding.lower()
    if padding == "valid":
        return [(0, 0)] * len(size)
    if padding != "same":
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    out = []
    for n, kk, ss, dd in zip(size, k, s, d):
        eff = (kk - 1) * dd + 1
        total = max((math.ceil(n / ss) - 1) * ss + eff - n, 0)
        out.append((total // 2, total - total // 2))
    return out


class _Geometry:
    """Window geometry of one conv/pool call: padding, output size, the slice of each tap."""

    def __init__(self, shape: tuple, k: tuple, s: tuple, d: tuple, padding: str):
        self.rank = len(k)
        self.k, self.s, self.d = k, s, d
        self.pads = _pads(shape[1:-1], k, s, d, padding)
        self.padded = tuple(n + a + b for n, (a, b) in zip(shape[1:-1], self.pads))
        self.out = tuple((n - ((kk - 1) * dd + 1)) // ss + 1
                         for n, kk, ss, dd in zip(self.padded, k, s, d))
        if any(o <= 0 for o in self.out):
            raise ValueError(f"the window {k} (dilation {d}) is larger than the input's spatial "
                             f"size {tuple(shape[1:-1])}")

    def pad(self, x: np.ndarray, value=0.0) -> np.ndarray:
        if not any(a or b for a, b in self.pads):
            return x
        return np.pad(x, [(0, 0)] + self.pads + [(0, 0)], constant_values=value)

    def windows(self, xp: np.ndarray) -> np.ndarray:
        """(batch, *out, channels, *k) strided view of the padded input."""
        eff = tuple((kk - 1) * dd + 1 for kk, dd in zip(self.k, self.d))
        v = sliding_window_view(xp, eff, axis=tuple(range(1, self.rank + 1)))
        key = (slice(None),) + tuple(slice(None, None, ss) for ss in self.s) + (slice(None),) \
            + tuple(slice(None, None, dd) for dd in self.d)
        return v[key][(slice(None),) + tuple(slice(0, o) for o in self.out)]

    def taps(self):
        """(tap index tuple, slice of the padded input that tap reads for every output)."""
        for tap in itertools.product(*(range(kk) for kk in self.k)):
            key = tuple(slice(t * dd, t * dd + (o - 1) * ss + 1, ss)
                        for t, dd, ss, o in zip(tap, self.d, self.s, self.out))
            yield tap, (slice(None),) + key + (slice(None),)

    def unpad(self, xp: np.ndarray) -> np.ndarray:
        key = tuple(slice(a, a + n - a - b) for (a, b), n in zip(self.pads, self.padded))
        return xp[(slice(None),) + key + (slice(None),)]


def _geometry(x, kernel_size, strides, padding, dilation_rate, data_format) -> _Geometry:
    _check_format(data_format)
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"expects inputs of rank 3-5 (batch, *spatial, channels), got shape "
                         f"{x.shape}")
    k = _tuple(kernel_size, rank, "kernel size")
    s = _tuple(strides if strides is not None else k, rank, "strides")
    d = _tuple(dilation_rate, rank, "dilation_rate")
    return _Geometry(x.shape, k, s, d, padding)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (cross-correlation, as Keras): (batch, *spatial, cin) with a kernel
    (*k, cin, filters) → (batch, *out, filters)."""
    x, w = np.asarray(as_data(inputs)), np.asarray(as_data(kernel))
    geo = _geometry(x, w.shape[:-2], strides, padding, dilation_rate, data_format)
    if w.shape[-2] != x.shape[-1]:
        raise ValueError(f"conv: the kernel has {w.shape[-2]} input channels, the inputs have "
                         f"{x.shape[-1]} (grouped convolution is not supported)")
    r = geo.rank
    sp, tp = _LETTERS[:r], _TAPS[:r]
    win = geo.windows(geo.pad(x))
    y = np.einsum(f"n{sp}c{tp},{tp}co->n{sp}o", win, w, optimize=True)

    def vjp(g, need):
        dx = dw = None
        if need[1]:
            dw = np.einsum(f"n{sp}c{tp},n{sp}o->{tp}co", win, g, optimize=True)
        if need[0]:
            dxp = np.zeros((x.shape[0],) + geo.padded + (x.shape[-1],), g.dtype)
            for tap, key in geo.taps():
                dxp[key] += np.tensordot(g, w[tap], axes=([-1], [-1]))
            dx = geo.unpad(dxp)
        return (dx, dw)
    return record(y.astype(np.result_type(x, w), copy=False), (inputs, kernel), vjp)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """Each input channel convolved with its own ``multiplier`` kernels: kernel
    (*k, cin, multiplier) → (batch, *out, cin·multiplier)."""
    x, w = np.asarray(as_data(inputs)), np.asarray(as_data(kernel))
    geo = _geometry(x, w.shape[:-2], strides, padding, dilation_rate, data_format)
    r = geo.rank
    sp, tp = _LETTERS[:r], _TAPS[:r]
    win = geo.windows(geo.pad(x))
    y5 = np.einsum(f"n{sp}c{tp},{tp}cm->n{sp}cm", win, w, optimize=True)
    y = y5.reshape(y5.shape[:-2] + (-1,))

    def vjp(g, need):
        g5 = g.reshape(y5.shape)
        dx = dw = None
        if need[1]:
            dw = np.einsum(f"n{sp}c{tp},n{sp}cm->{tp}cm", win, g5, optimize=True)
        if need[0]:
            dxp = np.zeros((x.shape[0],) + geo.padded + (x.shape[-1],), g.dtype)
            for tap, key in geo.taps():
                dxp[key] += np.einsum("...cm,cm->...c", g5, w[tap])
            dx = geo.unpad(dxp)
        return (dx, dw)
    return record(y, (inputs, kernel), vjp)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    """Depthwise convolution followed by a 1×1 convolution."""
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(y, pointwise_kernel, 1, "valid", data_format, 1)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Largest value per window; the gradient goes to it (the first one on ties)."""
    x = np.asarray(as_data(inputs))
    geo = _geometry(x, pool_size, strides if strides is not None else pool_size, padding, 1,
                    data_format)
    r = geo.rank
    win = geo.windows(geo.pad(x, value=-np.inf))
    flat = win.reshape(win.shape[:r + 2] + (-1,))
    arg = np.argmax(flat, axis=-1)
    y = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]

    def vjp(g, need):
        dxp = np.zeros((x.shape[0],) + geo.padded + (x.shape[-1],), g.dtype)
        for i, (tap, key) in enumerate(geo.taps()):
            dxp[key] += np.where(arg == i, g, 0)
        return (geo.unpad(dxp),)
    return record(y, (inputs,), vjp)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Mean per window ('same' padding averages only the real values, as Keras)."""
    x = np.asarray(as_data(inputs))
    geo = _geometry(x, pool_size, strides if strides is not None else pool_size, padding, 1,
                    data_format)
    r = geo.rank
    axes = tuple(range(r + 2, 2 * r + 2))
    total = np.sum(geo.windows(geo.pad(x)), axis=axes)
    ones = np.ones((1,) + x.shape[1:-1] + (1,), x.dtype)
    count = np.sum(geo.windows(geo.pad(ones)), axis=axes)
    y = total / count

    def vjp(g, need):
        share = g / count
        dxp = np.zeros((x.shape[0],) + geo.padded + (x.shape[-1],), g.dtype)
        for _, key in geo.taps():
            dxp[key] += share
        return (geo.unpad(dxp),)
    return record(y.astype(x.dtype, copy=False), (inputs,), vjp)


def _transpose_size(n: int, k: int, s: int, d: int, padding: str, output_padding) -> int:
    """Keras's output length of a transposed convolution along one axis."""
    eff = (k - 1) * d + 1
    if padding.lower() == "valid":
        extra = max(eff, s) - eff if output_padding is None else output_padding
        return (n - 1) * s + eff + extra
    if output_padding is None:
        return n * s
    return (n - 1) * s + eff - 2 * (eff // 2) + output_padding


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    """Transposed convolution (the gradient of ``conv`` w.r.t. its input): (batch, *spatial,
    cin) with a kernel (*k, filters, cin) → (batch, *out, filters), out as Keras computes it."""
    x, w = np.asarray(as_data(inputs)), np.asarray(as_data(kernel))
    _check_format(data_format)
    rank = x.ndim - 2
    k = _tuple(w.shape[:-2], rank, "kernel size")
    s = _tuple(strides, rank, "strides")
    d = _tuple(dilation_rate, rank, "dilation_rate")
    ops_ = (None,) * rank if output_padding is None else _tuple(output_padding, rank,
                                                                "output_padding")
    out = tuple(_transpose_size(n, kk, ss, dd, padding, op)
                for n, kk, ss, dd, op in zip(x.shape[1:-1], k, s, d, ops_))
    if w.shape[-1] != x.shape[-1]:
        raise ValueError(f"conv_transpose: the kernel takes {w.shape[-1]} input channels, the "
                         f"inputs have {x.shape[-1]}")
    geo = _Geometry((x.shape[0],) + out + (w.shape[-2],), k, s, d, padding)
    if geo.out != tuple(x.shape[1:-1]):
        raise ValueError(f"conv_transpose: output_padding {output_padding} does not fit input "
                         f"{x.shape[1:-1]} with strides {s}")
    yp = np.zeros((x.shape[0],) + geo.padded + (w.shape[-2],), np.result_type(x, w))
    for tap, key in geo.taps():
        yp[key] += np.tensordot(x, w[tap], axes=([-1], [-1]))
    y = geo.unpad(yp)

    def vjp(g, need):
        gp = geo.pad(np.asarray(g))
        dx = np.zeros(x.shape, g.dtype) if need[0] else None
        dw = np.zeros(w.shape, g.dtype) if need[1] else None
        spatial = list(range(rank + 1))
        for tap, key in geo.taps():
            gk = gp[key]
            if dx is not None:
                dx += np.tensordot(gk, w[tap], axes=([-1], [0]))
            if dw is not None:
                dw[tap] = np.tensordot(gk, x, axes=(spatial, spatial))
        return (dx, dw)
    return record(np.ascontiguousarray(y), (inputs, kernel), vjp)
