"""Random image augmentation layers (channels-last), as Keras 3's: RandomFlip, RandomRotation,
RandomZoom, RandomTranslation, RandomContrast, RandomBrightness, RandomCrop.

They change images only while training (``fit``); in inference they pass images through —
except RandomCrop, whose output always has its target size (see :class:`RandomCrop`). Each
layer draws its random parameters from its own generator (``seed``), per image as Keras does.
The geometric ones build Keras's output→input affine maps and resample with one numba kernel
(:func:`engine.kernels.augment.affine_transform_tf`: TensorFlow's resampling, which Keras 3
uses — bilinear or nearest, its four fill modes);
backward passes send gradients back through the same sampling, so the layers may sit anywhere
in a model.
"""
from __future__ import annotations

import math

import numpy as np

from engine import backend
from engine.kernels.augment import FILL_MODES, affine_transform_tf, affine_transform_tf_backward
from engine.layers.base import Layer
from engine.layers.conv import CHANNELS_LAST
from engine.registry import Param, register

CATEGORY = "Augmentation"
SEED = Param("seed", "int", None, "Seed of the layer's random numbers (empty: different every "
             "run).", optional=True, advanced=True)
_FILL = [Param("fill_mode", "choice", "reflect", "What is read outside the image: 'reflect' "
               "(dcba|abcd|dcba), 'wrap', 'nearest' (aaaa|abcd|dddd) or 'constant' "
               "(fill_value).", choices=("reflect", "wrap", "constant", "nearest")),
         Param("interpolation", "choice", "bilinear", "How pixels between pixels are read.",
               choices=("bilinear", "nearest"), advanced=True)]
_FILL_VALUE = Param("fill_value", "float", 0.0, "The value read outside the image with "
                    "fill_mode='constant'.", advanced=True)
VALUE_RANGE = Param("value_range", "range", (0.0, 255.0), "The range of the pixel values, "
                    "(0, 255) or (0, 1): results are clipped to it.")


def factor_param(name: str, help_: str, lo: float = -1.0, hi: float = 1.0,
                 default=None, optional: bool = False) -> Param:
    return Param(name, "range", default, help_, min=lo, max=hi, optional=optional,
                 suggested=0.1 if default is None and not optional else None)


def bounds(factor, lowest: float) -> tuple[float, float]:
    """Keras's (lower, upper) of a factor: a pair, sorted; a number f → (max(−|f|, lowest),
    |f|)."""
    if isinstance(factor, (tuple, list)):
        lo, hi = sorted(float(v) for v in factor)
        return lo, hi
    f = abs(float(factor))
    return max(-f, lowest), f


class _Random(Layer):
    """Shared: images in, images out; the random generator; identity outside training."""

    def _validate(self):
        self._rng = np.random.default_rng(self.seed)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{self.where}: expects images (batch, height, width, channels), "
                             f"got shape {tuple(input_shape)}")
        return input_shape

    def forward(self, x, training=False):
        x = backend.as_float(x)
        if not training:
            self._cache = None
            return x
        return self._augment(x)

    def backward(self, dy):
        return dy if self._cache is None else self._augment_backward(dy)


# ---------------------------------------------------------------------------- geometry
def to_kernel_maps(transforms: np.ndarray, h: int, w: int) -> np.ndarray:
    """Keras's output→input transforms [a0 a1 a2 b0 b1 b2 0 0] (column x_in = a0·x + a1·y + a2,
    row y_in = b0·x + b1·y + b2, x the column and y the row of the output pixel) as the
    (N, 2, 3) centre-based maps of :func:`affine_transform_tf` (row first)."""
    a0, a1, a2, b0, b1, b2 = (transforms[:, i] for i in range(6))
    cr, cq = (h - 1) * 0.5, (w - 1) * 0.5
    maps = np.empty((len(transforms), 2, 3))
    maps[:, 0, 0], maps[:, 0, 1], maps[:, 0, 2] = b1, b0, b2 + b1 * cr + b0 * cq - cr
    maps[:, 1, 0], maps[:, 1, 1], maps[:, 1, 2] = a1, a0, a2 + a1 * cr + a0 * cq - cq
    return maps


