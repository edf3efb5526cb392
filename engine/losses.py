"""Loss functions with Keras 3's formulas, their gradients, and fused output gradients.

A loss object gives ``loss(y_true, y_pred, sample_weight=None)`` → the mean over the batch of
the per-sample loss (Keras's ``sum_over_batch_size``), ``gradient(...)`` → d(that mean)/d y_pred,
and ``fused_gradient(y_true, y_out, activation)`` → the gradient w.r.t. the last layer's
*pre-activation* when the pair simplifies (softmax + crossentropy: ``(p − y) / N``), else None.
"""
from __future__ import annotations

import numpy as np

from engine.backend import EPSILON


def _batch_mean(per_sample: np.ndarray, sw) -> float:
    n = per_sample.shape[0]
    per_sample = per_sample.reshape(n, -1).mean(axis=1) if per_sample.ndim > 1 else per_sample
    if sw is not None:
        return float(np.sum(per_sample * sw) / n)
    return float(np.mean(per_sample))


def _scale(g: np.ndarray, sw, denom: float) -> np.ndarray:
    """Divide by the number of averaged elements and weight each sample's rows."""
    g = g * g.dtype.type(1.0 / denom)
    if sw is not None:
        g = g * sw.reshape((-1,) + (1,) * (g.ndim - 1)).astype(g.dtype)
    return g


def _per_sample_count(y_pred) -> int:
    """How many values are averaged per sample (batch axis excluded, last axis included)."""
    return int(np.prod(y_pred.shape[1:-1])) if y_pred.ndim > 2 else 1


def _sigmoid(z):
    with np.errstate(over="ignore"):
        return (1 / (1 + np.exp(-z))).astype(z.dtype, copy=False)


