"""Stateful metrics, as Keras's: ``update_state(y_true, y_pred)`` per batch, ``result()`` for the
epoch so far, ``reset_state()`` between epochs. Updates are a few vectorized numpy calls."""
from __future__ import annotations

import numpy as np


class Metric:
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
        self.total += float(np.sum(values))
        self.count += values.size

    def values(self, y_true, y_pred) -> np.ndarray:
        raise NotImplementedError

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def __repr__(self) -> str:
        return f"<metric {self.name}>"


class Mean(Metric):
    name = "mean"

    def update_state(self, values, sample_weight=None) -> None:  # type: ignore[override]
        v = np.asarray(values, dtype=np.float64)
        self.total += float(v.sum())
        self.count += v.size


def _labels(y_true, y_pred):
    """Integer labels shaped like ``y_pred`` without its class axis."""
    y = np.asarray(y_true)
    return y.reshape(y_pred.shape[:-1]).astype(np.int64)


class BinaryAccuracy(Metric):
    name = "binary_accuracy"

    def __init__(self, name: str | None = None, threshold: float = 0.5):
        self.threshold = threshold
        super().__init__(name)

    def values(self, y_true, y_pred):
        y = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
        return ((y_pred > self.threshold) == (y > 0.5)).reshape(len(y_pred), -1).mean(axis=1)


class CategoricalAccuracy(Metric):
    name = "categorical_accuracy"

    def values(self, y_true, y_pred):
        return np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)


class SparseCategoricalAccuracy(Metric):
    name = "sparse_categorical_accuracy"

    def values(self, y_true, y_pred):
        return _labels(y_true, y_pred) == np.argmax(y_pred, axis=-1)


class TopKCategoricalAccuracy(Metric):
    name = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None):
        self.k = k
        super().__init__(name)

    def values(self, y_true, y_pred):
        labels = np.argmax(y_true, axis=-1) if y_true.shape == y_pred.shape else \
            _labels(y_true, y_pred)
        top = np.argpartition(-y_pred, min(self.k, y_pred.shape[-1]) - 1, axis=-1)[..., :self.k]
        return (top == labels[..., None]).any(axis=-1)


class MeanSquaredError(Metric):
    name = "mean_squared_error"

    def values(self, y_true, y_pred):
        y = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
        return np.mean(np.square(y_pred - y), axis=-1)


class MeanAbsoluteError(Metric):
    name = "mean_absolute_error"

    def values(self, y_true, y_pred):
        y = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
        return np.mean(np.abs(y_pred - y), axis=-1)


class RootMeanSquaredError(MeanSquaredError):
    name = "root_mean_squared_error"

    def values(self, y_true, y_pred):
        y = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
        return np.square(y_pred - y).reshape(-1)

    def result(self):
        return float(np.sqrt(super().result()))


class _Confusion(Metric):
    """True/false positives/negatives at a threshold over all elements (Keras flattens)."""

    def __init__(self, name: str | None = None, thresholds: float = 0.5):
        self.threshold = thresholds
        super().__init__(name)

    def reset_state(self):
        self.tp = self.fp = self.fn = self.tn = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred)
        y = np.asarray(y_true)
        if y.size != y_pred.size:  # sparse labels against class scores: one-hot them
            onehot = np.zeros(y_pred.shape, dtype=bool)
            np.put_along_axis(onehot, _labels(y, y_pred)[..., None], True, axis=-1)
            y = onehot
        truth = y.reshape(-1) > 0.5
        pred = y_pred.reshape(-1) > self.threshold
        self.tp += float(np.count_nonzero(pred & truth))
        self.fp += float(np.count_nonzero(pred & ~truth))
        self.fn += float(np.count_nonzero(~pred & truth))
        self.tn += float(np.count_nonzero(~pred & ~truth))


class Precision(_Confusion):
    name = "precision"

    def result(self):
        d = self.tp + self.fp
        return self.tp / d if d else 0.0


class Recall(_Confusion):
    name = "recall"

    def result(self):
        d = self.tp + self.fn
        return self.tp / d if d else 0.0


