"""Loss functions with Keras 3's formulas, their gradients, and fused output gradients.

A loss object gives ``loss(y_true, y_pred, sample_weight=None)`` → Keras's
``sum_over_batch_size`` reduction (the per-sample values — already averaged over the last axis
where Keras does so — weighted, summed, divided by their count), ``gradient(...)`` →
d(that value)/d y_pred, and ``fused_gradient(y_true, y_out, activation)`` → the gradient w.r.t.
the last layer's *pre-activation* when the pair simplifies (softmax + crossentropy:
``(p − y) / N``), else None. Crossentropies clip probabilities to [1e-7, 1 − 1e-7] as Keras does.
The crossentropies run as numba kernels (engine/kernels/losses.py): they are on every step.
"""
from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from engine.backend import epsilon
from engine.kernels import losses as K


def _match_weights(sw, values_shape: tuple) -> np.ndarray:
    """Sample weights shaped to broadcast against the per-sample values, as Keras's
    squeeze_or_expand_to_same_rank: (N, 1) → (N,), (N,) → (N, 1, ...)."""
    sw = np.asarray(sw, dtype=np.float64)
    if sw.ndim == len(values_shape) + 1 and sw.shape[-1] == 1:
        sw = sw[..., 0]
    if sw.ndim < len(values_shape):
        sw = sw.reshape(sw.shape + (1,) * (len(values_shape) - sw.ndim))
    try:
        np.broadcast_shapes(sw.shape, values_shape)
    except ValueError:
        raise ValueError(f"sample_weight of shape {sw.shape} does not fit the loss values of "
                         f"shape {values_shape} (one weight per sample, or per timestep)") from None
    return sw


def _reduce(values: np.ndarray, sw) -> float:
    """Keras's sum_over_batch_size: Σ values·weights / number of values."""
    if sw is not None:
        values = values * _match_weights(sw, values.shape)
    return float(np.add.reduce(values, axis=None, dtype=np.float64)) / max(values.size, 1)


def _weigh(g: np.ndarray, sw) -> np.ndarray:
    """Multiply a (…, K) gradient by per-value sample weights of shape (…)."""
    if sw is None:
        return g
    w = _match_weights(sw, g.shape[:-1])
    g *= np.broadcast_to(w, g.shape[:-1])[..., None].astype(g.dtype)
    return g


def _sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return (1 / (1 + np.exp(-z))).astype(z.dtype, copy=False)


def _clip_range(p: np.ndarray) -> tuple[float, float]:
    """Keras's [1e-7, 1 − 1e-7] rounded to p's dtype (float32: hi = 0.99999988)."""
    f = p.dtype.type
    return float(f(epsilon())), float(f(1.0 - epsilon()))


def _rows(a: np.ndarray) -> np.ndarray:
    """(…, K) → C-contiguous (R, K) for the kernels."""
    return np.ascontiguousarray(a).reshape(-1, a.shape[-1])


def _fits(got: tuple, want: tuple) -> bool:
    """Target sample shape ``got`` fits the output's ``want`` (None: any size)."""
    return len(got) == len(want) and all(w is None or w == g for g, w in zip(got, want))


def _as_pred(y_pred) -> np.ndarray:
    p = np.asarray(y_pred)
    return p if p.dtype.kind == "f" else p.astype(np.float64)


