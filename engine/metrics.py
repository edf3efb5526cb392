"""Stateful metrics, as Keras's: ``update_state(y_true, y_pred, sample_weight=None)`` per batch,
``result()`` for the epoch so far, ``reset_state()`` between epochs. Each update is a few
vectorized numpy calls (they run on every training step)."""
from __future__ import annotations

import inspect

import numpy as np

from engine.backend import epsilon


def _weights_for(sample_weight, shape: tuple) -> np.ndarray:
    """Per-sample weights (N,) or (N, 1) broadcast to ``shape`` (N, ...)."""
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == len(shape) + 1 and w.shape[-1] == 1:
        w = w[..., 0]
    w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))
    return np.broadcast_to(w, shape)


class Metric:
    """Base: a (weighted) mean of the per-sample ``values(y_true, y_pred)``."""
    name = "metric"

    def __init__(self, name: str | None = None):
        if name:
            self.name = name
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        values = self.values(np.asarray(y_true), np.asarray(y_pred))
        if sample_weight is None:
            self.total += float(np.sum(values))
            self.count += values.size
        else:
            w = _weights_for(sample_weight, values.shape)
            self.total += float(np.sum(values * w))
            self.count += float(np.sum(w))

    def values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"metric {self.name!r} does not define values()")

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def get_config(self) -> dict:
        cfg = {"name": self.name}
        for p in list(inspect.signature(type(self).__init__).parameters)[1:]:
            if p != "name" and hasattr(self, p):
                cfg[p] = getattr(self, p)
        return cfg

    def __repr__(self) -> str:
        return f"<metric {self.name}>"


class Mean(Metric):
    """Weighted mean of the values given (the trainer's loss tracker)."""
    name = "mean"

    def update_state(self, values, sample_weight=None) -> None:  # type: ignore[override]
        v = np.asarray(values, dtype=np.float64)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += v.size
        else:
            w = _weights_for(sample_weight, v.shape)
            self.total += float(np.sum(v * w))
            self.count += float(np.sum(w))


def _labels(y_true, y_pred):
    """Integer labels shaped like ``y_pred`` without its class axis."""
    y = np.asarray(y_true)
    return y.reshape(y_pred.shape[:-1]).astype(np.int64)


def _like(y_true, y_pred):
    """y_true reshaped to y_pred's shape when they hold as many values ((N,) vs (N, 1))."""
    return y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true


def _truth_like(y_true, y_pred) -> np.ndarray:
    """Boolean targets shaped like y_pred: one-hot from class numbers when y_true is sparse."""
    y = np.asarray(y_true)
    if y.size != y_pred.size:
        onehot = np.zeros(y_pred.shape, dtype=bool)
        np.put_along_axis(onehot, _labels(y, y_pred)[..., None], True, axis=-1)
        return onehot
    return y.reshape(y_pred.shape) > 0.5


class BinaryAccuracy(Metric):
    """How often (y_pred > threshold) equals the 0/1 target, per sample over the last axis."""
    name = "binary_accuracy"

    def __init__(self, name: str | None = None, threshold: float = 0.5):
        self.threshold = threshold
        super().__init__(name)

    def values(self, y_true, y_pred):
        y = _like(y_true, y_pred)
        return ((y_pred > self.threshold) == (y > 0.5)).reshape(len(y_pred), -1).mean(axis=1)


class CategoricalAccuracy(Metric):
    """argmax(y_true) == argmax(y_pred) (one-hot targets)."""
    name = "categorical_accuracy"

    def values(self, y_true, y_pred):
        return np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)


class SparseCategoricalAccuracy(Metric):
    """class number == argmax(y_pred)."""
    name = "sparse_categorical_accuracy"

    def values(self, y_true, y_pred):
        return _labels(y_true, y_pred) == np.argmax(y_pred, axis=-1)


