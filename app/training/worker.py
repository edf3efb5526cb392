"""The training thread: a ``TrainingWorker`` (QObject) moved to a ``QThread`` runs the engine's
``model.fit`` and turns the engine's plain callbacks into Qt signals.

The engine never sees Qt: :class:`SignalCallback` is an ordinary ``engine.callbacks.Callback``
whose hooks call back into the worker. Batch results are coalesced and emitted at most
``EMIT_HZ`` times a second (one signal carrying every batch since the last), so a fast model
cannot flood the GUI's event queue; the dashboard redraws from its own buffer on a timer.

Control from the GUI thread is thread-safe: ``pause()`` clears an Event the callback waits on
between batches, ``resume()`` sets it, ``stop()`` sets ``model.stop_training`` (the engine
finishes the current batch, keeps the weights, and returns from ``fit``).

Both threads run Python, so they share the GIL. Painting a frame makes hundreds of Qt calls that
each release and re-take the GIL; with a Python-busy training thread every re-take waits, and a
10 ms frame becomes 100 ms (and training slows down as much). The :class:`FrameGate` avoids
that convoy: while the GUI paints a frame it holds the gate, and the training thread waits on
it (without the GIL) at the next batch boundary.
"""
from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Self

from PySide6.QtCore import QObject, Signal, Slot

from app.training.scoring import EvaluationResult, evaluate_model
from engine.callbacks import Callback
from engine.layers.preprocessing import adapt_normalizations
from engine.metrics import Metric

EMIT_HZ = 10.0


@dataclass
class BatchPoint:
    """One finished training batch, as the dashboard plots it."""

    epoch: int            # 0-based absolute epoch
    step: int             # 1-based batch within the epoch
    steps: int            # batches per epoch
    logs: dict[str, float]     # the engine's logs: means over the epoch so far (as Keras)
    values: dict[str, float]   # this batch alone (running means undone where they are means)
    lr: float | None
    elapsed: float        # seconds since the run started (pauses excluded)


@dataclass
class TrainingJob:
    """Everything one run needs; built by the controller in the GUI thread.

    ``x``/``y`` are the training arrays (N, ...); ``validation`` is ``(x_val, y_val)`` or None;
    ``evaluation`` is ``(x, y)`` scored after training (None: skip); ``epochs`` is absolute, as
    in Keras: the run trains epochs ``initial_epoch .. epochs-1``. With ``train=False`` the
    worker only evaluates.
    """

    model: Any
    x: Any = None
    y: Any = None
    validation: tuple | None = None
    evaluation: tuple | None = None
    batch_size: int = 32
    epochs: int = 1
    initial_epoch: int = 0
    callbacks: list = field(default_factory=list)
    seed: int | None = None
    shuffle: bool = True
    train: bool = True
    class_names: list[str] | None = None


@dataclass
class RunOutcome:
    """How a run ended: status is 'completed', 'stopped', 'diverged' or 'failed'."""

    status: str
    message: str = ""
    layer: str | None = None          # the layer whose output went non-finite (diverged)
    details: str = ""                 # traceback text for 'failed'
    history: dict[str, list[float]] = field(default_factory=dict)
    epochs_done: int = 0              # absolute epoch count reached
    seconds: float = 0.0              # training time, pauses excluded


def learning_rate(optimizer: Any) -> float | None:
    """The optimizer's current learning rate (the engine evaluates schedules at the current
    step); None without an optimizer."""
    lr = getattr(optimizer, "learning_rate", None)
    try:
        return None if lr is None else float(lr)
    except (TypeError, ValueError):
        return None


class FrameGate:
    """Held by the GUI thread around a frame (``with gate:``); the training thread calls
    :meth:`wait_open` between batches and so never competes for the GIL mid-frame."""

    def __init__(self):
        self._lock = threading.Lock()
        self.waited = 0.0            # seconds the training thread spent waiting (diagnostics)

    def __enter__(self) -> Self:
        self._lock.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()

    def wait_open(self) -> None:
        if self._lock.locked():
            t = time.perf_counter()
            with self._lock:
                pass
            self.waited += time.perf_counter() - t


def mean_log_keys(model) -> set[str]:
    """Log names whose value is a running mean over samples (loss, accuracy, mse, ...), so
    one batch's value can be recovered from two consecutive means; ratios such as precision
    or AUC are not."""
    names = list(getattr(model, "output_names", []) or [])
    keys = {"loss"} | {f"{n}_loss" for n in names}
    multi = len(names) > 1
    for name, metrics in zip(names, getattr(model, "_metrics", None) or []):
        for m in metrics:
            if type(m).result is Metric.result:
                keys.add(f"{name}_{m.name}" if multi else m.name)
    return keys


def batch_values(logs: dict[str, float], prev: dict[str, float], seen: int, prev_seen: int,
                 mean_keys: set[str]) -> dict[str, float]:
    """This batch's own values from the running means after ``seen`` and ``prev_seen``
    samples: ``(seen * m_now - prev_seen * m_before) / (seen - prev_seen)``."""
    out = {}
    for k, v in logs.items():
        if k in mean_keys and k in prev and seen > prev_seen:
            out[k] = (seen * v - prev_seen * prev[k]) / (seen - prev_seen)
        else:
            out[k] = v
    return out