class Loss:
    """Base of every loss. Built-in ones give ``per_sample(y, p)`` (values of shape
    p.shape[:-1]) and ``raw_gradient(y, p)`` (its derivative w.r.t. p, elementwise).

    A user subclass, as in Keras 3, defines ``call(y_true, y_pred)`` returning per-sample
    values written with engine.ops; the reduction (``sum_over_batch_size`` by default, ``sum``,
    ``mean``, ``mean_with_sample_weight`` or ``none``) and sample weights are applied here, and
    the gradient comes from recording ``call`` on a tape."""
    name = "loss"
    from_logits = False
    _user_call = False
    REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "call" in cls.__dict__:
            cls._user_call = True

    def __init__(self, name: str | None = None, reduction="sum_over_batch_size", dtype=None):
        if name:
            self.name = name
        elif self._user_call and "name" not in type(self).__dict__:
            self.name = _snake_case(type(self).__name__)
        if reduction not in self.REDUCTIONS:
            raise ValueError(f"loss {self.name!r}: reduction must be one of "
                             f"{', '.join(map(str, self.REDUCTIONS))}, got {reduction!r}")
        self.reduction = reduction
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss: a float, or a tensor recorded on the tape when ``y_pred`` is
        traced (then its gradient is this loss's own)."""
        from engine.ops.tape import as_data, is_traced, record
        if self._user_call:
            return self._reduced(y_true, y_pred, sample_weight)
        p = _as_pred(as_data(y_pred))
        y = as_data(y_true)
        value = _reduce(self.per_sample(self._targets(y, p), p), sample_weight)
        if is_traced(y_pred):
            return record(np.asarray(value, dtype=p.dtype), (y_pred,),
                          lambda g, need: (g * self.gradient(y, p, sample_weight),))
        return value

    def value_and_gradient(self, y_true, y_pred, sample_weight=None) -> tuple[float, np.ndarray]:
        """(loss, d loss / d y_pred) in one pass (a user loss runs its call once)."""
        if not self._user_call:
            return float(self(y_true, y_pred, sample_weight)), \
                self.gradient(y_true, y_pred, sample_weight)
        from engine.ops.tape import Tape
        with Tape() as tape:
            pt = tape.watch(_as_pred(y_pred))
            value = self._reduced(y_true, pt, sample_weight)
        g = tape.gradient(value, pt)
        return float(np.sum(np.asarray(value))), np.asarray(g, dtype=pt.dtype)

    def gradient(self, y_true, y_pred, sample_weight=None) -> np.ndarray:
        """d loss / d y_pred (y_pred's shape and dtype)."""
        if self._user_call:
            return self.value_and_gradient(y_true, y_pred, sample_weight)[1]
        p = _as_pred(y_pred)
        count = max(math.prod(p.shape[:-1]), 1)  # number of per-sample values averaged
        g = np.asarray(self.raw_gradient(self._targets(y_true, p), p), dtype=p.dtype)
        g = g * p.dtype.type(1.0 / count)
        return _weigh(g, sample_weight)

    def _reduced(self, y_true, y_pred, sample_weight):
        """A user loss: ``call`` then sample weights and the reduction, with engine ops."""
        from engine import ops
        from engine.ops.tape import as_data
        pd = np.asarray(as_data(y_pred))
        y = np.asarray(as_data(y_true))
        if y.dtype.kind in "fb" or (y.dtype.kind in "iu" and pd.dtype.kind == "f"
                                    and y.shape == pd.shape):
            y = y.astype(pd.dtype)
        values = self.call(y, y_pred)
        vd = np.asarray(as_data(values))
        if sample_weight is not None:
            sw = _match_weights(sample_weight, vd.shape).astype(vd.dtype)
            values = ops.multiply(values, sw)
        if self.reduction in ("none", None):
            return values
        total = ops.sum(values)
        if self.reduction == "sum":
            return total
        if self.reduction == "mean_with_sample_weight" and sample_weight is not None:
            return ops.divide(total, float(np.sum(_match_weights(sample_weight, vd.shape)
                                                  * np.ones(vd.shape))))
        return ops.divide(total, float(max(vd.size, 1)))

    def call(self, y_true, y_pred):
        """Per-sample loss values (user subclasses define this). A built-in's values are
        recorded on the tape when ``y_pred`` is traced, so a subclass's call() may build on
        ``super().call()`` and still get its gradient."""
        from engine.ops.tape import as_data, record
        p = _as_pred(as_data(y_pred))
        y = self._targets(as_data(y_true), p)
        values = self.per_sample(y, p)
        return record(np.asarray(values, dtype=p.dtype), (y_pred,), lambda g, need: (
            (np.asarray(g)[..., None] * self.raw_gradient(y, p)).astype(p.dtype, copy=False),))

    def fused_gradient(self, y_true, y_out, activation: str, sample_weight=None):
        """Gradient w.r.t. the pre-activation of an ``activation`` output layer, or None."""
        return None

    def fused_value_and_gradient(self, y_true, y_out, activation: str):
        """(the loss, ``fused_gradient``) without sample weights, or None (no fused form)."""
        g = self.fused_gradient(y_true, y_out, activation)
        return None if g is None else (float(self(y_true, y_out)), g)

    def per_sample(self, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"loss {self.name!r} does not define per_sample")

    def raw_gradient(self, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"loss {self.name!r} does not define raw_gradient")

    def _targets(self, y_true, y_pred: np.ndarray) -> np.ndarray:
        y = np.asarray(y_true)
        if y.shape != y_pred.shape:
            if y.size != y_pred.size:
                raise ValueError(f"loss {self.name!r}: y_true has shape {y.shape}, y_pred has "
                                 f"shape {y_pred.shape}; they must match")
            y = y.reshape(y_pred.shape)
        return y.astype(y_pred.dtype, copy=False)

    def check_targets(self, y, output_shape, output_name: str):
        """Check/convert training targets once per fit; errors say what to change."""
        y = np.asarray(y)
        want = tuple(output_shape[1:])
        if not _fits(y.shape[1:], want):
            if y.ndim == 1 and want == (1,):
                return y.reshape(-1, 1).astype(np.float32)
            raise ValueError(f"targets for output '{output_name}' have shape {y.shape}, the "
                             f"output has shape {tuple(output_shape)} (loss {self.name})")
        return y

    def get_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"name": self.name, "reduction": self.reduction}
        for p in list(inspect.signature(type(self).__init__).parameters)[1:]:
            if p not in ("name", "reduction", "dtype") and hasattr(self, p):
                cfg[p] = getattr(self, p)
        return cfg

    def get_config_dict(self) -> dict[str, Any]:
        return {"class_name": type(self).__name__, "config": self.get_config()}

    def __repr__(self) -> str:
        return f"<loss {self.name}>"


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def per_sample(self, y, p):
        d = p - y
        return np.mean(d * d, axis=-1)

    def raw_gradient(self, y, p):
        return (p - y) * p.dtype.type(2.0 / p.shape[-1])