class TopKCategoricalAccuracy(Metric):
    """The target class is among the k highest scores (one-hot or class-number targets)."""
    name = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None):
        self.k = k
        super().__init__(name)

    def values(self, y_true, y_pred):
        labels = np.argmax(y_true, axis=-1) if y_true.shape == y_pred.shape else \
            _labels(y_true, y_pred)
        k = min(self.k, y_pred.shape[-1])
        top = np.argpartition(-y_pred, k - 1, axis=-1)[..., :k]
        return (top == labels[..., None]).any(axis=-1)


class MeanSquaredError(Metric):
    name = "mean_squared_error"

    def values(self, y_true, y_pred):
        return np.mean(np.square(y_pred - _like(y_true, y_pred)), axis=-1)


class MeanAbsoluteError(Metric):
    name = "mean_absolute_error"

    def values(self, y_true, y_pred):
        return np.mean(np.abs(y_pred - _like(y_true, y_pred)), axis=-1)


class RootMeanSquaredError(Metric):
    """√(mean of all squared errors)."""
    name = "root_mean_squared_error"

    def values(self, y_true, y_pred):
        return np.square(y_pred - _like(y_true, y_pred))

    def result(self):
        return float(np.sqrt(super().result()))


class MeanAbsolutePercentageError(Metric):
    """100·mean(|y − p| / max(|y|, ε)) over the last axis."""
    name = "mean_absolute_percentage_error"

    def values(self, y_true, y_pred):
        y = _like(y_true, y_pred).astype(np.float64, copy=False)
        return 100.0 * np.mean(np.abs(y_pred - y) / np.maximum(np.abs(y), epsilon()), axis=-1)


def _parse_thresholds(thresholds, who: str) -> np.ndarray:
    """Keras's thresholds argument (None → 0.5, a number, or a list) as a float32 array."""
    values = [0.5] if thresholds is None else list(thresholds) if isinstance(
        thresholds, (list, tuple, np.ndarray)) else [thresholds]
    try:
        t = np.array([float(v) for v in values], dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: thresholds must be a number or a list of numbers in [0, 1], "
                         f"got {thresholds!r}") from None
    if t.size == 0 or np.any((t < 0) | (t > 1)) or not np.all(np.isfinite(t)):
        raise ValueError(f"{who}: thresholds must be in [0, 1], got {thresholds!r}")
    return t


class _Confusion(Metric):
    """True/false positives/negatives at each threshold, over all elements (Keras flattens):
    a prediction counts as positive when it is strictly above the threshold. ``class_id``
    looks only at that column of the last axis. One threshold gives scalar results, several
    give one value per threshold."""

    def __init__(self, thresholds=None, name: str | None = None, class_id: int | None = None):
        self._t = _parse_thresholds(thresholds, type(self).__name__)
        self.thresholds, self.class_id = thresholds, class_id
        super().__init__(name)

    def reset_state(self):
        n = self._t.size
        self.tp, self.fp, self.fn, self.tn = (np.zeros(n) for _ in range(4))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred)
        truth = _truth_like(y_true, y_pred)
        w = None if sample_weight is None else _weights_for(sample_weight, y_pred.shape)
        if self.class_id is not None:
            truth, y_pred = truth[..., self.class_id], y_pred[..., self.class_id]
            w = None if w is None else w[..., self.class_id]
        truth = truth.reshape(-1, 1)
        above = y_pred.reshape(-1, 1) > self._t                 # (n, thresholds)
        w = np.ones((truth.shape[0], 1)) if w is None else w.reshape(-1, 1)
        self.tp += (w * (above & truth)).sum(axis=0)
        self.fp += (w * (above & ~truth)).sum(axis=0)
        self.fn += (w * (~above & truth)).sum(axis=0)
        self.tn += (w * (~above & ~truth)).sum(axis=0)

    def _one(self, values: np.ndarray):
        return float(values[0]) if values.size == 1 else values.copy()


class TruePositives(_Confusion):
    """The (weighted) number of positive targets predicted above the threshold."""
    name = "true_positives"

    def result(self):
        return self._one(self.tp)


