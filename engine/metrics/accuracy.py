"""Accuracy metrics: binary, categorical, sparse categorical, top-k."""
from __future__ import annotations

import numpy as np

from engine.metrics.base import MeanMetricWrapper, _labels, _like


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


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """class number == argmax(y_pred)."""
    name = "sparse_categorical_accuracy"

    def values(self, y_true, y_pred):
        return _labels(y_true, y_pred) == np.argmax(y_pred, axis=-1)


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