class Loss:
    name = "loss"
    from_logits = False

    def __init__(self, name: str | None = None):
        if name:
            self.name = name

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        y_true = self._targets(y_true, y_pred)
        return _batch_mean(self.per_sample(y_true, y_pred), sample_weight)

    def gradient(self, y_true, y_pred, sample_weight=None) -> np.ndarray:
        y_true = self._targets(y_true, y_pred)
        n = y_pred.shape[0] * _per_sample_count(y_pred)
        return _scale(self.raw_gradient(y_true, y_pred), sample_weight, n).astype(
            y_pred.dtype, copy=False)

    def fused_gradient(self, y_true, y_out, activation: str):
        return None

    def _targets(self, y_true, y_pred):
        y = np.asarray(y_true)
        if y.shape != y_pred.shape and y.size == y_pred.size:
            y = y.reshape(y_pred.shape)
        return y.astype(y_pred.dtype, copy=False)

    def check_targets(self, y, output_shape, output_name: str):
        """Check/convert training targets once per fit; errors say what to change."""
        y = np.asarray(y)
        want = tuple(output_shape[1:])
        if y.shape[1:] != want:
            if y.ndim == 1 and want == (1,):
                return y.reshape(-1, 1).astype(np.float32)
            raise ValueError(f"targets for output '{output_name}' have shape {y.shape}, the "
                             f"output has shape {tuple(output_shape)} (loss {self.name})")
        return y

    def get_config(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"<loss {self.name}>"


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def per_sample(self, y, p):
        return np.mean(np.square(p - y), axis=-1)

    def raw_gradient(self, y, p):
        return 2 * (p - y) / p.shape[-1]


class MeanAbsoluteError(Loss):
    name = "mean_absolute_error"

    def per_sample(self, y, p):
        return np.mean(np.abs(p - y), axis=-1)

    def raw_gradient(self, y, p):
        return np.sign(p - y) / p.shape[-1]


class Huber(Loss):
    name = "huber_loss"

    def __init__(self, delta: float = 1.0, name: str | None = None):
        super().__init__(name)
        self.delta = float(delta)

    def per_sample(self, y, p):
        err = np.abs(p - y)
        quad = np.minimum(err, self.delta)
        return np.mean(0.5 * quad * quad + self.delta * (err - quad), axis=-1)

    def raw_gradient(self, y, p):
        return np.clip(p - y, -self.delta, self.delta) / p.shape[-1]


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 name: str | None = None):
        super().__init__(name)
        self.from_logits, self.label_smoothing = bool(from_logits), float(label_smoothing)

    def _smooth(self, y):
        if self.label_smoothing:
            return y * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
        return y

    def per_sample(self, y, p):
        y = self._smooth(y)
        if self.from_logits:  # max(z, 0) − z·y + log(1 + e^−|z|)
            return np.mean(np.maximum(p, 0) - p * y + np.log1p(np.exp(-np.abs(p))), axis=-1)
        q = np.clip(p, EPSILON, 1 - EPSILON)
        return -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q), axis=-1)

    def raw_gradient(self, y, p):
        y = self._smooth(y)
        if self.from_logits:
            return (_sigmoid(p) - y) / p.shape[-1]
        inside = (p > EPSILON) & (p < 1 - EPSILON)
        q = np.clip(p, EPSILON, 1 - EPSILON)
        return inside * (-(y / q) + (1 - y) / (1 - q)) / p.shape[-1]

    def fused_gradient(self, y_true, y_out, activation):
        if activation != "sigmoid" or self.from_logits:
            return None
        y = self._smooth(self._targets(y_true, y_out))
        n = y_out.shape[0] * _per_sample_count(y_out) * y_out.shape[-1]
        return ((y_out - y) * y_out.dtype.type(1.0 / n)).astype(y_out.dtype, copy=False)

    def check_targets(self, y, output_shape, output_name):
        y = super().check_targets(y, output_shape, output_name)
        if y.size and (np.nanmin(y) < 0 or np.nanmax(y) > 1):
            raise ValueError(f"targets for output '{output_name}': binary_crossentropy needs "
                             f"labels in [0, 1], found values from {np.nanmin(y)} to "
                             f"{np.nanmax(y)}")
        return y


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 name: str | None = None):
        super().__init__(name)
        self.from_logits, self.label_smoothing = bool(from_logits), float(label_smoothing)

    def _smooth(self, y):
        if self.label_smoothing:
            return y * (1 - self.label_smoothing) + self.label_smoothing / y.shape[-1]
        return y

    def per_sample(self, y, p):
        y = self._smooth(y)
        if self.from_logits:
            m = p.max(axis=-1, keepdims=True)
            lse = np.log(np.sum(np.exp(p - m), axis=-1, keepdims=True)) + m
            return -np.sum(y * (p - lse), axis=-1)
        q = p / np.sum(p, axis=-1, keepdims=True)
        q = np.clip(q, EPSILON, 1 - EPSILON)
        return -np.sum(y * np.log(q), axis=-1)

    def raw_gradient(self, y, p):
        # L = −Σ y_j log(p_j / S), S = Σ p:  dL/dp_k = −y_k / p_k + Σ y / S
        y = self._smooth(y)
        if self.from_logits:
            e = np.exp(p - p.max(axis=-1, keepdims=True))
            s = e / e.sum(axis=-1, keepdims=True)
            return s * y.sum(axis=-1, keepdims=True) - y
        s = np.sum(p, axis=-1, keepdims=True)
        q = np.clip(p / s, EPSILON, 1 - EPSILON) * s
        return -y / q + y.sum(axis=-1, keepdims=True) / s

    def gradient(self, y_true, y_pred, sample_weight=None):
        y = self._targets(y_true, y_pred)
        n = y_pred.shape[0] * _per_sample_count(y_pred)
        return _scale(self.raw_gradient(y, y_pred), sample_weight, n).astype(y_pred.dtype,
                                                                              copy=False)

    def fused_gradient(self, y_true, y_out, activation):
        if activation != "softmax" or self.from_logits:
            return None
        y = self._smooth(self._targets(y_true, y_out))
        n = y_out.shape[0] * _per_sample_count(y_out)
        return ((y_out * y.sum(axis=-1, keepdims=True) - y) * y_out.dtype.type(1.0 / n)).astype(
            y_out.dtype, copy=False)

    def check_targets(self, y, output_shape, output_name):
        y = np.asarray(y)
        k = output_shape[-1]
        if y.shape[1:] != tuple(output_shape[1:]) and (y.ndim == 1 or y.shape[-1] == 1) \
                and k not in (None, 1):
            raise ValueError(
                f"targets for output '{output_name}' have shape {y.shape} (class numbers?), but "
                f"categorical_crossentropy needs one-hot targets of shape (N, {k}); convert them "
                f"with engine.utils.to_categorical(y, {k}) or use "
                f"loss='sparse_categorical_crossentropy'")
        return super().check_targets(y, output_shape, output_name)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False, name: str | None = None):
        super().__init__(from_logits, 0.0, name)

    def _targets(self, y_true, y_pred):
        labels = np.asarray(y_true).reshape(y_pred.shape[:-1]).astype(np.int64)
        onehot = np.zeros(y_pred.shape, dtype=y_pred.dtype)
        np.put_along_axis(onehot, labels[..., None], 1, axis=-1)
        return onehot

    def check_targets(self, y, output_shape, output_name):
        y = np.asarray(y)
        k = output_shape[-1]
        want = tuple(output_shape[1:-1])
        if y.shape[1:] not in (want, want + (1,)):
            hint = (f"; they look one-hot, so use loss='categorical_crossentropy'"
                    if y.shape[1:] == tuple(output_shape[1:]) else "")
            raise ValueError(f"targets for output '{output_name}' have shape {y.shape}; "
                             f"sparse_categorical_crossentropy needs class numbers of shape "
                             f"(N{''.join(', ' + str(d) for d in want)}){hint}")
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
                raise ValueError(f"targets for output '{output_name}': class numbers must be "
                                 f"whole numbers")
        if y.size:
            lo, hi = int(np.min(y)), int(np.max(y))
            if lo < 0 or (k is not None and hi >= k):
                raise ValueError(f"targets for output '{output_name}': found class {hi if hi >= (k or 0) else lo}"
                                 f", but the output has {k} units (classes 0..{(k or 1) - 1})")
        return y.astype(np.int64).reshape((len(y),) + want)