class MeanAbsoluteError(Loss):
    name = "mean_absolute_error"

    def per_sample(self, y, p):
        return np.mean(np.abs(p - y), axis=-1)

    def raw_gradient(self, y, p):
        return np.sign(p - y) / p.shape[-1]


class MeanAbsolutePercentageError(Loss):
    """100·mean(|y − p| / max(|y|, ε)) over the last axis (Keras's ε = 1e-7)."""
    name = "mean_absolute_percentage_error"

    def per_sample(self, y, p):
        return 100.0 * np.mean(np.abs(p - y) / np.maximum(np.abs(y), epsilon()), axis=-1)

    def raw_gradient(self, y, p):
        return np.sign(p - y) * (100.0 / p.shape[-1]) / np.maximum(np.abs(y), epsilon())


class Huber(Loss):
    """½e² where |e| ≤ delta, delta·(|e| − ½delta) beyond; mean over the last axis."""
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


class _Crossentropy(Loss):
    """What the cross-entropies share: ``from_logits`` and Keras's ``label_smoothing``, which
    moves targets towards the uniform distribution over ``_classes(y)`` classes."""

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 name: str | None = None):
        super().__init__(name)
        self.from_logits, self.label_smoothing = bool(from_logits), float(label_smoothing)

    def _classes(self, y) -> int:
        return y.shape[-1]

    def _smooth(self, y):
        if self.label_smoothing:
            return y * (1 - self.label_smoothing) + self.label_smoothing / self._classes(y)
        return y


