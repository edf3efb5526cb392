"""The dashboard's GUI-side buffer: every batch and epoch result of the current training,
kept as growing numpy arrays so a redraw hands pyqtgraph views, never rebuilt lists.

X coordinates are in epochs: batch ``s`` of ``S`` in epoch ``e`` (0-based) sits at
``e + s / S``; the end-of-epoch value of epoch ``e`` at ``e + 1``.
"""
from __future__ import annotations

import numpy as np

SMOOTHING = 0.9   # exponential moving average factor of the smoothed batch curves


class Series:
    """An append-only (x, y) series with amortized O(1) appends."""

    def __init__(self, capacity: int = 256):
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self._x):
            self._x = np.resize(self._x, 2 * self.n)
            self._y = np.resize(self._y, 2 * self.n)
        self._x[self.n] = x
        self._y[self.n] = y
        self.n += 1

    @property
    def x(self) -> np.ndarray:
        return self._x[:self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[:self.n]

    def __len__(self) -> int:
        return self.n

    def value_at(self, x: float) -> float | None:
        """y of the point nearest to ``x`` (None when empty)."""
        if self.n == 0:
            return None
        i = int(np.searchsorted(self.x, x))
        if i >= self.n:
            i = self.n - 1
        elif i > 0 and abs(self._x[i - 1] - x) <= abs(self._x[i] - x):
            i -= 1
        return float(self._y[i])


class MetricSeries:
    """All curves of one quantity (``loss``, ``accuracy``...): per batch raw and smoothed,
    per epoch for training and validation."""

    def __init__(self, name: str):
        self.name = name
        self.batch_raw = Series(1024)
        self.batch_smooth = Series(1024)
        self.epoch_train = Series(32)
        self.epoch_val = Series(32)
        self._ema = 0.0
        self._ema_weight = 0.0

    def add_batch(self, x: float, value: float) -> None:
        self.batch_raw.append(x, value)
        if not np.isfinite(value):
            return
        # debiased EMA (as TensorBoard): the first points are not pulled towards zero
        self._ema = SMOOTHING * self._ema + (1 - SMOOTHING) * value
        self._ema_weight = SMOOTHING * self._ema_weight + (1 - SMOOTHING)
        self.batch_smooth.append(x, self._ema / self._ema_weight)


class RunBuffer:
    """What the dashboard plots, filled from the worker's signals in the GUI thread."""

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self.metrics: dict[str, MetricSeries] = {}
        self.lr = Series(1024)
        self.version = 0                  # bumped on every change: the redraw timer compares
        self.last_epoch_x = 0.0

    def metric(self, name: str) -> MetricSeries:
        """The series of ``name`` (a training metric; ``val_`` names map to the same series)."""
        base = name.removeprefix("val_")
        if base not in self.metrics:
            self.metrics[base] = MetricSeries(base)
        return self.metrics[base]

    def add_batches(self, points) -> None:
        """Append :class:`app.training.worker.BatchPoint` objects."""
        for p in points:
            x = p.epoch + p.step / max(p.steps, 1)
            for k, v in p.values.items():
                if not k.startswith("val_"):
                    self.metric(k).add_batch(x, float(v))
            if p.lr is not None:
                self.lr.append(x, p.lr)
        if points:
            self.version += 1

    def add_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        x = float(epoch + 1)
        for k, v in logs.items():
            if k == "lr" or k == "learning_rate":
                continue
            series = self.metric(k)
            (series.epoch_val if k.startswith("val_") else series.epoch_train).append(x, float(v))
        self.last_epoch_x = x
        self.version += 1

    def add_record(self, run) -> int:
        """Append a finished run from the project's history (a RunRecord: per-batch values
        under ``batch_history`` with their fractional epoch under "epoch", per-epoch logs
        under ``history``); returns the absolute epoch count the run reached."""
        start = int((getattr(run, "settings", None) or {}).get("initial_epoch", 0))
        batches = dict(getattr(run, "batch_history", None) or {})
        xs = batches.pop("epoch", [])
        for name, values in batches.items():
            series = self.metric(name)
            for x, v in zip(xs, values):
                series.add_batch(float(x), np.nan if v is None else float(v))
        history = getattr(run, "history", None) or {}
        n = max((len(v) for v in history.values()), default=0)
        for i in range(n):
            self.add_epoch(start + i, {k: np.nan if v[i] is None else v[i]
                                       for k, v in history.items() if i < len(v)})
        self.version += 1
        return start + n

    def names(self) -> list[str]:
        """Metric names, loss first."""
        return sorted(self.metrics, key=lambda k: (k != "loss", not k.endswith("loss"), k))