class _RandomAffine(_Random):
    """Rotation, zoom, translation: one random affine map per image, resampled."""

    def _transforms(self, n: int, h: int, w: int) -> np.ndarray:
        """(n, 8) Keras transforms drawn for this batch."""
        raise NotImplementedError

    def _augment(self, x):
        n, h, w, _ = x.shape
        maps = to_kernel_maps(self._transforms(n, h, w), h, w)
        order = 0 if self.interpolation == "nearest" else 1
        out = np.empty_like(x)
        affine_transform_tf(np.ascontiguousarray(x), maps, order, FILL_MODES[self.fill_mode],
                            x.dtype.type(self.fill_value), out)
        self._cache = (maps, order)
        return out

    def _augment_backward(self, dy):
        maps, order = self._cache
        dy = np.ascontiguousarray(dy)
        return affine_transform_tf_backward(dy, maps, order, FILL_MODES[self.fill_mode],
                                            np.empty_like(dy))


def rotation_transforms(degrees: np.ndarray, h: int, w: int) -> np.ndarray:
    """Keras's rotation about the image centre by ``degrees`` (one per image)."""
    t = np.radians(degrees)
    cos, sin = np.cos(t), np.sin(t)
    cx, cy = 0.5 * (w - 1), 0.5 * (h - 1)
    out = np.zeros((len(t), 8))
    out[:, 0], out[:, 1] = cos, -sin
    out[:, 2] = cx - cx * cos + cy * sin
    out[:, 3], out[:, 4] = sin, cos
    out[:, 5] = cy - cx * sin - cy * cos
    return out


@register(CATEGORY, "Rotates training images by a random angle: factor is a fraction of a "
          "full turn, e.g. 0.1 → up to ±36°.",
          [factor_param("factor", "Largest rotation as a fraction of 2π (0.1 → ±36°), or a "
                        "(lower, upper) pair."), *_FILL, SEED, _FILL_VALUE, CHANNELS_LAST],
          key_params=("factor",))
class RandomRotation(_RandomAffine):
    def _transforms(self, n, h, w):
        lo, hi = bounds(self.factor, -1.0)
        return rotation_transforms(self._rng.uniform(lo * 360.0, hi * 360.0, n), h, w)


@register(CATEGORY, "Zooms training images in or out by a random amount: a positive factor "
          "zooms out, a negative one in (0.2 → ±20%).",
          [factor_param("height_factor", "Vertical zoom range as a fraction, or a (lower, "
                        "upper) pair; positive zooms out."),
           factor_param("width_factor", "Horizontal zoom range; empty: the same zoom as the "
                        "height (keeps the aspect ratio).", optional=True),
           *_FILL, SEED, _FILL_VALUE, CHANNELS_LAST],
          key_params=("height_factor", "width_factor"))
class RandomZoom(_RandomAffine):
    def _validate(self):
        super()._validate()
        for name in ("height_factor", "width_factor"):
            value = getattr(self, name)
            vals = value if isinstance(value, tuple) else (value,)
            if value is not None and any(v <= -1.0 for v in vals):
                raise ValueError(f"{self.where}: argument '{name}' must be above -1 (a zoom "
                                 f"in by 100% or more leaves no image), got {value!r}")

    def _transforms(self, n, h, w):
        lo, hi = bounds(self.height_factor, -1.0)
        zy = self._rng.uniform(1.0 + lo, 1.0 + hi, n)
        if self.width_factor is None:
            zx = zy
        else:
            lo, hi = bounds(self.width_factor, -1.0)
            zx = self._rng.uniform(1.0 + lo, 1.0 + hi, n)
        out = np.zeros((n, 8))
        out[:, 0], out[:, 2] = zx, (w - 1) / 2.0 * (1.0 - zx)
        out[:, 4], out[:, 5] = zy, (h - 1) / 2.0 * (1.0 - zy)
        return out


