"""Stateful metrics, as Keras's ``keras.metrics``: ``update_state(y_true, y_pred,
sample_weight=None)`` per batch, ``result()`` for the epoch so far, ``reset_state()`` between
epochs; user metrics subclass :class:`Metric` and keep their state in ``add_variable``
variables. :func:`get` turns what ``compile(metrics=...)`` receives into metric objects.

Files: :mod:`~engine.metrics.base` (Metric, MeanMetricWrapper, Mean, Sum),
:mod:`~engine.metrics.accuracy`, :mod:`~engine.metrics.regression`,
:mod:`~engine.metrics.confusion`.
"""
from __future__ import annotations

import inspect

from engine.metrics.accuracy import (
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
)
from engine.metrics.base import Mean, MeanMetricWrapper, Metric, Sum
from engine.metrics.confusion import (
    AUC,
    F1Score,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from engine.metrics.regression import (
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    RootMeanSquaredError,
)

__all__ = ["AUC", "BinaryAccuracy", "CategoricalAccuracy", "F1Score", "FalseNegatives",
           "FalsePositives", "Mean", "MeanAbsoluteError", "MeanAbsolutePercentageError",
           "MeanMetricWrapper", "MeanSquaredError", "Metric", "Precision", "Recall",
           "RootMeanSquaredError", "SparseCategoricalAccuracy", "Sum",
           "TopKCategoricalAccuracy", "TrueNegatives", "TruePositives", "get"]

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
CLASSES = {c.__name__: c for c in set(_BY_NAME.values()) | {Mean, Sum}}
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
            from engine.saving.object_registration import find_custom_object
            custom = find_custom_object(identifier, loose=True)   # registered "package>name"
            if custom is None:
                raise ValueError(f"unknown metric {identifier!r}; valid names: "
                                 + ", ".join(NAMES))
            return get(custom)
        m.name = identifier
        return m
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str):
        name = identifier["class_name"]
        cls = CLASSES.get(name) or _BY_NAME.get(name.lower())
        if cls is None:
            from engine.saving import deserialize_keras_object
            from engine.saving.object_registration import find_custom_object
            if find_custom_object(name, identifier.get("registered_name"), loose=True):
                return get(deserialize_keras_object(identifier))
            raise ValueError(f"unknown metric class {name!r}; valid: " + ", ".join(sorted(CLASSES)))
        cfg = identifier.get("config") or {}
        ok = set(inspect.signature(cls.__init__).parameters) - {"self"}
        return cls(**{k: v for k, v in cfg.items() if k in ok})
    if callable(identifier):         # a function of (y_true, y_pred): its mean over samples
        return MeanMetricWrapper(identifier)
    raise ValueError(f"cannot interpret {identifier!r} as a metric; valid names: "
                     + ", ".join(NAMES))