class KLDivergence(Loss):
    name = "kl_divergence"

    def per_sample(self, y, p):
        yt = np.clip(y, EPSILON, 1)
        q = np.clip(p, EPSILON, 1)
        return np.sum(yt * np.log(yt / q), axis=-1)

    def raw_gradient(self, y, p):
        yt = np.clip(y, EPSILON, 1)
        inside = (p > EPSILON) & (p < 1)
        return -(inside * yt) / np.clip(p, EPSILON, 1)


class CosineSimilarity(Loss):
    """−⟨y/‖y‖, p/‖p‖⟩ over the last axis (−1 = same direction)."""
    name = "cosine_similarity"

    def per_sample(self, y, p):
        yn = y / np.sqrt(np.maximum(np.sum(y * y, axis=-1, keepdims=True), 1e-12))
        pn = p / np.sqrt(np.maximum(np.sum(p * p, axis=-1, keepdims=True), 1e-12))
        return -np.sum(yn * pn, axis=-1)

    def raw_gradient(self, y, p):
        yn = y / np.sqrt(np.maximum(np.sum(y * y, axis=-1, keepdims=True), 1e-12))
        norm = np.sqrt(np.maximum(np.sum(p * p, axis=-1, keepdims=True), 1e-12))
        pn = p / norm
        return -(yn - np.sum(yn * pn, axis=-1, keepdims=True) * pn) / norm


_FUNCS = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "kullback_leibler_divergence": KLDivergence,
    "cosine_similarity": CosineSimilarity, "huber": Huber, "huber_loss": Huber,
}
CLASSES = {c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy,
                                   CategoricalCrossentropy, SparseCategoricalCrossentropy,
                                   KLDivergence, CosineSimilarity)}
NAMES = sorted(_FUNCS)

mean_squared_error = mse = MeanSquaredError()
mean_absolute_error = mae = MeanAbsoluteError()
binary_crossentropy = BinaryCrossentropy()
categorical_crossentropy = CategoricalCrossentropy()
sparse_categorical_crossentropy = SparseCategoricalCrossentropy()
kl_divergence = kld = KLDivergence()
cosine_similarity = CosineSimilarity()
huber = Huber()


def get(identifier) -> Loss:
    """A loss from a name, a class, an instance or a Keras config dict."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        cls = _FUNCS.get(identifier.lower()) or CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"unknown loss {identifier!r}; valid names: " + ", ".join(NAMES))
        return cls()
    if isinstance(identifier, dict):
        cls = CLASSES.get(identifier.get("class_name")) or _FUNCS.get(
            str(identifier.get("class_name", "")).lower())
        if cls is None:
            raise ValueError(f"unknown loss {identifier.get('class_name')!r}; valid: "
                             + ", ".join(CLASSES))
        import inspect
        cfg = identifier.get("config") or {}
        ok = set(inspect.signature(cls.__init__).parameters) - {"self"}
        return cls(**{k: v for k, v in cfg.items() if k in ok})
    raise ValueError(f"cannot interpret {identifier!r} as a loss; valid names: " + ", ".join(NAMES))
