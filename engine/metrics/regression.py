"""Regression metrics: mean squared / absolute / absolute percentage error, RMSE."""
from __future__ import annotations

import numpy as np

from engine.backend import epsilon
from engine.metrics.base import MeanMetricWrapper, _like


class MeanSquaredError(MeanMetricWrapper):
    name = "mean_squared_error"

    def values(self, y_true, y_pred):
        return np.mean(np.square(y_pred - _like(y_true, y_pred)), axis=-1)


class MeanAbsoluteError(MeanMetricWrapper):
    name = "mean_absolute_error"

    def values(self, y_true, y_pred):
        return np.mean(np.abs(y_pred - _like(y_true, y_pred)), axis=-1)


class RootMeanSquaredError(MeanMetricWrapper):
    """√(mean of all squared errors)."""
    name = "root_mean_squared_error"

    def values(self, y_true, y_pred):
        return np.square(y_pred - _like(y_true, y_pred))

    def result(self):
        return float(np.sqrt(super().result()))


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """100·mean(|y − p| / max(|y|, ε)) over the last axis."""
    name = "mean_absolute_percentage_error"

    def values(self, y_true, y_pred):
        y = _like(y_true, y_pred).astype(np.float64, copy=False)
        return 100.0 * np.mean(np.abs(y_pred - y) / np.maximum(np.abs(y), epsilon()), axis=-1)