@register(CATEGORY, "Shifts training images by a random fraction of their height and width "
          "(0.1 → up to ±10%).",
          [factor_param("height_factor", "Vertical shift range as a fraction of the height, "
                        "or a (lower, upper) pair."),
           factor_param("width_factor", "Horizontal shift range as a fraction of the width, "
                        "or a (lower, upper) pair."),
           *_FILL, SEED, _FILL_VALUE, CHANNELS_LAST],
          key_params=("height_factor", "width_factor"))
class RandomTranslation(_RandomAffine):
    def _transforms(self, n, h, w):
        lo, hi = bounds(self.height_factor, -1.0)
        dy = self._rng.uniform(lo, hi, n) * h
        lo, hi = bounds(self.width_factor, -1.0)
        dx = self._rng.uniform(lo, hi, n) * w
        out = np.zeros((n, 8))
        out[:, 0], out[:, 2] = 1.0, -dx
        out[:, 4], out[:, 5] = 1.0, -dy
        return out


# ---------------------------------------------------------------------------- flips
@register(CATEGORY, "Flips half of the training images (chosen at random), horizontally, "
          "vertically or both.",
          [Param("mode", "choice", "horizontal_and_vertical", "Which flips: 'horizontal' "
                 "(left ↔ right), 'vertical' or 'horizontal_and_vertical' (an image chosen "
                 "is flipped both ways, as Keras 3 does).",
                 choices=("horizontal", "vertical", "horizontal_and_vertical")),
           SEED, CHANNELS_LAST], key_params=("mode",))
class RandomFlip(_Random):
    def _flip(self, x, chosen):
        out = x.copy()
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            out[chosen] = out[chosen][:, :, ::-1]
        if self.mode in ("vertical", "horizontal_and_vertical"):
            out[chosen] = out[chosen][:, ::-1]
        return out

    def _augment(self, x):
        chosen = self._rng.uniform(size=len(x)) <= 0.5
        self._cache = chosen
        return self._flip(x, chosen)

    def _augment_backward(self, dy):
        return self._flip(dy, self._cache)       # a flip is its own inverse


# ---------------------------------------------------------------------------- colour
class _ColourShift(_Random):
    def _validate(self):
        super()._validate()
        vr = self.value_range
        if not isinstance(vr, tuple) or not vr[0] < vr[1]:
            raise ValueError(f"{self.where}: argument 'value_range' must be a (low, high) pair "
                             f"with low < high, got {vr!r}")

    def _finish(self, x, pre):
        lo, hi = self.value_range
        self._inside = (pre >= lo) & (pre <= hi)
        return np.clip(pre, lo, hi).astype(x.dtype, copy=False)


@register(CATEGORY, "Changes the contrast of training images by a random factor around each "
          "image's per-channel mean.",
          [factor_param("factor", "Contrast range: the factor is drawn from [1 − lower, 1 + "
                        "upper] (Keras 3: a single number f gives [1, 1 + f]).", lo=-1.0),
           VALUE_RANGE, SEED], key_params=("factor",))
class RandomContrast(_ColourShift):
    def _validate(self):
        super()._validate()
        f = self.factor
        if (isinstance(f, tuple) and (f[0] > 1 or f[1] < 0)) or \
                (not isinstance(f, tuple) and f is not None and f < 0):
            raise ValueError(f"{self.where}: argument 'factor' must be a number in [0, 1] or a "
                             f"(lower, upper) pair with lower <= 1 and upper >= 0, got {f!r}")
    def _augment(self, x):
        lo, hi = bounds(self.factor, 0.0)
        f = self._rng.uniform(1.0 - lo, 1.0 + hi, len(x)).astype(x.dtype)[:, None, None, None]
        mean = x.mean(axis=(1, 2), keepdims=True)
        self._cache = f
        return self._finish(x, (x - mean) * f + mean)

    def _augment_backward(self, dy):
        # y = (x − m)·f + m, m the mean over (H, W):  dx = f·g + (1 − f)·mean(g), g = dy inside
        f = self._cache
        g = np.where(self._inside, dy, 0)
        return (f * g + (1 - f) * g.mean(axis=(1, 2), keepdims=True)).astype(dy.dtype)


