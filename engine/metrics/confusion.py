"""Threshold metrics: the confusion counts (TruePositives ...), Precision, Recall, F1Score,
AUC — counts accumulated over batches, as Keras's."""
from __future__ import annotations

import numpy as np

from engine.metrics.base import Metric, _truth_like, _weights_for, config_from_init


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
        super().__init__(name=name)
        self.reset_state()

    def get_config(self):
        return config_from_init(self)

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
        super().__init__(name=name)
        self.reset_state()

    def get_config(self):
        return config_from_init(self)

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
        super().__init__(name=name)
        self.reset_state()

    def get_config(self):
        return config_from_init(self)

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