class SignalCallback(Callback):
    """Engine callback that reports to a :class:`TrainingWorker` (runs in the training thread)."""

    def __init__(self, worker: TrainingWorker):
        super().__init__()
        self.worker = worker
        self.epoch = 0

    def on_train_begin(self, logs=None) -> None:
        self.worker._on_train_begin(self.model, self.params)

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.epoch = epoch
        self.worker._on_epoch_begin()

    def on_train_batch_end(self, batch, logs=None) -> None:
        self.worker._on_batch_end(self.model, self.epoch, batch + 1, logs or {})

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.worker._on_epoch_end(self.model, epoch, logs or {})


class TrainingWorker(QObject):
    """Runs one :class:`TrainingJob`; create it, ``moveToThread(thread)``, connect
    ``thread.started`` to :meth:`run`, start the thread."""

    # Python objects travel as `object` (a reference), never converted to Qt containers
    started = Signal(object)          # {"epochs", "steps", "initial_epoch", "samples", ...}
    batches = Signal(object)          # [BatchPoint, ...] since the last emission
    epoch_end = Signal(int, object)   # absolute epoch (0-based), epoch logs incl. val_*
    log_line = Signal(str)
    paused = Signal()
    resumed = Signal()
    evaluated = Signal(object)        # EvaluationResult
    weights_snapshot = Signal(object, int, int)   # {layer: arrays}, epoch, batch (on request)
    finished = Signal(object)         # RunOutcome (always last, also after a failure)

    def __init__(self, job: TrainingJob):
        super().__init__()
        self.job = job
        self.gate = FrameGate()
        self._go = threading.Event()
        self._go.set()
        self._stop = threading.Event()
        self._pending: list[BatchPoint] = []
        self._last_emit = 0.0
        self._t0 = 0.0
        self._paused_for = 0.0
        self._steps = 0
        self._samples = 0
        self._mean_keys: set[str] = {"loss"}
        self._prev_logs: dict[str, float] = {}
        self._prev_seen = 0
        self._abort = False
        self._snapshot_wanted = False
        self._history: dict[str, list[float]] = {}   # per-epoch logs, also kept on failure
        self._epochs_seen = job.initial_epoch
        self._last_step = 0
        self._partial: tuple[int, int] | None = None   # (epoch, batch) a stop cut short
        self.outcome: RunOutcome | None = None     # set just before `finished` is emitted

    # ------------------------------------------------------------ control (any thread)
    def pause(self) -> None:
        self._go.clear()

    def resume(self) -> None:
        self._go.set()

    def stop(self, abort: bool = False) -> None:
        """Stop after the current batch (also wakes a paused run); ``abort`` also skips the
        evaluation that follows training (used when the window closes)."""
        self._abort = self._abort or abort
        self._stop.set()
        self.job.model.stop_training = True
        self._go.set()

    def request_snapshot(self) -> None:
        """Ask for a copy of the weights, taken after the current batch (``weights_snapshot``):
        consistent, and the training thread is never stopped for it."""
        self._snapshot_wanted = True

    @property
    def is_paused(self) -> bool:
        return not self._go.is_set()

    # ------------------------------------------------------------ the run (training thread)
    @Slot()
    def run(self) -> None:
        job = self.job
        outcome = RunOutcome("completed", epochs_done=job.initial_epoch)
        try:
            if job.train:
                outcome = self._fit()
                outcome.seconds = self._training_seconds()
            if job.evaluation is not None and not self._abort and \
                    outcome.status in ("completed", "stopped"):
                self.log_line.emit(f"Evaluating on {len(_first(job.evaluation[0]))} samples...")
                result: EvaluationResult = evaluate_model(job.model, job.evaluation[0],
                                                          job.evaluation[1], job.batch_size,
                                                          job.class_names)
                self.evaluated.emit(result)
        except Exception as e:  # noqa: BLE001 - shown to the user; the thread must report back
            outcome = RunOutcome("failed", f"{type(e).__name__}: {e}",
                                 details=traceback.format_exc(), history=self._history,
                                 epochs_done=self._epochs_seen,
                                 seconds=self._training_seconds() if job.train else 0.0)
        self.outcome = outcome
        self.finished.emit(outcome)

    def _training_seconds(self) -> float:
        """Seconds since training began, pauses excluded (0 before it began)."""
        return time.perf_counter() - self._t0 - self._paused_for if self._t0 else 0.0

    def _fit(self) -> RunOutcome:
        job, model = self.job, self.job.model
        model.training_error = None
        adapted = adapt_normalizations(model, job.x)
        if adapted:
            self.log_line.emit(f"Adapted {', '.join(adapted)} to the training data (mean and "
                               f"variance of {len(_first(job.x)):,} samples)")
        model.fit(job.x, job.y, batch_size=job.batch_size, epochs=job.epochs, verbose=0,
                  callbacks=[SignalCallback(self)] + list(job.callbacks),
                  validation_data=job.validation, shuffle=job.shuffle,
                  initial_epoch=job.initial_epoch, seed=job.seed)
        self._flush()
        hist, done = self._history, self._epochs_seen
        err = getattr(model, "training_error", None)
        if err is not None:
            layer = getattr(getattr(err, "layer", None), "name", None)
            self.log_line.emit(f"Diverged: {err}")
            return RunOutcome("diverged", str(err), layer=layer, history=hist, epochs_done=done)
        if self._stop.is_set():
            if self._partial is not None:
                epoch, step = self._partial
                where = f"during epoch {epoch + 1}/{job.epochs}, after batch {step} of " \
                        f"{self._steps}"
            else:
                where = f"after epoch {done}/{job.epochs}"
            self.log_line.emit(f"Stopped {where}")
            return RunOutcome("stopped", f"stopped by the user {where}", history=hist,
                              epochs_done=done)
        msg = f"finished {done} epochs"
        if done < job.epochs:
            msg = f"stopped early (a callback) after {done} of {job.epochs} epochs"
        self.log_line.emit(msg[0].upper() + msg[1:])
        return RunOutcome("completed", msg, history=hist, epochs_done=done)

    # ------------------------------------------------------------ callback hooks
    def _on_train_begin(self, model, params: dict) -> None:
        self._t0 = time.perf_counter()
        self._paused_for = 0.0
        self._steps = int(params.get("steps") or 0)
        if self._stop.is_set():
            model.stop_training = True
        n = len(_first(self.job.x)) if self.job.x is not None else 0
        self._samples = n
        self._mean_keys = mean_log_keys(model)
        self.started.emit({"epochs": self.job.epochs, "steps": self._steps,
                           "initial_epoch": self.job.initial_epoch, "samples": n,
                           "batch_size": self.job.batch_size})
        self.log_line.emit(f"Training epochs {self.job.initial_epoch + 1}..{self.job.epochs}: "
                           f"{n} samples, {self._steps} batches of {self.job.batch_size}")

    def _on_epoch_begin(self) -> None:
        self._prev_logs, self._prev_seen = {}, 0

    def _on_batch_end(self, model, epoch: int, step: int, logs: dict) -> None:
        now = time.perf_counter()
        seen = step * self.job.batch_size
        if self._samples:
            seen = min(seen, self._samples)
        self._last_step = step
        logs = {k: float(v) for k, v in logs.items()}
        values = batch_values(logs, self._prev_logs, seen, self._prev_seen, self._mean_keys)
        self._prev_logs, self._prev_seen = logs, seen
        self._pending.append(BatchPoint(epoch, step, self._steps, logs, values,
                                        learning_rate(model.optimizer),
                                        now - self._t0 - self._paused_for))
        if now - self._last_emit >= 1.0 / EMIT_HZ:
            self._flush(now)
        self.gate.wait_open()
        if self._snapshot_wanted:
            self._snapshot_wanted = False
            self.weights_snapshot.emit(weights_by_layer(model), epoch, step)
        if self._stop.is_set():
            model.stop_training = True
            return
        if not self._go.is_set():
            self._flush(now)
            self.paused.emit()
            self.log_line.emit(f"Paused at epoch {epoch + 1}, batch {step}")
            t = time.perf_counter()
            self._go.wait()
            self._paused_for += time.perf_counter() - t
            if self._stop.is_set():
                model.stop_training = True
            else:
                self.resumed.emit()
                self.log_line.emit("Resumed")

    def _on_epoch_end(self, model, epoch: int, logs: dict) -> None:
        self._flush()
        if self._stop.is_set() and 0 < self._last_step < self._steps:
            # the engine (as Keras) ends a stopped epoch with its partial means; the epoch
            # was not done, so it is neither counted, logged as an epoch nor plotted
            self._partial = (epoch, self._last_step)
            return
        logs = {k: float(v) for k, v in logs.items()}
        for k, v in logs.items():
            self._history.setdefault(k, []).append(v)
        self._epochs_seen = epoch + 1
        self.epoch_end.emit(epoch, logs)
        parts = "  ".join(f"{k}={v:.4g}" for k, v in logs.items())
        self.log_line.emit(f"Epoch {epoch + 1}/{self.job.epochs}: {parts}")

    def _flush(self, now: float | None = None) -> None:
        if self._pending:
            self.batches.emit(self._pending)
            self._pending = []
        self._last_emit = time.perf_counter() if now is None else now


def weights_by_layer(model) -> dict[str, list]:
    """Copies of a model's weights by layer name (a snapshot another model can load)."""
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def _first(x):
    """The first input array of ``x`` (a list/dict of inputs or one array)."""
    if isinstance(x, dict):
        return next(iter(x.values()))
    if isinstance(x, (list, tuple)):
        return x[0]
    return x