class F1Score(Metric):
    """F1 averaged over classes ('macro', the default here so logs stay scalar), 'micro' or
    'weighted'. Multi-class scores are one-hot by argmax unless a threshold is given."""
    name = "f1_score"

    def __init__(self, average: str | None = "macro", threshold: float | None = None,
                 name: str | None = None):
        if average not in (None, "macro", "micro", "weighted"):
            raise ValueError(f"F1Score: average must be macro, micro or weighted, got {average!r}")
        self.average, self.threshold = average or "macro", threshold
        super().__init__(name)

    def reset_state(self):
        self.tp = self.fp = self.fn = self.support = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred).reshape(-1, np.asarray(y_pred).shape[-1])
        y = np.asarray(y_true)
        k = y_pred.shape[-1]
        if y.size != y_pred.size:
            truth = np.zeros(y_pred.shape, dtype=bool)
            truth[np.arange(len(y_pred)), y.reshape(-1).astype(np.int64)] = True
        else:
            truth = y.reshape(y_pred.shape) > 0.5
        if self.threshold is None and k > 1:
            pred = np.zeros(y_pred.shape, dtype=bool)
            pred[np.arange(len(y_pred)), y_pred.argmax(axis=1)] = True
        else:
            pred = y_pred > (0.5 if self.threshold is None else self.threshold)
        tp = (pred & truth).sum(0).astype(float)
        fp = (pred & ~truth).sum(0).astype(float)
        fn = (~pred & truth).sum(0).astype(float)
        if self.tp is None:
            self.tp, self.fp, self.fn, self.support = tp, fp, fn, truth.sum(0).astype(float)
        else:
            self.tp += tp
            self.fp += fp
            self.fn += fn
            self.support += truth.sum(0)

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
    """Area under the ROC curve from ``num_thresholds`` buckets (Keras's default 200,
    trapezoidal interpolation); multi-class scores are flattened like Keras's multi_label=False."""
    name = "auc"

    def __init__(self, num_thresholds: int = 200, name: str | None = None, curve: str = "ROC"):
        if curve.upper() not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        self.num_thresholds, self.curve = num_thresholds, curve.upper()
        eps = 1e-7
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.thresholds = np.array([0.0 - eps] + inner + [1.0 + eps])
        super().__init__(name)

    def reset_state(self):
        n = self.num_thresholds
        self.pos_hist = np.zeros(n + 1)
        self.neg_hist = np.zeros(n + 1)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred, dtype=np.float64)
        y = np.asarray(y_true)
        if y.size != y_pred.size:
            onehot = np.zeros(y_pred.shape, dtype=bool)
            np.put_along_axis(onehot, _labels(y, y_pred)[..., None], True, axis=-1)
            y = onehot
        truth = y.reshape(-1) > 0.5
        bucket = np.searchsorted(self.thresholds, y_pred.reshape(-1), side="left")
        n = self.num_thresholds + 1
        self.pos_hist += np.bincount(bucket[truth], minlength=n)
        self.neg_hist += np.bincount(bucket[~truth], minlength=n)

    def result(self):
        # predictions above threshold i are those in buckets > i
        tp = self.pos_hist[::-1].cumsum()[::-1][1:]
        fp = self.neg_hist[::-1].cumsum()[::-1][1:]
        P, N = self.pos_hist.sum(), self.neg_hist.sum()
        if self.curve == "ROC":
            if P == 0 or N == 0:
                return 0.0
            tpr, fpr = tp / P, fp / N
            return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))
        prec = np.divide(tp, tp + fp, out=np.ones_like(tp), where=(tp + fp) > 0)
        rec = tp / P if P else np.zeros_like(tp)
        return float(np.sum((rec[:-1] - rec[1:]) * (prec[:-1] + prec[1:]) / 2))


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy, "precision": Precision,
    "recall": Recall, "f1": F1Score, "f1_score": F1Score, "auc": AUC,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
}
CLASSES = {c.__name__: c for c in set(_BY_NAME.values())}
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
    """A fresh metric from a name ('accuracy' resolved from the loss), a class or an instance."""
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
    raise ValueError(f"cannot interpret {identifier!r} as a metric; valid names: "
                     + ", ".join(NAMES))
