"""The image reshaping layers (channels-last): ZeroPadding2D, Cropping2D, UpSampling2D."""
from __future__ import annotations

import numpy as np

from engine.layers.base import Layer
from engine.layers.conv import CHANNELS_LAST
from engine.registry import Param, register


def _require_image(layer: Layer, input_shape) -> None:
    if len(input_shape) != 4:
        raise ValueError(f"{layer.where}: expects 4-D input (batch, height, width, channels), "
                         f"got {tuple(input_shape)}")



@register("Reshaping", "Pads images with zero rows and columns: (top, bottom), (left, right).",
          [Param("padding", "pairs", 1, "Rows/columns to add: n, (rows, cols) or "
                 "((top, bottom), (left, right)).", length=2),
           CHANNELS_LAST],
          key_params=("padding",))
class ZeroPadding2D(Layer):
    def compute_output_shape(self, input_shape):
        _require_image(self, input_shape)
        (t, b), (lft, r) = self.padding
        h, w = input_shape[1], input_shape[2]
        return (input_shape[0], None if h is None else h + t + b,
                None if w is None else w + lft + r, input_shape[3])

    def forward(self, x, training=False):
        (t, b), (lft, r) = self.padding
        return np.pad(x, ((0, 0), (t, b), (lft, r), (0, 0)))

    def backward(self, dy):
        (t, b), (lft, r) = self.padding
        h, w = dy.shape[1] - t - b, dy.shape[2] - lft - r
        return np.ascontiguousarray(dy[:, t:t + h, lft:lft + w])


@register("Reshaping", "Cuts rows and columns off images: (top, bottom), (left, right).",
          [Param("cropping", "pairs", 0, "Rows/columns to remove: n, (rows, cols) or "
                 "((top, bottom), (left, right)).", length=2),
           CHANNELS_LAST],
          key_params=("cropping",))
class Cropping2D(Layer):
    def compute_output_shape(self, input_shape):
        _require_image(self, input_shape)
        (t, b), (lft, r) = self.cropping
        out = []
        for size, lo, hi, axis in ((input_shape[1], t, b, "height"),
                                   (input_shape[2], lft, r, "width")):
            if size is not None and lo + hi >= size:
                raise ValueError(f"{self.where}: argument 'cropping' removes {lo + hi} of the "
                                 f"input's {size} {axis} pixels; at least one must remain")
            out.append(None if size is None else size - lo - hi)
        return (input_shape[0], out[0], out[1], input_shape[3])

    def forward(self, x, training=False):
        (t, b), (lft, r) = self.cropping
        self._in_shape = x.shape
        return x[:, t:x.shape[1] - b, lft:x.shape[2] - r]

    def backward(self, dy):
        (t, b), (lft, r) = self.cropping
        dx = np.zeros(self._in_shape, dtype=dy.dtype)
        dx[:, t:self._in_shape[1] - b, lft:self._in_shape[2] - r] = dy
        return dx


def bilinear_matrix(n_in: int, factor: int) -> np.ndarray:
    """(n_in·factor, n_in) weights of TensorFlow's bilinear resize with half-pixel centres:
    output pixel i reads input position (i + 0.5) / factor − 0.5, clamped at the edges."""
    n_out = n_in * factor
    pos = (np.arange(n_out) + 0.5) / factor - 0.5
    lo_f = np.floor(pos)
    frac = pos - lo_f
    lo = np.clip(lo_f, 0, n_in - 1).astype(np.int64)
    hi = np.clip(lo_f + 1, 0, n_in - 1).astype(np.int64)
    m = np.zeros((n_out, n_in), np.float64)
    np.add.at(m, (np.arange(n_out), lo), 1 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


@register("Reshaping", "Enlarges images: (N, H, W, C) → (N, H·sh, W·sw, C), repeating pixels "
          "(nearest) or interpolating between them (bilinear).",
          [Param("size", "ints", 2, "Upsampling factors (rows, cols).", length=2, min=1),
           CHANNELS_LAST,
           Param("interpolation", "choice", "nearest", "How new pixels are filled.",
                 choices=("nearest", "bilinear"))],
          key_params=("size", "interpolation"))
class UpSampling2D(Layer):
    def compute_output_shape(self, input_shape):
        _require_image(self, input_shape)
        sh, sw = self.size
        h, w = input_shape[1], input_shape[2]
        return (input_shape[0], None if h is None else h * sh, None if w is None else w * sw,
                input_shape[3])

    def _matrices(self, h: int, w: int, dtype) -> tuple[np.ndarray, np.ndarray]:
        key = (h, w, np.dtype(dtype).str)
        if getattr(self, "_mats_key", None) != key:
            sh, sw = self.size
            self._mats = (bilinear_matrix(h, sh).astype(dtype), bilinear_matrix(w, sw).astype(dtype))
            self._mats_key = key
        return self._mats

    def forward(self, x, training=False):
        sh, sw = self.size
        if self.interpolation == "bilinear":
            ah, aw = self._matrices(x.shape[1], x.shape[2], x.dtype)
            # rows, then columns: y[n, i, j, c] = Σ_h Σ_w ah[i, h] · aw[j, w] · x[n, h, w, c]
            return np.einsum("jw,niwc->nijc", aw, np.einsum("ih,nhwc->niwc", ah, x),
                             optimize=True)
        return np.repeat(np.repeat(x, sh, axis=1), sw, axis=2)

    def backward(self, dy):
        sh, sw = self.size
        n, h, w, c = dy.shape
        if self.interpolation == "bilinear":
            ah, aw = self._matrices(h // sh, w // sw, dy.dtype)
            return np.einsum("ih,niwc->nhwc", ah, np.einsum("jw,nijc->niwc", aw, dy),
                             optimize=True)
        return dy.reshape(n, h // sh, sh, w // sw, sw, c).sum(axis=(2, 4))