class BinaryCrossentropy(_Crossentropy):
    """−(y·log p + (1 − y)·log(1 − p)), mean over the last axis."""
    name = "binary_crossentropy"

    def _classes(self, y) -> int:
        return 2

    def per_sample(self, y, p):
        y = self._smooth(y)
        if self.from_logits:  # max(z, 0) − z·y + log(1 + e^−|z|)
            return np.mean(np.maximum(p, 0) - p * y + np.log1p(np.exp(-np.abs(p))), axis=-1)
        out = np.empty(p.shape[:-1], dtype=p.dtype)
        K.bce_rows(_rows(y), _rows(p), *_clip_range(p), out.reshape(-1))
        return out

    def raw_gradient(self, y, p):
        y = self._smooth(y)
        if self.from_logits:
            return (_sigmoid(p) - y) / p.shape[-1]
        g = np.empty(p.shape, dtype=p.dtype)
        K.bce_rows_grad(_rows(y), _rows(p), *_clip_range(p), 1.0, g.reshape(-1, p.shape[-1]))
        return g

    def fused_gradient(self, y_true, y_out, activation, sample_weight=None):
        # d/dz of mean_k BCE(y, sigmoid(z)) = (p − y) / K, then / number of rows
        if activation != "sigmoid" or self.from_logits:
            return None
        y = self._smooth(self._targets(y_true, y_out))
        n = max(math.prod(y_out.shape[:-1]), 1) * y_out.shape[-1]
        g = y_out - y
        g *= y_out.dtype.type(1.0 / n)
        return _weigh(g, sample_weight)

    def check_targets(self, y, output_shape, output_name):
        y = super().check_targets(y, output_shape, output_name)
        if y.size and (np.nanmin(y) < 0 or np.nanmax(y) > 1):
            raise ValueError(f"targets for output '{output_name}': binary_crossentropy needs "
                             f"labels in [0, 1], found values from {np.nanmin(y)} to "
                             f"{np.nanmax(y)}")
        return y


