"""The live training dashboard: progress, speed and time, control buttons, and one plot per
quantity (loss, each metric, the learning rate).

Signals from the worker only append to a :class:`RunBuffer`; a QTimer redraws at most
``REDRAW_HZ`` times a second, and only when the buffer changed — never once per batch.
"""
from __future__ import annotations

import contextlib
import time
from datetime import datetime

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.training.metric_plot import LR, MetricPlot
from app.training.run_buffer import RunBuffer

REDRAW_HZ = 30
FRAME_BUDGET = 50         # the next frame waits 50x the last frame's cost (GUI <= 2% of time)
MAX_FRAME_INTERVAL = 1.0  # seconds
SPEED_WINDOW_S = 3.0
EPOCH_BAR_STEPS = 1000    # the epoch bar moves within an epoch, too      # samples/s is measured over the last few seconds


STATUS_TEXT = {"completed": "Finished", "stopped": "Stopped", "diverged": "Diverged",
               "failed": "Failed"}


def format_duration(seconds: float | None) -> str:
    """``1:02:03`` / ``2:03`` / ``—``."""
    if seconds is None or not np.isfinite(seconds):
        return "—"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TrainingDashboard(QWidget):
    """Live plots and progress of the running (or last) training run."""

    overlays_changed = Signal(object)     # run ids overlaid, after a Compare-menu toggle

    def __init__(self, parent: QWidget | None = None, actions: list[QAction] | None = None):
        super().__init__(parent)
        self.buffer = RunBuffer()
        self.plots: dict[str, MetricPlot] = {}
        self._drawn_version = -1
        self._overlay_runs: list = []
        self._epoch_span = 1
        self._run_numbers: dict[str, int] = {}
        self._overlay_checked: set[str] = set()
        self._run_info: dict = {}
        self._speed_marks: list[tuple[float, float]] = []
        self._last_elapsed = 0.0
        self._last_point = None
        self._epochs_done: int | None = None
        self._seen = 0.0
        self._gate = None
        self._next_frame = 0.0
        self.frame_times: list[float] = []
        self.redraws = 0
        self._build_ui(actions or [])
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / REDRAW_HZ))
        self.timer.timeout.connect(self._tick)

    # ------------------------------------------------------------ layout
    def _build_ui(self, actions: list[QAction]) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        bar = QHBoxLayout()
        for act in actions:
            btn = QToolButton(self)
            btn.setDefaultAction(act)
            btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            bar.addWidget(btn)
        bar.addSpacing(12)
        self.log_box = QCheckBox("Log scale", self)
        self.log_box.toggled.connect(self._set_log)
        self.raw_box = QCheckBox("Raw batches", self)
        self.raw_box.setChecked(True)
        self.raw_box.toggled.connect(lambda _: self._force_redraw())
        self.compare_btn = QToolButton(self)
        self.compare_btn.setText("Compare runs")
        self.compare_btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.compare_menu = QMenu(self.compare_btn)
        self.compare_btn.setMenu(self.compare_menu)
        self.compare_btn.setEnabled(False)
        for w in (self.log_box, self.raw_box, self.compare_btn):
            bar.addWidget(w)
        bar.addStretch(1)
        self.status_label = QLabel("Ready", self)
        self.status_label.setStyleSheet("font-weight: 600")
        bar.addWidget(self.status_label)
        outer.addLayout(bar)

        prog = QGridLayout()
        self.epoch_bar = QProgressBar(self)
        self.batch_bar = QProgressBar(self)
        for b, fmt in ((self.epoch_bar, "Epoch"), (self.batch_bar, "Batch %v / %m")):
            b.setFormat(fmt)
            b.setTextVisible(True)
            b.setRange(0, 1)
            b.setValue(0)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.speed_label = QLabel("— samples/s", self)
        self.time_label = QLabel("elapsed — · ETA —", self)
        for lab in (self.speed_label, self.time_label):
            lab.setMinimumWidth(150)
            lab.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        prog.addWidget(self.epoch_bar, 0, 0)
        prog.addWidget(self.speed_label, 0, 1)
        prog.addWidget(self.batch_bar, 1, 0)
        prog.addWidget(self.time_label, 1, 1)
        outer.addLayout(prog)

        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        outer.addLayout(self.grid, 1)
        self.lr_plot = MetricPlot("learning rate", self, color=LR)
        self.lr_plot.hovered.connect(self._crosshair)
        self.lr_plot.left.connect(self._hide_crosshair)
        self._ensure_plot("loss")

    def _ensure_plot(self, name: str) -> MetricPlot:
        if name not in self.plots:
            plot = MetricPlot(name, self, legend=True)
            plot.set_log(self.log_box.isChecked())
            plot.set_epoch_span(self._epoch_span)
            plot.hovered.connect(self._crosshair)
            plot.left.connect(self._hide_crosshair)
            self.plots[name] = plot
            if len(self.plots) > 1:
                plot.setXLink(self.plots["loss"] if "loss" in self.plots else
                              next(iter(self.plots.values())))
            self._relayout()
        return self.plots[name]

    def _relayout(self) -> None:
        widgets = [self.plots[n] for n in self._ordered_names()] + [self.lr_plot]
        for w in widgets:
            self.grid.removeWidget(w)
        n = len(widgets)
        cols = n if n <= 3 else (2 if n == 4 else 3)
        for i, w in enumerate(widgets):
            self.grid.addWidget(w, i // cols, i % cols)
        for c in range(3):
            self.grid.setColumnStretch(c, 1 if c < cols else 0)
        for r in range(3):
            self.grid.setRowStretch(r, 1 if r <= (n - 1) // cols else 0)
        if "loss" in self.plots:
            self.lr_plot.setXLink(self.plots["loss"])

    def _ordered_names(self) -> list[str]:
        return sorted(self.plots, key=lambda k: (k != "loss", not k.endswith("loss"), k))

    # ------------------------------------------------------------ worker signals
    def prepare(self, names: list[str], epochs: int, continue_plots: bool) -> None:
        """Before a run starts (in the Train click): the plots of ``names`` exist and span
        ``epochs``, so the first frames of the run only draw."""
        if not continue_plots:
            self.clear()
        self._epoch_span = max(int(epochs), 1)
        for name in names:
            self._ensure_plot(name)
        for plot in list(self.plots.values()) + [self.lr_plot]:
            plot.set_epoch_span(self._epoch_span)

    def start_run(self, info: dict, continue_plots: bool) -> None:
        """A run started: ``info`` as ``TrainingWorker.started`` gives it."""
        if not continue_plots and self.buffer.version:
            self.clear()
        self._run_info = dict(info)
        self._speed_marks = []
        self._last_elapsed = 0.0
        self._last_point, self._seen = None, 0.0
        self._epochs_done = info.get("initial_epoch", 0)
        self._next_frame = 0.0
        self.frame_times = []
        first, epochs = info.get("initial_epoch", 0), max(info.get("epochs", 1), 1)
        self._epoch_span = epochs
        for plot in list(self.plots.values()) + [self.lr_plot]:
            plot.set_epoch_span(epochs)
        self.epoch_bar.setRange(0, epochs * EPOCH_BAR_STEPS)
        self.epoch_bar.setValue(first * EPOCH_BAR_STEPS)
        self.epoch_bar.setFormat(f"Epoch {first + 1} / {epochs}")
        self.batch_bar.setRange(0, max(info.get("steps", 1), 1))
        self.batch_bar.setValue(0)
        self.batch_bar.setFormat("Batch %v / %m")
        self.set_status("Training")
        self.timer.start()

    def add_batches(self, points: list) -> None:
        """Buffer the worker's batch reports; the next frame shows them."""
        self.buffer.add_batches(points)
        if not points:
            return
        p = points[-1]
        self._last_point = p
        bs = self._run_info.get("batch_size", 32)
        n = self._run_info.get("samples", 0)
        done_epochs = p.epoch - self._run_info.get("initial_epoch", 0)
        seen = done_epochs * n + min(p.step * bs, n or p.step * bs)
        self._speed_marks.append((p.elapsed, float(seen)))
        cut = p.elapsed - SPEED_WINDOW_S
        while len(self._speed_marks) > 2 and self._speed_marks[0][0] < cut:
            self._speed_marks.pop(0)
        self._last_elapsed = p.elapsed
        self._seen = seen

    def add_epoch(self, epoch: int, logs: dict) -> None:
        self.buffer.add_epoch(epoch, logs)
        self._epochs_done = epoch + 1

    def finish_run(self, status: str, message: str = "") -> None:
        self._gate = None
        self.timer.stop()
        self._force_redraw()
        self.set_status(STATUS_TEXT.get(status, status), message)
        self.time_label.setText(f"elapsed {format_duration(self._last_elapsed)}")  # no ETA

    def show_record(self, run) -> None:
        """Draw a finished run of the project's history (what a reopened project shows)."""
        self.clear()
        epochs = self.buffer.add_record(run)
        self._run_info = {"epochs": max(epochs, 1)}
        self._epochs_done = epochs
        self._epoch_span = max(epochs, 1)
        for plot in list(self.plots.values()) + [self.lr_plot]:
            plot.set_epoch_span(self._epoch_span)
        self.epoch_bar.setRange(0, self._epoch_span * EPOCH_BAR_STEPS)
        self._draw()
        self.set_status(STATUS_TEXT.get(run.status, run.status), run.message)
        if isinstance(run.finished, (int, float)) and isinstance(run.started, (int, float)):
            self.time_label.setText(f"took {format_duration(run.finished - run.started)}")

    def set_status(self, text: str, tooltip: str = "") -> None:
        color = {"Diverged": "#c62828", "Failed": "#c62828", "Paused": "#b26a00"}.get(text, "")
        self.status_label.setStyleSheet(f"font-weight: 600; color: {color}" if color
                                        else "font-weight: 600")
        self.status_label.setText(text)
        self.status_label.setToolTip(tooltip)

    def samples_per_second(self) -> float | None:
        if len(self._speed_marks) < 2:
            return None
        (t0, s0), (t1, s1) = self._speed_marks[0], self._speed_marks[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else None

    def _update_progress(self) -> None:
        # QProgressBar.setValue repaints (and flushes the window) at once; with updates off
        # the change is painted with the rest of the frame instead
        p, epochs = self._last_point, max(self._run_info.get("epochs", 1), 1)
        done = self._epochs_done or 0
        in_epoch = p is not None and p.epoch == done      # a batch of the next epoch came
        fraction = p.step / max(p.steps, 1) if in_epoch else 0.0
        # while running, the epoch under way; a run that ended between two epochs names the
        # last one it finished (not one it never began)
        current = done + 1 if in_epoch or self.timer.isActive() else max(done, 1)
        epoch_text = f"Epoch {min(current, epochs)} / {epochs}"
        for bar, value, text in ((self.batch_bar, p and p.step, None),
                                 (self.epoch_bar, int((done + fraction) * EPOCH_BAR_STEPS),
                                  epoch_text)):
            if value is not None and (value != bar.value() or text != bar.format()):
                bar.setUpdatesEnabled(False)
                bar.setValue(value)
                if text:
                    bar.setFormat(text)
                bar.setUpdatesEnabled(True)
        seen = self._seen
        rate = self.samples_per_second()
        info = self._run_info
        remaining = None
        if rate:
            total = (info.get("epochs", 1) - info.get("initial_epoch", 0)) * info.get("samples", 0)
            remaining = max(total - seen, 0) / rate
            self.speed_label.setText(f"{rate:,.0f} samples/s")
        self.time_label.setText(f"elapsed {format_duration(self._last_elapsed)} · "
                                f"ETA {format_duration(remaining)}")

    # ------------------------------------------------------------ drawing
    def set_gate(self, gate) -> None:
        """The running worker's :class:`app.training.worker.FrameGate` (None when idle)."""
        self._gate = gate

    def _tick(self) -> None:
        """Timer slot: draw a frame when the buffer changed and the frame budget allows."""
        if time.perf_counter() < self._next_frame:
            return
        self.redraw()

    def redraw(self) -> None:
        """Draw the buffer (progress, plots) if it changed since the last frame.

        While training runs, the frame is painted synchronously inside the worker's gate, and
        the next frame waits ``FRAME_BUDGET`` times as long as this one took, so the GUI never
        takes more than a few percent of the time (and of the cores) training could use.
        """
        if self.buffer.version == self._drawn_version:
            return
        start = time.perf_counter()
        gate = self._gate or contextlib.nullcontext()
        with gate:
            self._draw()
            if self._gate is not None:
                # deliver the scenes' dirty-item updates and paint now, inside the gate
                for plot in list(self.plots.values()) + [self.lr_plot]:
                    QCoreApplication.sendPostedEvents(plot.scene(), QEvent.Type.MetaCall)
                QCoreApplication.sendPostedEvents(self.window(), QEvent.Type.UpdateRequest)
        cost = time.perf_counter() - start
        self.frame_times.append(cost)
        if len(self.frame_times) > 1000:
            del self.frame_times[:-100]
        # a typical frame sets the pace (one slow frame, e.g. after a resize, must not stall
        # the plots), and the plots update at least once a second
        typical = float(np.median(self.frame_times[-5:]))
        self._next_frame = start + min(max(1.0 / REDRAW_HZ, FRAME_BUDGET * typical),
                                       MAX_FRAME_INTERVAL)

    def _draw(self) -> None:
        self._drawn_version = self.buffer.version
        self.redraws += 1
        self._update_progress()
        for name in self.buffer.names():
            self._ensure_plot(name).show_metric(self.buffer.metrics[name],
                                                self.raw_box.isChecked())
        self.lr_plot.show_series(self.buffer.lr, "lr")

    def _force_redraw(self) -> None:
        self._drawn_version = -1
        self.redraw()

    def clear(self) -> None:
        """Forget the plotted run (after Reset)."""
        self.buffer.clear()
        for plot in list(self.plots.values()) + [self.lr_plot]:
            plot.clear_data()
        self._drawn_version = -1
        self._last_point, self._epochs_done, self._seen = None, None, 0.0
        self._speed_marks, self._last_elapsed = [], 0.0
        self.epoch_bar.setValue(0)
        self.epoch_bar.setFormat("Epoch")
        self.batch_bar.setValue(0)
        self.batch_bar.setFormat("Batch")           # no run: no batch count to show
        self.set_status("Ready")
        self.speed_label.setText("— samples/s")
        self.time_label.setText("elapsed — · ETA —")

    def _set_log(self, on: bool) -> None:
        for plot in self.plots.values():
            plot.set_log(on)
        self.lr_plot.set_log(on)

    def _crosshair(self, x: float) -> None:
        for plot in list(self.plots.values()) + [self.lr_plot]:
            plot.show_crosshair(x)

    def _hide_crosshair(self) -> None:
        for plot in list(self.plots.values()) + [self.lr_plot]:
            plot.hide_crosshair()

    # ------------------------------------------------------------ earlier runs
    def set_history(self, runs: list) -> None:
        """Offer the project's earlier runs (RunRecord objects) for overlay."""
        numbered = [(i, r) for i, r in enumerate(runs, start=1) if getattr(r, "history", None)]
        self._overlay_runs = [r for _, r in numbered]
        self._run_numbers = {str(r.id): i for i, r in numbered}
        self.compare_menu.clear()
        for number, run in numbered:
            act = self.compare_menu.addAction(run_label(run, number))
            act.setData(str(run.id))
            act.setCheckable(True)
            act.setChecked(str(run.id) in self._overlay_checked)
            act.toggled.connect(lambda on, rid=str(run.id): self._toggle_overlay(rid, on))
        self.compare_btn.setEnabled(bool(self._overlay_runs))
        self._apply_overlays()

    def _toggle_overlay(self, run_id: str, on: bool) -> None:
        (self._overlay_checked.add if on else self._overlay_checked.discard)(run_id)
        self._apply_overlays()
        self.overlays_changed.emit(set(self._overlay_checked))

    def set_overlaid(self, run_ids) -> None:
        """Overlay exactly these runs (chosen in the Runs panel); the Compare menu follows."""
        self._overlay_checked = {str(r) for r in run_ids}
        for act in self.compare_menu.actions():
            rid = act.data()
            if rid is not None:
                act.blockSignals(True)
                act.setChecked(rid in self._overlay_checked)
                act.blockSignals(False)
        self._apply_overlays()

    def _apply_overlays(self) -> None:
        chosen = [r for r in self._overlay_runs if str(r.id) in self._overlay_checked]
        for name in {k.removeprefix("val_") for r in chosen for k in r.history}:
            if name not in ("lr", "learning_rate"):
                self._ensure_plot(name)
        for name, plot in self.plots.items():
            curves = []
            for run in chosen:
                h = run.history
                train, val = h.get(name), h.get(f"val_{name}")
                n = max(len(train or []), len(val or []))
                if not n:
                    continue
                start = int((getattr(run, "settings", None) or {}).get("initial_epoch", 0))
                x = np.arange(start + 1, start + n + 1, dtype=np.float64)
                curves.append((run.display_name(self._run_numbers[str(run.id)]), x,
                               None if train is None else np.asarray(train, dtype=np.float64),
                               None if val is None else np.asarray(val, dtype=np.float64)))
            plot.set_overlays(curves)


def run_label(run, number: int) -> str:
    """``run 3 · 10 epochs · completed · 2026-11-24 19:40`` (``number`` counts from 1)."""
    n = len(next(iter(run.history.values()), [])) if run.history else 0
    started = getattr(run, "started", None)
    when = ""
    if isinstance(started, (int, float)):
        when = datetime.fromtimestamp(started).strftime(" · %Y-%m-%d %H:%M")
    return f"{run.display_name(number)} · {n} epochs · {run.status}{when}"
