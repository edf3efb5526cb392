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
          [Param("scale", "float", None, "Factor, e.g. 0.00392157 (1/255).", suggested=1 / 255),
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


def _keep_axes(axis, ndim: int, where: str) -> tuple[int, ...]:
    """``axis`` (int, tuple or None) as sorted non-negative axes of an ``ndim`` input."""
    axes = () if axis is None else (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{where}: axis {a} is out of range for inputs of rank {ndim}")
        out.append(int(a) % ndim)
    if 0 in out:
        raise ValueError(f"{where}: axis 0 is the batch axis; it cannot be kept")
    return tuple(sorted(set(out)))


@register("Normalization", "Standardizes features with a mean and variance learned from the "
          "training data by adapt() (the app adapts it before the first training run).",
          [Param("axis", "axis", -1, "Axis (or axes) with their own mean and variance; None: "
                 "one mean and variance for all values.", optional=True),
           Param("invert", "bool", False, "Undo a normalization instead (mean + x·std).",
                 advanced=True)],
          key_params=("axis",))
class Normalization(Layer):
    """``(x − mean) / max(√variance, 1e-7)`` (Keras 3). ``adapt(data)`` sets the mean and
    variance from data; ``mean=``/``variance=`` fix them instead (then the layer has no
    weights). Weights as in Keras: ``mean``, ``variance`` (shape of the kept axes) and
    ``count`` (samples seen by adapt; Keras keeps it 0)."""

    supports_masking = True
    EPSILON = 1e-7
    extra_config = ("mean", "variance")   # constructor arguments in the config, not in the form

    def __init__(self, *args, mean=None, variance=None, **kwargs):
        self.input_mean = None if mean is None else np.asarray(mean, dtype=np.float32)
        self.input_variance = None if variance is None else np.asarray(variance, np.float32)
        super().__init__(*args, **kwargs)

    def _validate(self):
        if (self.input_mean is None) != (self.input_variance is None):
            raise ValueError(f"{self.where}: give both 'mean' and 'variance', or neither "
                             f"(then adapt() learns them from data)")
        if self.input_mean is not None:
            if self.input_mean.shape != self.input_variance.shape:
                raise ValueError(f"{self.where}: 'mean' has shape {self.input_mean.shape} but "
                                 f"'variance' has shape {self.input_variance.shape}")
            if not (np.isfinite(self.input_mean).all() and np.isfinite(self.input_variance).all()
                    and (self.input_variance >= 0).all()):
                raise ValueError(f"{self.where}: 'mean' must be finite and 'variance' finite "
                                 f"and >= 0")

    def build(self, input_shape):
        ndim = len(input_shape)
        self._keep = _keep_axes(self.axis, ndim, self.where)
        for d in self._keep:
            if input_shape[d] is None:
                raise ValueError(f"{self.where}: axis {d} of the input {tuple(input_shape)} "
                                 f"must have a known size")
        self._reduce = tuple(d for d in range(ndim) if d not in self._keep)
        self._broadcast = tuple(input_shape[d] if d in self._keep else 1 for d in range(ndim))
        stats_shape = tuple(input_shape[d] for d in self._keep)
        if self.input_mean is None:
            self.mean = self.add_weight("mean", stats_shape, "zeros", trainable=False)
            self.variance = self.add_weight("variance", stats_shape, "ones", trainable=False)
            self.count = self.add_weight("count", (), "zeros", trainable=False)
        else:
            try:
                m = np.broadcast_to(self._align(self.input_mean, ndim), self._broadcast)
                v = np.broadcast_to(self._align(self.input_variance, ndim), self._broadcast)
            except ValueError:
                raise ValueError(f"{self.where}: 'mean' of shape {self.input_mean.shape} does "
                                 f"not fit the kept axes {stats_shape} of the input "
                                 f"{tuple(input_shape)}") from None
            self._fixed = (np.ascontiguousarray(m), np.ascontiguousarray(v))

    def _align(self, a: np.ndarray, ndim: int) -> np.ndarray:
        """Keras's rule: the given statistics' axes line up with the kept axes from the right."""
        shape = [1] * ndim
        for i in range(1, a.ndim + 1):
            if i > len(self._keep):
                raise ValueError("too many axes")
            shape[self._keep[-i]] = a.shape[-i]
        return a.reshape(shape)

    # ------------------------------------------------------------ statistics
    @property
    def adapted(self) -> bool:
        """True when the statistics came from data or were given (not the initial 0 and 1)."""
        if not self.built:
            return self.input_mean is not None
        if self.input_mean is not None:
            return True
        return bool(self.count.value > 0 or self.mean.value.any() or
                    (self.variance.value != 1).any())

    def _stats(self, dtype) -> tuple[np.ndarray, np.ndarray]:
        if self.input_mean is not None:
            mean, var = self._fixed
        else:
            mean = self.mean.value.reshape(self._broadcast)
            var = self.variance.value.reshape(self._broadcast)
        std = np.maximum(np.sqrt(var), self.EPSILON).astype(dtype, copy=False)
        return mean.astype(dtype, copy=False), std

    def adapt(self, data, batch_size: int | None = None, steps: int | None = None) -> None:
        """Set the mean and variance from ``data``: an array, or batches (a Sequence or any
        iterable of arrays or (x, y) tuples, at most ``steps`` of them)."""
        if self.input_mean is not None:
            raise ValueError(f"{self.where}: was given a fixed 'mean' and 'variance'; adapt() "
                             f"needs a Normalization without them")
        if isinstance(data, (list, tuple)) and not (data and isinstance(data[0],
                                                                         (np.ndarray, tuple))):
            data = np.asarray(data)            # nested lists of numbers: one array
        batches = _batches(data, batch_size, steps, self.where)
        total_mean = total_var = None
        total = 0
        for b in batches:
            b = np.asarray(b, dtype=np.float64)
            if not self.built:
                self._build_from(b.shape)
            if b.ndim != len(self._broadcast) or any(
                    b.shape[d] != self._broadcast[d] for d in self._keep):
                raise ValueError(f"{self.where}: adapt() got data of shape {b.shape}; the layer "
                                 f"expects (batch, {', '.join(map(str, self.input_shape[1:]))})")
            if not np.isfinite(b).all():
                bad = np.argwhere(~np.isfinite(b))[0]
                raise ValueError(f"{self.where}: adapt() data holds NaN or inf (first at index "
                                 f"{tuple(int(i) for i in bad)})")
            n = int(np.prod([b.shape[d] for d in self._reduce])) if self._reduce else 1
            if n == 0:
                continue
            mean = b.mean(axis=self._reduce)
            var = b.var(axis=self._reduce)
            if total_mean is None:
                total_mean, total_var, total = mean, var, n
                continue
            # the two groups' variances plus the spread of their means around the new mean
            new_total = total + n
            w_new = n / new_total
            new_mean = total_mean * (1 - w_new) + mean * w_new
            total_var = (total_var + (total_mean - new_mean) ** 2) * (1 - w_new) + \
                (var + (mean - new_mean) ** 2) * w_new
            total_mean, total = new_mean, new_total
        if total_mean is None:
            raise ValueError(f"{self.where}: adapt() got no data")
        self.mean.assign(np.asarray(total_mean, np.float32).reshape(self.mean.shape))
        self.variance.assign(np.asarray(total_var, np.float32).reshape(self.variance.shape))
        self.count.assign(np.float32(total))

    def _build_from(self, shape: tuple) -> None:
        self.input_shape = (None,) + tuple(shape[1:])
        self.build(self.input_shape)
        self.output_shape = self.input_shape
        self.built = True

    # ------------------------------------------------------------ forward / backward
    def forward(self, x, training=False):
        x = x.astype(np.float32, copy=False) if x.dtype.kind != "f" else x
        mean, std = self._stats(x.dtype)
        self._std = std
        if self.invert:
            return mean + x * std
        return (x - mean) / std

    def backward(self, dy):
        for w in self.weights:
            w.grad[...] = 0
        if self.invert:
            return dy * self._std
        return dy / self._std

    # ------------------------------------------------------------ config
    def get_config(self):
        cfg = super().get_config()
        cfg["mean"] = None if self.input_mean is None else self.input_mean.tolist()
        cfg["variance"] = None if self.input_variance is None else self.input_variance.tolist()
        return cfg


def _batches(data, batch_size, steps, where):
    """Arrays to take statistics from: slices of an array, or the x of each batch."""
    if isinstance(data, np.ndarray):
        if data.ndim < 2:
            data = data.reshape(-1, 1) if data.ndim == 1 else data.reshape(1, 1)
        step = int(batch_size) if batch_size else max(len(data), 1)
        for i in range(0, len(data), step):
            yield data[i:i + step]
        return
    if not hasattr(data, "__iter__") and not hasattr(data, "__getitem__"):
        raise TypeError(f"{where}: adapt() takes an array or batches of arrays, got "
                        f"{type(data).__name__}")
    items = (data[i] for i in range(len(data))) if hasattr(data, "__len__") and \
        hasattr(data, "__getitem__") else iter(data)
    for k, item in enumerate(items):
        if steps is not None and k >= steps:
            break
        if isinstance(item, tuple):
            item = item[0]
        yield np.asarray(item)


def _adapt_inputs(x) -> list:
    """The input arrays to adapt from: x's arrays, or a streamed Sequence's first batches (up
    to 4,096 samples, 256 MB)."""
    from engine.models.data_adapter import is_batch_source
    if is_batch_source(x) and hasattr(x, "__getitem__"):
        from engine.data.streaming import sample_batches
        x = sample_batches(x, 4096, 256 << 20)[0]
    return list(x) if isinstance(x, (list, tuple)) else [x]


def adapt_normalizations(model, x, batch_size: int = 256) -> list[str]:
    """Adapt every not-yet-adapted Normalization layer of ``model`` that reads a model input
    directly, from that input's data ``x`` (an array, a list of arrays for several inputs, or
    a Sequence of batches: its first batches). Returns the names of the layers adapted (for a
    log line)."""
    inputs = list(getattr(model, "inputs", []) or [])
    done = []
    xs = None
    for layer in getattr(model, "layers", []):
        if not isinstance(layer, Normalization) or layer.adapted or not layer._nodes:
            continue
        if xs is None:
            xs = _adapt_inputs(x)
        source = layer._nodes[0].inputs[0]
        if source not in inputs or len(xs) != len(inputs):
            continue
        layer.adapt(np.asarray(xs[inputs.index(source)]), batch_size=batch_size)
        done.append(layer.name)
    return done
