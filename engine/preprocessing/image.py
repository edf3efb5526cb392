"""Image preprocessing as ``keras.preprocessing.image``: ``ImageDataGenerator`` (augmentation and
normalization), its ``flow`` / ``flow_from_directory`` iterators, and ``load_img``,
``img_to_array``, ``array_to_img``, ``save_img``.

Images are channels-last (H, W, C). The geometric augmentations of a whole batch (rotation,
shifts, shear, zoom and both flips, composed into one affine map per image) run in one numba
kernel (:func:`engine.kernels.augment.affine_warp`).

Keras semantics, with three deliberate differences: ``width_shift_range`` shifts images
horizontally and ``height_shift_range`` vertically, as documented (Keras's implementation swaps
the two); transforms are centred on the image centre for non-square images too; and
``featurewise_*`` / ``zca_whitening`` without ``fit()`` is an error rather than a warning, so
un-normalized data is never used silently.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from engine import backend
from engine import threading_policy as policy
from engine.data.images import array_to_img, img_to_array, load_img, save_img  # noqa: F401
from engine.kernels.augment import FILL_MODES, affine_warp, shift_and_brighten
from engine.preprocessing.image_iterators import (DirectoryIterator,  # noqa: F401
                                                  ImageIterator, NumpyArrayIterator)

PARAM_KEYS = ("theta", "tx", "ty", "shear", "zx", "zy", "flip_horizontal", "flip_vertical",
              "channel_shift_intensity", "brightness")


def _shift_amounts(spec, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Pixel shifts for ``width_shift_range`` / ``height_shift_range`` (Keras's rules: a float
    is a uniform range, < 1 meaning a fraction of ``size``; an int k picks from 0..k-1 with a
    random sign; a list picks one of its values with a random sign)."""
    if not spec:
        return np.zeros(n)
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        shift = rng.integers(0, int(spec), n) * rng.choice([-1, 1], n)
    elif isinstance(spec, (float, np.floating)):
        shift = rng.uniform(-spec, spec, n)
    else:
        shift = rng.choice(np.asarray(spec, dtype=np.float64), n) * rng.choice([-1, 1], n)
    return shift * size if np.max(spec) < 1 else shift.astype(np.float64)


def affine_matrices(params: dict[str, np.ndarray]) -> np.ndarray:
    """(N, 2, 3) maps for :func:`affine_warp` from per-image parameter arrays.

    In image coordinates (x = column, y = row) centred on the image centre, an output pixel
    reads the input at ``R(theta) · shift(tx, ty) · shear · zoom(zx, zy) · flips · p`` —
    Keras's order: rotation, shift, shear, zoom, with the flips applied to the result.
    """
    theta = np.deg2rad(params["theta"])
    shear = np.deg2rad(params["shear"])
    n = len(theta)
    cos, sin = np.cos(theta), np.sin(theta)
    # zoom·shear·rotation linear part, in (x, y): R @ Sh @ Z
    a = cos * params["zx"]
    b = (-cos * np.sin(shear) - sin * np.cos(shear)) * params["zy"]
    c = sin * params["zx"]
    d = (-sin * np.sin(shear) + cos * np.cos(shear)) * params["zy"]
    tx = cos * params["tx"] - sin * params["ty"]      # the shift is rotated too (R @ S)
    ty = sin * params["tx"] + cos * params["ty"]
    fx = np.where(params["flip_horizontal"], -1.0, 1.0)
    fy = np.where(params["flip_vertical"], -1.0, 1.0)
    m = np.empty((n, 2, 3))
    m[:, 0] = np.stack([d * fy, c * fx, ty], axis=1)    # source row from (row, col)
    m[:, 1] = np.stack([b * fy, a * fx, tx], axis=1)    # source column from (row, col)
    return m


def _is_identity(m: np.ndarray) -> bool:
    return bool(np.all(m == np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])))