class FalsePositives(_Confusion):
    """The (weighted) number of negative targets predicted above the threshold."""
    name = "false_positives"

    def result(self):
        return self._one(self.fp)


class TrueNegatives(_Confusion):
    """The (weighted) number of negative targets predicted at or below the threshold."""
    name = "true_negatives"

    def result(self):
        return self._one(self.tn)


class FalseNegatives(_Confusion):
    """The (weighted) number of positive targets predicted at or below the threshold."""
    name = "false_negatives"

    def result(self):
        return self._one(self.fn)


class Precision(_Confusion):
    """tp / (tp + fp) at each threshold (0 when nothing was predicted positive)."""
    name = "precision"

    def result(self):
        return self._one(_div(self.tp, self.tp + self.fp))


class Recall(_Confusion):
    """tp / (tp + fn) at each threshold (0 when there are no positives)."""
    name = "recall"

    def result(self):
        return self._one(_div(self.tp, self.tp + self.fn))


class F1Score(Metric):
    """F1 per class, averaged 'macro' (the default here, so logs stay one number), 'micro' or
    'weighted' (by support). Scores of several classes become one-hot by argmax unless a
    threshold is given (Keras 3); a single-unit output uses threshold 0.5."""
    name = "f1_score"

    def __init__(self, average: str | None = "macro", threshold: float | None = None,
                 name: str | None = None):
        if average not in (None, "macro", "micro", "weighted"):
            raise ValueError(f"F1Score: average must be 'macro', 'micro' or 'weighted', got "
                             f"{average!r}")
        self.average, self.threshold = average or "macro", threshold
        super().__init__(name)

    def reset_state(self):
        self.tp = self.fp = self.fn = self.support = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred)
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
        truth = _truth_like(y_true, y_pred)
        if self.threshold is None and y_pred.shape[-1] > 1:
            pred = np.zeros(y_pred.shape, dtype=bool)
            pred[np.arange(len(y_pred)), y_pred.argmax(axis=1)] = True
        else:
            pred = y_pred > (0.5 if self.threshold is None else self.threshold)
        w = np.ones(len(y_pred)) if sample_weight is None else \
            np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        tp, fp, fn, sup = (w @ (pred & truth), w @ (pred & ~truth), w @ (~pred & truth),
                           w @ truth)
        if self.tp is None:
            self.tp, self.fp, self.fn, self.support = tp, fp, fn, sup
        else:
            self.tp += tp
            self.fp += fp
            self.fn += fn
            self.support += sup

    def result(self):
        if self.tp is None:
            return 0.0
        if self.average == "micro":
            tp, fp, fn = self.tp.sum(), self.fp.sum(), self.fn.sum()
            d = 2 * tp + fp + fn
            return float(2 * tp / d) if d else 0.0
        d = 2 * self.tp + self.fp + self.fn
        f1 = np.divide(2 * self.tp, d, out=np.zeros_like(d), where=d > 0)
        if self.average == "weighted":
            s = self.support.sum()
            return float((f1 * self.support).sum() / s) if s else 0.0
        return float(f1.mean())


