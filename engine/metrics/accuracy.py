"""Accuracy metrics: binary, categorical, sparse categorical, top-k."""
from __future__ import annotations

import numpy as np

from engine.kernels import metrics as K
from engine.metrics.base import MeanMetricWrapper, _labels, _like


def _kernel_rows(a: np.ndarray) -> np.ndarray | None:
    """``a`` as C-contiguous float (R, K) rows for the kernels, or None (no class axis, other
    dtypes: numpy's path)."""
    if a.ndim < 2 or a.dtype not in (np.float32, np.float64) or a.shape[-1] == 0:
        return None
    return np.ascontiguousarray(a).reshape(-1, a.shape[-1])


def _count(metric, hits: int, n: int) -> None:
    metric.total += float(hits)
    metric.count += n


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) equals the 0/1 target, per sample over the last axis."""
    name = "binary_accuracy"

    def __init__(self, name: str | None = None, threshold: float = 0.5):
        self.threshold = threshold
        super().__init__(name=name)

    def values(self, y_true, y_pred):
        y = _like(y_true, y_pred)
        return ((y_pred > self.threshold) == (y > 0.5)).reshape(len(y_pred), -1).mean(axis=1)


class CategoricalAccuracy(MeanMetricWrapper):
    """argmax(y_true) == argmax(y_pred) (one-hot targets)."""
    name = "categorical_accuracy"

    def values(self, y_true, y_pred):
        return np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y, p = np.asarray(y_true), np.asarray(y_pred)
        yr, pr = _kernel_rows(y), _kernel_rows(p)
        if (sample_weight is None and type(self).values is CategoricalAccuracy.values
                and yr is not None and pr is not None and y.shape == p.shape):
            _count(self, K.argmax_agreements(yr, pr), len(pr))  # one pass, as values() counts
            return
        super().update_state(y_true, y_pred, sample_weight)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """class number == argmax(y_pred)."""
    name = "sparse_categorical_accuracy"

    def values(self, y_true, y_pred):
        return _labels(y_true, y_pred) == np.argmax(y_pred, axis=-1)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        p = np.asarray(y_pred)
        pr = _kernel_rows(p)
        if (sample_weight is None and type(self).values is SparseCategoricalAccuracy.values
                and pr is not None):
            labels = _labels(y_true, p).reshape(-1)
            _count(self, K.argmax_hits(labels, pr), len(pr))  # one pass, as values() counts
            return
        super().update_state(y_true, y_pred, sample_weight)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """The target class is among the k highest scores (one-hot or class-number targets)."""
    name = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None):
        self.k = k
        super().__init__(name=name)

    def values(self, y_true, y_pred):
        labels = np.argmax(y_true, axis=-1) if y_true.shape == y_pred.shape else \
            _labels(y_true, y_pred)
        k = min(self.k, y_pred.shape[-1])
        top = np.argpartition(-y_pred, k - 1, axis=-1)[..., :k]
        return (top == labels[..., None]).any(axis=-1)
