"""Scoring a trained model on labelled data: the numbers behind the evaluation view.

Pure numpy (no Qt) so it runs in the training thread and is easy to test: the kind of task
(multi-class, binary, regression) is read from the prediction and target shapes, then the
confusion matrix, per-class precision/recall/F1 and the worst-predicted samples follow.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class EvaluationResult:
    """Scores of one evaluation.

    ``kind``: 'multiclass' | 'binary' | 'regression' | 'other'. For classification ``y_true`` and
    ``y_pred`` are class indices (N,), ``confidence`` the predicted class's probability (N,),
    ``confusion`` (C, C) counts with rows = true class, columns = predicted. For regression
    ``y_true``/``y_pred`` are the flattened values (N*k,). ``worst`` lists sample indices, the
    worst first (lowest probability of the true class, or largest absolute error).
    """

    kind: str
    logs: dict[str, float]
    x: Any = None                     # first input array (N, ...), for thumbnails
    y_true: np.ndarray | None = None
    y_pred: np.ndarray | None = None
    confidence: np.ndarray | None = None
    confusion: np.ndarray | None = None
    precision: np.ndarray | None = None
    recall: np.ndarray | None = None
    f1: np.ndarray | None = None
    support: np.ndarray | None = None
    worst: np.ndarray | None = None
    class_names: list[str] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return 0 if self.x is None else len(self.x)


def class_indices(y: np.ndarray, n_classes: int) -> np.ndarray | None:
    """Integer labels (N,) from sparse labels (N,)/(N, 1) or one-hot rows (N, C); None if ``y``
    is neither."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == n_classes and n_classes > 1:
        return np.argmax(y, axis=1)
    flat = y.reshape(len(y), -1)
    if flat.shape[1] != 1:
        return None
    flat = flat[:, 0]
    if flat.dtype.kind == "f" and not np.all(flat == np.round(flat)):
        return None
    labels = flat.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        return None
    return labels


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) int64 counts; row = true class, column = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true.astype(np.int64), y_pred.astype(np.int64)), 1)
    return cm


def per_class_scores(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 and support (C,) from a confusion matrix; 0 where undefined."""
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    support = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1, support


def score_predictions(pred: np.ndarray, y: np.ndarray, logs: dict[str, float] | None = None,
                      x: Any = None, class_names: list[str] | None = None) -> EvaluationResult:
    """Classify the task from ``pred`` (N, ...) and ``y`` and compute every score."""
    pred = np.asarray(pred)
    y = np.asarray(y)
    logs = dict(logs or {})
    n = len(pred)
    if pred.ndim == 2 and pred.shape[1] > 1:
        labels = class_indices(y, pred.shape[1])
        if labels is not None:
            c = pred.shape[1]
            y_pred = np.argmax(pred, axis=1)
            true_p = pred[np.arange(n), labels]
            return _classification("multiclass", logs, x, labels, y_pred,
                                   pred[np.arange(n), y_pred], true_p, c, class_names)
    flat_pred = pred.reshape(n, -1)
    if flat_pred.shape[1] == 1 and y.size == n:
        p = flat_pred[:, 0].astype(np.float64)
        t = y.reshape(n).astype(np.float64)
        if np.all((t == 0) | (t == 1)) and p.size and p.min() >= 0.0 and p.max() <= 1.0:
            labels = t.astype(np.int64)
            y_pred = (p >= 0.5).astype(np.int64)
            conf = np.where(y_pred == 1, p, 1 - p)
            true_p = np.where(labels == 1, p, 1 - p)
            return _classification("binary", logs, x, labels, y_pred, conf, true_p, 2,
                                   class_names)
    if y.size == pred.size and y.dtype.kind in "fiu":
        t = y.reshape(n, -1).astype(np.float64)
        p = flat_pred.astype(np.float64)
        err = np.abs(p - t).mean(axis=1)
        return EvaluationResult("regression", logs, x, t.reshape(-1), p.reshape(-1),
                                worst=np.argsort(-err, kind="stable"))
    return EvaluationResult("other", logs, x)


def _classification(kind, logs, x, labels, y_pred, conf, true_p, c, class_names):
    cm = confusion_matrix(labels, y_pred, c)
    precision, recall, f1, support = per_class_scores(cm)
    names = list(class_names) if class_names and len(class_names) == c else \
        [str(i) for i in range(c)]
    wrong = np.flatnonzero(labels != y_pred)
    worst = wrong[np.argsort(true_p[wrong], kind="stable")]
    return EvaluationResult(kind, logs, x, labels, y_pred, conf, cm, precision, recall, f1,
                            support, worst, names)


def evaluate_model(model, x, y, batch_size: int = 32,
                   class_names: list[str] | None = None,
                   predict_batch_size: int | None = None) -> EvaluationResult:
    """``model.evaluate`` + ``model.predict`` on ``(x, y)``, scored (first output only).
    ``predict`` runs in batches of ``predict_batch_size`` (default: 256 or the batch size)."""
    logs = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    pred = model.predict(x, batch_size=predict_batch_size or max(batch_size, 256), verbose=0)
    if isinstance(pred, list):
        pred = pred[0]
        y = y[0] if isinstance(y, (list, tuple)) else next(iter(y.values())) \
            if isinstance(y, dict) else y
    first = x
    if isinstance(x, dict):
        first = next(iter(x.values()))
    elif isinstance(x, (list, tuple)):
        first = x[0]
    return score_predictions(pred, y, {k: float(v) for k, v in logs.items()}, first,
                             class_names)