def _as_range(value, name: str) -> list[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [1 - value, 1 + value]
    if isinstance(value, (list, tuple)) and len(value) == 2 and \
            all(isinstance(v, (int, float)) for v in value):
        return [float(value[0]), float(value[1])]
    raise ValueError(f"ImageDataGenerator: {name} must be a float or a pair [lower, upper], "
                     f"got {value!r}")


class ImageDataGenerator:
    """Keras's ImageDataGenerator: random augmentation and normalization of image batches.

    Geometry: ``rotation_range`` (degrees), ``width_shift_range`` / ``height_shift_range``
    (fraction of the size if < 1, else pixels), ``shear_range`` (degrees), ``zoom_range``
    (float z → [1-z, 1+z]; values > 1 zoom out), ``horizontal_flip``, ``vertical_flip``,
    ``fill_mode`` ("constant", "nearest", "reflect", "wrap") with ``cval``,
    ``interpolation_order`` (0 nearest, 1 bilinear). Intensity: ``channel_shift_range``,
    ``brightness_range``. Normalization (``standardize``, after augmentation):
    ``preprocessing_function``, ``rescale``, ``samplewise_center`` / ``_std_normalization``,
    ``featurewise_center`` / ``_std_normalization`` and ``zca_whitening`` (from ``fit``).
    ``validation_split`` with ``subset="training"/"validation"`` in ``flow*``.
    """

    def __init__(self, featurewise_center: bool = False, samplewise_center: bool = False,
                 featurewise_std_normalization: bool = False,
                 samplewise_std_normalization: bool = False, zca_whitening: bool = False,
                 zca_epsilon: float = 1e-6, rotation_range: float = 0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None,
                 shear_range: float = 0.0, zoom_range=0.0, channel_shift_range: float = 0.0,
                 fill_mode: str = "nearest", cval: float = 0.0, horizontal_flip: bool = False,
                 vertical_flip: bool = False, rescale: float | None = None,
                 preprocessing_function: Callable | None = None, data_format: str | None = None,
                 validation_split: float = 0.0, interpolation_order: int = 1, dtype=None):
        if data_format not in (None, "channels_last"):
            raise ValueError(f"ImageDataGenerator: data_format={data_format!r} is not "
                             f"supported; LayerLoom's engine is channels_last (H, W, C)")
        if fill_mode not in FILL_MODES:
            raise ValueError(f"ImageDataGenerator: fill_mode must be one of "
                             f"{', '.join(FILL_MODES)}, got {fill_mode!r}")
        if interpolation_order not in (0, 1):
            raise ValueError(f"ImageDataGenerator: interpolation_order must be 0 (nearest) or 1 "
                             f"(bilinear), got {interpolation_order!r}")
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(f"ImageDataGenerator: validation_split must be strictly between "
                             f"0 and 1, got {validation_split}")
        if brightness_range is not None and (not isinstance(brightness_range, (tuple, list))
                                             or len(brightness_range) != 2):
            raise ValueError(f"ImageDataGenerator: brightness_range must be a pair "
                             f"[lower, upper], got {brightness_range!r}")
        for name, value in (("rotation_range", rotation_range), ("shear_range", shear_range),
                            ("channel_shift_range", channel_shift_range)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"ImageDataGenerator: {name} must be a number >= 0, got "
                                 f"{value!r}")
        self.featurewise_center = featurewise_center or featurewise_std_normalization or \
            zca_whitening
        self.featurewise_std_normalization = featurewise_std_normalization and not zca_whitening
        self.samplewise_center = samplewise_center or samplewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening, self.zca_epsilon = zca_whitening, zca_epsilon
        self.rotation_range = rotation_range
        self.width_shift_range, self.height_shift_range = width_shift_range, height_shift_range
        self.shear_range, self.zoom_range = shear_range, _as_range(zoom_range, "zoom_range")
        self.channel_shift_range, self.brightness_range = channel_shift_range, brightness_range
        self.fill_mode, self.cval = fill_mode, float(cval)
        self.horizontal_flip, self.vertical_flip = horizontal_flip, vertical_flip
        self.rescale, self.preprocessing_function = rescale, preprocessing_function
        self.data_format = "channels_last"
        self.channel_axis, self.row_axis, self.col_axis = 3, 1, 2
        self._validation_split = validation_split
        self.interpolation_order = interpolation_order
        self.dtype = np.dtype(dtype or backend.floatx())
        self.mean = self.std = self.zca_whitening_matrix = None

    # ------------------------------------------------------------ iterators
    def flow(self, x, y=None, batch_size: int = 32, shuffle: bool = True, sample_weight=None,
             seed: int | None = None, save_to_dir=None, save_prefix: str = "",
             save_format: str = "png", ignore_class_split: bool = False,
             subset: str | None = None) -> NumpyArrayIterator:
        """Augmented batches of in-memory images ``x`` (N, H, W, C) and labels ``y``."""
        return NumpyArrayIterator(x, y, self, batch_size, shuffle, sample_weight, seed,
                                  save_to_dir, save_prefix, save_format, subset,
                                  ignore_class_split, self.dtype)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode: str = "rgb",
                            classes=None, class_mode: str | None = "categorical",
                            batch_size: int = 32, shuffle: bool = True, seed: int | None = None,
                            save_to_dir=None, save_prefix: str = "", save_format: str = "png",
                            follow_links: bool = False, subset: str | None = None,
                            interpolation: str = "nearest", keep_aspect_ratio: bool = False
                            ) -> DirectoryIterator:
        """Augmented batches of the images in ``directory`` (one subfolder per class), read
        from disk batch by batch and resized to ``target_size``."""
        return DirectoryIterator(directory, self, target_size, color_mode, classes, class_mode,
                                 batch_size, shuffle, seed, save_to_dir, save_prefix,
                                 save_format, follow_links, subset, interpolation,
                                 keep_aspect_ratio, self.dtype)

    # ------------------------------------------------------------ random transforms
    def random_params(self, n: int, img_shape, rng: np.random.Generator
                      ) -> dict[str, np.ndarray]:
        """Transform parameters for ``n`` images of shape (H, W, C), one array per key."""
        h, w = img_shape[0], img_shape[1]
        zero = np.zeros(n)
        lo, hi = self.zoom_range
        zoom = (np.ones(n), np.ones(n)) if lo == 1 and hi == 1 else \
            tuple(rng.uniform(lo, hi, (2, n)))
        return {
            "theta": rng.uniform(-self.rotation_range, self.rotation_range, n)
            if self.rotation_range else zero,
            "tx": _shift_amounts(self.width_shift_range, n, w, rng),
            "ty": _shift_amounts(self.height_shift_range, n, h, rng),
            "shear": rng.uniform(-self.shear_range, self.shear_range, n)
            if self.shear_range else zero,
            "zx": zoom[0], "zy": zoom[1],
            "flip_horizontal": (rng.random(n) < 0.5) & bool(self.horizontal_flip),
            "flip_vertical": (rng.random(n) < 0.5) & bool(self.vertical_flip),
            "channel_shift_intensity": rng.uniform(-self.channel_shift_range,
                                                   self.channel_shift_range, n)
            if self.channel_shift_range else None,
            "brightness": rng.uniform(self.brightness_range[0], self.brightness_range[1], n)
            if self.brightness_range is not None else None,
        }

    def get_random_transform(self, img_shape, seed: int | None = None) -> dict:
        """Keras's parameter dict for one image: theta (deg), tx / ty (shift in pixels along
        x = columns / y = rows), shear (deg), zx, zy, flip_horizontal, flip_vertical,
        channel_shift_intensity, brightness."""
        p = self.random_params(1, img_shape, np.random.default_rng(seed))
        return {k: None if p[k] is None else p[k][0].item() for k in PARAM_KEYS}

    def apply_transform(self, x: np.ndarray, transform_parameters: dict) -> np.ndarray:
        """One image (H, W, C) transformed by Keras-style ``transform_parameters``."""
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"apply_transform: expected one image (H, W, C), got shape {x.shape}")
        defaults = {"theta": 0, "tx": 0, "ty": 0, "shear": 0, "zx": 1, "zy": 1,
                    "flip_horizontal": False, "flip_vertical": False}
        p = {k: np.array([transform_parameters.get(k, v)], dtype=np.float64 if k[0] != "f"
                         else bool) for k, v in defaults.items()}
        for key in ("channel_shift_intensity", "brightness"):
            value = transform_parameters.get(key)
            p[key] = None if value is None else np.array([value], dtype=np.float64)
        return self.augment_batch(x[None].astype(self.dtype), p)[0]

    def random_transform(self, x: np.ndarray, seed: int | None = None) -> np.ndarray:
        """One image (H, W, C) with a random transformation applied."""
        return self.apply_transform(x, self.get_random_transform(np.shape(x), seed))

    def augment_batch(self, x: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
        """A float batch (N, H, W, C) transformed image by image by ``params``."""
        m = affine_matrices(params)
        # about 20 operations per value; a background (prefetch) thread gets one worker
        nworkers = policy.workers(20.0 * x.size, len(x))
        if not _is_identity(m):
            x = affine_warp(np.ascontiguousarray(x), m, self.interpolation_order,
                            FILL_MODES[self.fill_mode], self.cval, np.empty_like(x), nworkers)
        shifts, factors = params["channel_shift_intensity"], params["brightness"]
        if shifts is not None or factors is not None:
            unused = np.zeros(len(x))
            x = shift_and_brighten(np.ascontiguousarray(x),
                                   unused if shifts is None else shifts.astype(np.float64),
                                   unused if factors is None else factors.astype(np.float64),
                                   shifts is not None, factors is not None, nworkers)
        return x

    def transform_batch(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Random augmentation, then ``standardize``: what every iterator batch goes through."""
        x = self.augment_batch(x, self.random_params(len(x), x.shape[1:], rng))
        return self.standardize(x)

    # ------------------------------------------------------------ normalization
    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Normalize one image (H, W, C) or a batch (N, H, W, C); float arrays of the
        generator's dtype are changed in place, as in Keras."""
        if not (isinstance(x, np.ndarray) and x.dtype == self.dtype):
            x = np.array(x, dtype=self.dtype)
        if self.preprocessing_function:
            if x.ndim == 4:
                for i in range(len(x)):
                    x[i] = self.preprocessing_function(x[i])
            else:
                x = np.asarray(self.preprocessing_function(x), dtype=self.dtype)
        if self.rescale:
            x *= self.dtype.type(self.rescale)
        axes = tuple(range(1, x.ndim)) if x.ndim == 4 else None
        if self.samplewise_center:
            x -= np.mean(x, axis=axes, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, axis=axes, keepdims=True) + 1e-6
        for flag, stat, what in ((self.featurewise_center, self.mean, "featurewise_center"),
                                 (self.featurewise_std_normalization, self.std,
                                  "featurewise_std_normalization"),
                                 (self.zca_whitening, self.zca_whitening_matrix,
                                  "zca_whitening")):
            if flag and stat is None:
                raise ValueError(f"ImageDataGenerator: {what} needs statistics of the training "
                                 f"images; call datagen.fit(x_train) first")
        if self.featurewise_center:
            x -= self.mean
        if self.featurewise_std_normalization:
            x /= self.std + 1e-6
        if self.zca_whitening:
            flat = x.reshape(-1, math.prod(x.shape[-3:]))
            x = (flat @ self.zca_whitening_matrix).reshape(x.shape).astype(self.dtype)
        return x

    def fit(self, x, augment: bool = False, rounds: int = 1, seed: int | None = None) -> None:
        """Learn the featurewise mean / std (per channel) and the ZCA matrix from images
        ``x`` (N, H, W, C) — rescaled, and randomly augmented ``rounds`` times if asked."""
        x = np.array(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(f"ImageDataGenerator.fit: expected images (N, H, W, C), got shape "
                             f"{x.shape}")
        if x.shape[3] not in (1, 3, 4):
            warnings.warn(f"ImageDataGenerator.fit: images with {x.shape[3]} channels (shape "
                          f"{x.shape}); expected 1, 3 or 4 (channels last)", stacklevel=2)
        if self.rescale:
            x *= self.dtype.type(self.rescale)
        if augment:
            rng = np.random.default_rng(seed)
            x = np.concatenate([self.augment_batch(x.copy(), self.random_params(
                len(x), x.shape[1:], rng)) for _ in range(rounds)])
        if self.featurewise_center:
            self.mean = np.mean(x, axis=(0, 1, 2)).reshape(1, 1, -1).astype(self.dtype)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.std(x, axis=(0, 1, 2)).reshape(1, 1, -1).astype(self.dtype)
            x /= self.std + 1e-6
        if self.zca_whitening:
            flat = x.reshape(len(x), -1).astype(np.float64)
            u, s, _ = np.linalg.svd(flat.T, full_matrices=False)
            s_inv = np.sqrt(len(x)) / (s + self.zca_epsilon)
            self.zca_whitening_matrix = ((u * s_inv) @ u.T).astype(self.dtype)


def flip_axis(x: np.ndarray, axis: int) -> np.ndarray:
    """``x`` reversed along ``axis``."""
    return np.flip(np.asarray(x), axis)


def apply_affine_transform(x, theta: float = 0, tx: float = 0, ty: float = 0, shear: float = 0,
                           zx: float = 1, zy: float = 1, row_axis: int = 1, col_axis: int = 2,
                           channel_axis: int = 0, fill_mode: str = "nearest", cval: float = 0.0,
                           order: int = 1) -> np.ndarray:
    """Keras's function for one image (channels first by default, as in Keras: pass
    ``row_axis=0, col_axis=1, channel_axis=2`` for (H, W, C))."""
    if sorted((row_axis, col_axis, channel_axis)) != [0, 1, 2] or channel_axis not in (0, 2):
        raise ValueError("apply_affine_transform: row_axis, col_axis and channel_axis must be "
                         "0, 1, 2 in some order, with the channels first or last")
    x = np.asarray(x)
    hwc = np.moveaxis(x, (row_axis, col_axis, channel_axis), (0, 1, 2))
    gen = ImageDataGenerator(fill_mode=fill_mode, cval=cval, interpolation_order=order,
                             dtype=x.dtype if x.dtype.kind == "f" else None)
    out = gen.apply_transform(hwc, {"theta": theta, "tx": tx, "ty": ty, "shear": shear,
                                    "zx": zx, "zy": zy})
    return np.moveaxis(out, (0, 1, 2), (row_axis, col_axis, channel_axis))