class CategoricalCrossentropy(_Crossentropy):
    """−Σ y·log(p / Σp) over the last axis (one-hot or soft targets)."""
    name = "categorical_crossentropy"

    def per_sample(self, y, p):
        y = self._smooth(y)
        if self.from_logits:
            m = p.max(axis=-1, keepdims=True)
            lse = np.log(np.sum(np.exp(p - m), axis=-1, keepdims=True)) + m
            return -np.sum(y * (p - lse), axis=-1)
        out = np.empty(p.shape[:-1], dtype=p.dtype)
        K.cce_rows(_rows(y), _rows(p), *_clip_range(p), out.reshape(-1))
        return out

    def raw_gradient(self, y, p):
        y = self._smooth(y)
        if self.from_logits:  # d/dz −Σ y·log softmax(z) = softmax(z)·Σy − y
            e = np.exp(p - p.max(axis=-1, keepdims=True))
            s = e / e.sum(axis=-1, keepdims=True)
            return s * y.sum(axis=-1, keepdims=True) - y
        g = np.empty(p.shape, dtype=p.dtype)
        K.cce_rows_grad(_rows(y), _rows(p), *_clip_range(p), 1.0, g.reshape(-1, p.shape[-1]))
        return g

    def fused_gradient(self, y_true, y_out, activation, sample_weight=None):
        both = self.fused_value_and_gradient(y_true, y_out, activation)
        return None if both is None else _weigh(both[1], sample_weight)

    def fused_value_and_gradient(self, y_true, y_out, activation):
        if activation != "softmax" or self.from_logits:
            return None
        n = max(math.prod(y_out.shape[:-1]), 1)
        g = np.empty(y_out.shape, dtype=y_out.dtype)
        values = np.empty(n, dtype=y_out.dtype)
        self._fused(y_true, y_out, y_out.dtype.type(1.0 / n), g.reshape(-1, y_out.shape[-1]),
                    values)
        return _reduce(values, None), g

    def _fused(self, y_true, p, scale, g, values):
        """g = scale·(p·Σy − y) (the gradient at the softmax's input) and the per-row values."""
        y = self._smooth(self._targets(y_true, p))
        K.softmax_cce_fused_value(_rows(y), _rows(p), *_clip_range(p), scale, g, values)

    def check_targets(self, y, output_shape, output_name):
        y = np.asarray(y)
        k = output_shape[-1]
        if not _fits(y.shape[1:], tuple(output_shape[1:])) and (y.ndim == 1 or y.shape[-1] == 1) \
                and k not in (None, 1):
            raise ValueError(
                f"targets for output '{output_name}' have shape {y.shape} (class numbers?), but "
                f"categorical_crossentropy needs one-hot targets of shape (N, {k}); convert them "
                f"with engine.utils.to_categorical(y, {k}) or use "
                f"loss='sparse_categorical_crossentropy'")
        return super().check_targets(y, output_shape, output_name)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical crossentropy with class numbers as targets: shape (N,) or (N, 1), int or
    whole floats (for sequences (N, T) or (N, T, 1))."""
    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False, name: str | None = None):
        super().__init__(from_logits, 0.0, name)

    def _targets(self, y_true, y_pred):
        """Class numbers as int64 of shape y_pred.shape[:-1]."""
        labels = np.asarray(y_true)
        want = y_pred.shape[:-1]
        if labels.size != math.prod(want):
            raise ValueError(f"loss {self.name!r}: y_true has shape {labels.shape}; for "
                             f"y_pred of shape {y_pred.shape} it needs one class number per "
                             f"row, shape {want}")
        return labels.reshape(want).astype(np.int64, copy=False)

    def _check(self, bad_row: int, labels, p) -> None:
        """Raise for the invalid label a kernel reported (−1: none)."""
        if bad_row >= 0:
            k = p.shape[-1]
            raise ValueError(f"loss {self.name!r}: class number {labels.reshape(-1)[bad_row]} "
                             f"(row {bad_row}) is outside 0..{k - 1}; y_pred has {k} classes")

    def _onehot(self, labels, p):
        k = p.shape[-1]
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            self._check(int(np.argmax((labels.reshape(-1) < 0) | (labels.reshape(-1) >= k))),
                        labels, p)
        onehot = np.zeros(p.shape, dtype=p.dtype)
        np.put_along_axis(onehot, labels[..., None], 1, axis=-1)
        return onehot

    def per_sample(self, labels, p):
        if self.from_logits:
            return super().per_sample(self._onehot(labels, p), p)
        out = np.empty(p.shape[:-1], dtype=p.dtype)
        bad = K.sparse_cce_rows(labels.reshape(-1), _rows(p), *_clip_range(p), out.reshape(-1))
        self._check(bad, labels, p)
        return out

    def raw_gradient(self, labels, p):
        if self.from_logits:
            return super().raw_gradient(self._onehot(labels, p), p)
        g = np.empty(p.shape, dtype=p.dtype)
        self._check(K.sparse_cce_rows_grad(labels.reshape(-1), _rows(p), *_clip_range(p), 1.0,
                                           g.reshape(-1, p.shape[-1])), labels, p)
        return g

    def _fused(self, y_true, p, scale, g, values):
        labels = self._targets(y_true, p)
        self._check(K.softmax_sparse_cce_fused_value(labels.reshape(-1), _rows(p),
                                                     *_clip_range(p), scale, g, values),
                    labels, p)

    def check_targets(self, y, output_shape, output_name):
        y = np.asarray(y)
        k = output_shape[-1]
        want = tuple(output_shape[1:-1])
        if not (_fits(y.shape[1:], want) or _fits(y.shape[1:], want + (1,))):
            hint = ("; they look one-hot, so use loss='categorical_crossentropy'"
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
                bad = hi if hi >= (k or 0) else lo
                raise ValueError(f"targets for output '{output_name}': found class {bad}, but "
                                 f"the output has {k} units (classes 0..{(k or 1) - 1})")
        return y.astype(np.int64).reshape(y.shape[:len(want) + 1])


class KLDivergence(Loss):
    """Σ y·log(y / p) over the last axis, both clipped to [1e-7, 1]."""
    name = "kl_divergence"

    def per_sample(self, y, p):
        yt = np.clip(y, epsilon(), 1)
        q = np.clip(p, epsilon(), 1)
        return np.sum(yt * np.log(yt / q), axis=-1)

    def raw_gradient(self, y, p):
        yt = np.clip(y, epsilon(), 1)
        inside = (p >= epsilon()) & (p <= 1)
        return -(inside * yt) / np.clip(p, epsilon(), 1)


class CosineSimilarity(Loss):
    """−⟨y/‖y‖, p/‖p‖⟩ over the last axis (−1 = same direction)."""
    name = "cosine_similarity"

    @staticmethod
    def _unit(a):
        norm = np.sqrt(np.maximum(np.sum(a * a, axis=-1, keepdims=True), 1e-12))
        return a / norm, norm

    def per_sample(self, y, p):
        return -np.sum(self._unit(y)[0] * self._unit(p)[0], axis=-1)

    def raw_gradient(self, y, p):
        # d/dp −⟨ŷ, p/‖p‖⟩ = −(ŷ − ⟨ŷ, p̂⟩·p̂) / ‖p‖
        yn = self._unit(y)[0]
        pn, norm = self._unit(p)
        return -(yn - np.sum(yn * pn, axis=-1, keepdims=True) * pn) / norm


class LossFunctionWrapper(Loss):
    """A loss from a function ``fn(y_true, y_pred, **kwargs)`` returning per-sample values
    (Keras's ``LossFunctionWrapper``; ``compile(loss=my_fn)`` makes one)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name or getattr(fn, "__name__", "loss"), reduction, dtype)
        self.fn, self.fn_kwargs = fn, kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction, "fn": self.name}