class AUC(Metric):
    """Area under the ROC (or PR) curve from ``num_thresholds`` thresholds, as Keras: ROC by
    the trapezoid rule, PR by Davis & Goadrich's interpolation. Scores are flattened
    (multi_label=False); sparse targets are one-hot encoded first."""
    name = "auc"

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", name: str | None = None):
        if curve.upper() not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        if num_thresholds < 2:
            raise ValueError(f"AUC: num_thresholds must be > 1, got {num_thresholds}")
        self.num_thresholds, self.curve = int(num_thresholds), curve.upper()
        eps = 1e-7
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        # float32 like Keras's, so scores equal to a threshold land on the same side
        self._thresholds = np.array([0.0 - eps] + inner + [1.0 + eps], dtype=np.float32)
        super().__init__(name)

    def reset_state(self):
        n = self.num_thresholds
        self.pos_hist = np.zeros(n + 1)  # bucket b: thresholds[b−1] < score ≤ thresholds[b]
        self.neg_hist = np.zeros(n + 1)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred)
        truth = _truth_like(y_true, y_pred).reshape(-1)
        scores = y_pred.reshape(-1).astype(np.float32, copy=False)
        bucket = np.searchsorted(self._thresholds, scores, side="left")
        w = None if sample_weight is None else \
            _weights_for(sample_weight, y_pred.shape).reshape(-1)
        n = self.num_thresholds + 1
        self.pos_hist += np.bincount(bucket[truth], None if w is None else w[truth], minlength=n)
        self.neg_hist += np.bincount(bucket[~truth], None if w is None else w[~truth],
                                     minlength=n)

    def _counts(self):
        """tp, fp, fn, tn at each threshold (score > threshold ⟺ bucket > its index)."""
        tp = self.pos_hist[::-1].cumsum()[::-1][1:]
        fp = self.neg_hist[::-1].cumsum()[::-1][1:]
        return tp, fp, self.pos_hist.sum() - tp, self.neg_hist.sum() - fp

    def result(self):
        tp, fp, fn, tn = self._counts()
        if self.curve == "PR":
            return self._interpolated_pr(tp, fp, fn)
        tpr = _div(tp, tp + fn)
        fpr = _div(fp, fp + tn)
        return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))

    @staticmethod
    def _interpolated_pr(tp, fp, fn) -> float:
        # precision varies linearly in tp over each threshold interval (Keras's closed form)
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        slope = _div(dtp, np.maximum(p[:-1] - p[1:], 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _div(p[:-1], np.maximum(p[1:], 0)), 1.0)
        inc = _div(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))
        return float(np.sum(inc))


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b with 0 where b is 0 (Keras's divide_no_nan)."""
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b != 0)


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": TopKCategoricalAccuracy, "precision": Precision,
    "recall": Recall, "f1": F1Score, "f1_score": F1Score, "auc": AUC,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "true_positives": TruePositives, "false_positives": FalsePositives,
    "true_negatives": TrueNegatives, "false_negatives": FalseNegatives,
}
CLASSES = {c.__name__: c for c in set(_BY_NAME.values()) | {Mean}}
NAMES = sorted(set(_BY_NAME) | {"accuracy", "acc"})


def _accuracy_for(loss, output_shape) -> Metric:
    """Keras's choice for 'accuracy': binary for BCE or one unit, sparse for sparse CE."""
    lname = getattr(loss, "name", "")
    if "binary" in lname or (output_shape is not None and output_shape[-1] == 1):
        return BinaryAccuracy()
    if "sparse" in lname:
        return SparseCategoricalAccuracy()
    return CategoricalAccuracy()


def get(identifier, loss=None, output_shape=None) -> Metric:
    """A fresh metric from a name ('accuracy' resolved from the loss and output shape), a
    class, a Keras config dict or an instance (returned as is)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            m = _accuracy_for(loss, output_shape)
        elif key in _BY_NAME:
            m = _BY_NAME[key]()
        elif identifier in CLASSES:
            m = CLASSES[identifier]()
        else:
            raise ValueError(f"unknown metric {identifier!r}; valid names: " + ", ".join(NAMES))
        m.name = identifier
        return m
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str):
        name = identifier["class_name"]
        cls = CLASSES.get(name) or _BY_NAME.get(name.lower())
        if cls is None:
            raise ValueError(f"unknown metric class {name!r}; valid: " + ", ".join(sorted(CLASSES)))
        cfg = identifier.get("config") or {}
        ok = set(inspect.signature(cls.__init__).parameters) - {"self"}
        return cls(**{k: v for k, v in cfg.items() if k in ok})
    raise ValueError(f"cannot interpret {identifier!r} as a metric; valid names: "
                     + ", ".join(NAMES))