@register(CATEGORY, "Brightens or darkens training images by a random amount (a fraction of "
          "the value range).",
          [factor_param("factor", "Brightness shift range as a fraction of the value range "
                        "(0.2 → ±20%), or a (lower, upper) pair."), VALUE_RANGE, SEED],
          key_params=("factor",))
class RandomBrightness(_ColourShift):
    def _augment(self, x):
        lo, hi = bounds(self.factor, -1.0)
        span = self.value_range[1] - self.value_range[0]
        delta = (self._rng.uniform(lo, hi, len(x)) * span).astype(x.dtype)
        self._cache = True
        return self._finish(x, x + delta[:, None, None, None])

    def _augment_backward(self, dy):
        return np.where(self._inside, dy, 0).astype(dy.dtype)


# ---------------------------------------------------------------------------- crop
def resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) bilinear resampling with half-pixel centres (TensorFlow's
    ``resize``, no antialiasing): out[i] reads the input at (i + ½)·in/out − ½, clamped."""
    m = np.zeros((size_out, size_in))
    scale = size_in / size_out
    for i in range(size_out):
        s = min(max((i + 0.5) * scale - 0.5, 0.0), size_in - 1)
        j = math.floor(s)
        t = s - j
        m[i, j] += 1 - t
        if t > 0:
            m[i, j + 1] += t
    return m


@register(CATEGORY, "Crops training images to height × width at a random place; otherwise "
          "(inference, smaller images) a centred crop resized to that size.",
          [Param("height", "int", None, "Height of the output.", min=1, suggested=24),
           Param("width", "int", None, "Width of the output.", min=1, suggested=24),
           SEED, CHANNELS_LAST], key_params=("height", "width"))
class RandomCrop(_Random):
    """Training on images larger than the target: one random window for the whole batch (as
    Keras 3). Otherwise Keras's fallback window — at the offset of the largest centred window
    of the target's aspect ratio, target-sized, clipped to the image — resized (bilinear) to
    the target. Keras 3.15 skips the layer in inference, giving images of the input's size
    where its own output shape says the target's; here inference gives the target size, as
    Keras documents."""

    def _validate(self):
        super()._validate()
        if self.height is None or self.width is None:
            raise ValueError(f"{self.where}: arguments 'height' and 'width' are required")

    def compute_output_shape(self, input_shape):
        super().compute_output_shape(input_shape)
        return (input_shape[0], self.height, self.width, input_shape[3])

    def forward(self, x, training=False):
        x = backend.as_float(x)
        h, w = x.shape[1:3]
        if training and h > self.height and w > self.width:
            hs = int(self._rng.uniform(0, h - self.height + 1))
            ws = int(self._rng.uniform(0, w - self.width + 1))
        else:
            ch = max(min(h, int(w * self.height / self.width)), 1)
            cw = max(min(w, int(h * self.width / self.height)), 1)
            hs, ws = int((h - ch) / 2), int((w - cw) / 2)
        window = x[:, hs:hs + self.height, ws:ws + self.width]
        self._cache = (x.shape, hs, ws, window.shape[1:3], None)
        if window.shape[1:3] == (self.height, self.width):
            return np.ascontiguousarray(window)
        rh = resize_matrix(window.shape[1], self.height).astype(x.dtype)
        rw = resize_matrix(window.shape[2], self.width).astype(x.dtype)
        self._cache = self._cache[:4] + ((rh, rw),)
        return np.einsum("ih,nhwc,jw->nijc", rh, window, rw, optimize=True)

    def backward(self, dy):
        shape, hs, ws, (wh, ww), resize = self._cache
        if resize is not None:
            rh, rw = resize
            dy = np.einsum("ih,nijc,jw->nhwc", rh, dy, rw, optimize=True)
        dx = np.zeros(shape, dtype=dy.dtype)
        dx[:, hs:hs + wh, ws:ws + ww] = dy
        return dx