def _snake_case(name: str) -> str:
    import re
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


_FUNCS = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "kullback_leibler_divergence": KLDivergence,
    "cosine_similarity": CosineSimilarity, "huber": Huber, "huber_loss": Huber,
}
CLASSES = {c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError,
                                   MeanAbsolutePercentageError, Huber, BinaryCrossentropy,
                                   CategoricalCrossentropy, SparseCategoricalCrossentropy,
                                   KLDivergence, CosineSimilarity)}
NAMES = sorted(_FUNCS)

mean_squared_error = mse = MeanSquaredError()
mean_absolute_error = mae = MeanAbsoluteError()
mean_absolute_percentage_error = mape = MeanAbsolutePercentageError()
binary_crossentropy = BinaryCrossentropy()
categorical_crossentropy = CategoricalCrossentropy()
sparse_categorical_crossentropy = SparseCategoricalCrossentropy()
kl_divergence = kld = kullback_leibler_divergence = KLDivergence()
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
            from engine.saving.object_registration import find_custom_object
            custom = find_custom_object(identifier, loose=True)   # "package>name" registered
            if custom is not None:
                return get(custom)
            raise ValueError(f"unknown loss {identifier!r}; valid names: " + ", ".join(NAMES))
        return cls()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        cls = CLASSES.get(name) or _FUNCS.get(str(name or "").lower())
        if cls is None and name == "function" and isinstance(identifier.get("config"), str):
            return get(identifier["config"])         # Keras 3's form of a function loss
        if cls is None:
            from engine.saving.object_registration import find_custom_object
            if find_custom_object(name, identifier.get("registered_name"), loose=True):
                from engine.saving import deserialize_keras_object
                return get(deserialize_keras_object(identifier))
            raise ValueError(f"unknown loss {name!r}; valid: " + ", ".join(CLASSES))
        cfg = identifier.get("config") or {}
        if not isinstance(cfg, dict):  # Keras 3 saves function losses as config = their name
            cfg = {}
        ok = set(inspect.signature(cls.__init__).parameters) - {"self"}
        return cls(**{k: v for k, v in cfg.items() if k in ok})
    if callable(identifier):   # fn(y_true, y_pred) → per-sample values, written with ops
        return LossFunctionWrapper(identifier)
    raise ValueError(f"cannot interpret {identifier!r} as a loss; valid names: " + ", ".join(NAMES))
