"""Ties training into the main window: the Train / Pause / Resume / Stop / Reset actions, the
worker thread's life cycle, the panels (data, settings, dashboard, evaluation, activations) as
docks, saving each run into the project, and exporting the trained model.

The main window creates it and asks it before the project goes away::

    self.training = TrainingController(self, lambda: self.project, self.highlight_node)
    self.training.install(self)                 # docks + "Training" menu + toolbar actions
    self.close_guards.append(lambda: self.training.confirm_stop("close this project"))
    self.project_changed.connect(lambda _p: self.training.project_changed())
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QWidget,
)

from app.background import run_responsive
from app.training import run_setup
from app.training.activations import ActivationPreview
from app.training.dashboard import TrainingDashboard
from app.training.data_panel import DataPanel
from app.training.evaluation import EvaluationView
from app.training.runs_panel import RunsPanel
from app.training.settings_panel import SettingsPanel
from app.training.trained_exports import TrainedExports
from app.training.try_it import TryItPanel
from app.training.worker import RunOutcome, TrainingJob, TrainingWorker, weights_by_layer

HighlightCallback = Callable[[str | None, str], None]
DASHBOARD_MIN_HEIGHT = 360
log = logging.getLogger("layerloom.training")   # the window's log panel shows "layerloom.*"


class TrainingController(QObject):
    """Owns the training thread and the training panels of one main window."""

    status_changed = Signal(str)        # short text for the title/status bar ("" when idle)
    project_modified = Signal()         # a run was recorded / weights or settings changed
    running_changed = Signal(bool)
    run_finished = Signal(object)       # RunOutcome

    def __init__(self, parent: QWidget, project_getter: Callable[[], object],
                 canvas_highlight_callback: HighlightCallback | None = None):
        super().__init__(parent)
        self.parent_widget = parent
        self.project_getter = project_getter
        self.highlight = canvas_highlight_callback or (lambda name, message: None)
        self.session = run_setup.ModelSession()
        self.thread: QThread | None = None
        self.worker: TrainingWorker | None = None
        self._worker_waiting = False          # the worker is parked between batches (paused)
        self._handled: set[int] = set()
        self._arrays: run_setup.DataArrays | None = None     # the data source, read once
        self._loading_data = False                            # reading it (off the GUI thread)
        self._data: run_setup.TrainingData | None = None     # split of the last run
        self._continue_plots = False
        self._message_box: QMessageBox | None = None        # the last warning shown
        self._make_actions()
        self.dashboard = TrainingDashboard(parent, [self.train_action, self.pause_action,
                                                    self.resume_action, self.stop_action,
                                                    self.reset_action])
        self.evaluation = EvaluationView(parent)
        self.activations = ActivationPreview(parent)
        self.data_panel = DataPanel(parent)
        self.settings_panel = SettingsPanel(parent)
        self.log = QPlainTextEdit(parent)           # epoch lines; warnings also go to `log`
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        # queued: the data is read in a local event loop, not inside the panel's showEvent
        self.activations.needed.connect(self._prepare_preview, Qt.ConnectionType.QueuedConnection)
        self.runs_panel = RunsPanel(parent)       # every run; selected ones overlaid
        self.runs_panel.overlays_chosen.connect(self.dashboard.set_overlaid)
        self.dashboard.overlays_changed.connect(self.runs_panel.select_ids)
        self.runs_panel.runs_changed.connect(self._runs_edited)
        self.try_it = TryItPanel(parent)          # predictions from weight snapshots
        self.try_it.weights_wanted.connect(self._send_weights)
        self.data_panel.changed.connect(self._settings_edited)
        self.settings_panel.changed.connect(self._settings_edited)
        self.docks: dict[str, QDockWidget] = {}
        self.project_changed()
        self._update_actions()

    # ------------------------------------------------------------ actions and docks
    def _make_actions(self) -> None:
        def action(text: str, slot, shortcut: str | None = None, tip: str = "") -> QAction:
            act = QAction(text, self)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            act.setStatusTip(tip or text)
            act.setToolTip(tip or text)
            # triggered(bool) would hand its `checked` flag to the slot's first argument
            # (export_h5(path=False)); the slots take no argument from a menu
            act.triggered.connect(lambda _checked=False, f=slot: f())
            return act
        self.train_action = action("Train", self.train, "F5",
                                   "Train the network (continues from the current weights)")
        self.pause_action = action("Pause", self.pause, "F6", "Pause after the current batch")
        self.resume_action = action("Resume", self.resume, "F6", "Resume training")
        self.stop_action = action("Stop", self.stop, "Shift+F5",
                                  "Stop after the current batch; the weights are kept")
        self.reset_action = action("Reset", self.reset, None,
                                   "Forget the trained weights and start afresh")
        self.evaluate_action = action("Evaluate", self.evaluate, "F7",
                                      "Score the trained model on the held-out data")
        self.exports = TrainedExports(self)
        self.export_h5_action = action("Export Trained Model...", self.exports.export_h5,
                                       None, "Save the trained model as a Keras file (.keras "
                                       "or .h5)")
        self.export_script_action = action(
            "Export Keras Script...", self.exports.export_script, None,
            "Write a Keras Python script with the trained weights")
        self.actions = [self.train_action, self.pause_action, self.resume_action,
                        self.stop_action, self.reset_action, self.evaluate_action]

    def make_docks(self, main_window: QMainWindow) -> dict[str, QDockWidget]:
        """Dock widgets for the panels (created once)."""
        if not self.docks:
            for key, title, widget in (("data", "Data", self.data_panel),
                                       ("settings", "Training Settings", self.settings_panel),
                                       ("try_it", "Try it", self.try_it),
                                       ("dashboard", "Training", self.dashboard),
                                       ("runs", "Runs", self.runs_panel),
                                       ("evaluation", "Evaluation", self.evaluation),
                                       ("activations", "Activations", self.activations),
                                       ("training_log", "Training Log", self.log)):
                dock = QDockWidget(title, main_window)
                dock.setObjectName(f"dock_{key}")
                dock.setWidget(widget)
                self.docks[key] = dock
        return self.docks

    def install(self, main_window: QMainWindow) -> QMenu:
        """Add the docks, a "Training" menu and toolbar buttons to ``main_window``."""
        docks = self.make_docks(main_window)
        right, bottom = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
        main_window.addDockWidget(right, docks["data"])
        main_window.addDockWidget(right, docks["settings"])
        main_window.tabifyDockWidget(docks["data"], docks["settings"])
        main_window.addDockWidget(right, docks["try_it"])
        main_window.tabifyDockWidget(docks["settings"], docks["try_it"])
        main_window.addDockWidget(bottom, docks["dashboard"])
        for key in ("runs", "evaluation", "activations", "training_log"):
            main_window.addDockWidget(bottom, docks[key])
            main_window.tabifyDockWidget(docks["dashboard"], docks[key])
        docks["dashboard"].raise_()
        menu = main_window.menuBar().addMenu("&Training")
        for act in self.actions:
            menu.addAction(act)
        menu.addSeparator()
        menu.addAction(self.export_h5_action)
        menu.addAction(self.export_script_action)
        menu.addSeparator()
        for dock in docks.values():
            menu.addAction(dock.toggleViewAction())
        toolbar = main_window.addToolBar("Training")
        toolbar.setObjectName("toolbar_training")
        for act in self.actions[:5]:
            toolbar.addAction(act)
        return menu

    # ------------------------------------------------------------ project
    @property
    def project(self):
        return self.project_getter()

    def project_changed(self) -> None:
        """A different project was opened (or created): reset the training state."""
        if self.is_running:
            raise RuntimeError("project_changed while training runs; call confirm_stop first")
        self.session = run_setup.ModelSession()
        self._continue_plots = False
        if self._message_box is not None:       # it spoke of the previous project
            self._message_box.close()
            self._message_box = None
        project = self.project
        self.data_panel.set_project(project)
        self.settings_panel.set_project(project)
        self.dashboard.clear()
        runs = list(getattr(project, "runs", []) or [])
        self.dashboard.set_history(runs)
        if runs and runs[-1].history:            # a reopened project shows its last run
            self.dashboard.show_record(runs[-1])
            # its weights continue from there, so its curves do too
            self._continue_plots = self.has_stored_weights()
        self.runs_panel.set_project(project)
        self.try_it.set_project(project)
        self.evaluation.clear("The project holds trained weights: Evaluate (F7) scores them "
                              "on held-out data." if self.has_stored_weights() else None)
        self.activations.set_model(None)
        self._arrays = self._data = None
        self._update_actions()

    def has_stored_weights(self) -> bool:
        return bool(getattr(self.project, "weights", None))

    def use_data(self, arrays: run_setup.DataArrays | None) -> None:
        """Train on these arrays instead of reading the project's data source (scripts,
        tests, benchmarks); None goes back to the data source."""
        self._arrays = arrays

    def _settings_edited(self) -> None:
        if self.sender() is self.data_panel:
            self.settings_panel.sync_from_project()
            if self.data_panel.source_changed:
                self._arrays = None
        elif self.sender() is self.settings_panel:
            self.data_panel.sync_from_project()
        self.project_modified.emit()

    def show_layer(self, name: str) -> None:
        """The canvas selected layer ``name``: the activation preview shows it."""
        self.activations.select_layer(name)

    # ------------------------------------------------------------ state
    @property
    def is_running(self) -> bool:
        return self.thread is not None

    @property
    def is_paused(self) -> bool:
        return self.worker is not None and self.worker.is_paused

    def _update_actions(self) -> None:
        running, paused = self.is_running, self.is_paused
        self.train_action.setEnabled(not running)
        trained = not running and (self.session.model is not None or self.has_stored_weights())
        self.evaluate_action.setEnabled(trained)
        self.pause_action.setEnabled(running and not paused)
        self.resume_action.setEnabled(running and paused)
        self.pause_action.setVisible(not paused)
        self.resume_action.setVisible(paused)
        self.stop_action.setEnabled(running)
        self.reset_action.setEnabled(not running)
        self.export_h5_action.setEnabled(trained)
        self.export_script_action.setEnabled(self.project is not None and not running)
        self.data_panel.setEnabled(not running)
        self.settings_panel.setEnabled(not running)
        # the preview may run the model only while the worker really waits (after `paused`)
        self.activations.set_blocked("The model is training; pause to preview activations."
                                     if running and not self._worker_waiting else None)

    def _set_status(self, text: str) -> None:
        self.status_changed.emit(text)

    def _log(self, line: str) -> None:
        self.log.appendPlainText(line)

    # ------------------------------------------------------------ commands
    def train(self) -> bool:
        """Validate, build/compile, and start training in the worker thread; False if it could
        not start (the reason is shown)."""
        return self._start(train=True)

    def evaluate(self) -> bool:
        return self._start(train=False)

    def _start(self, train: bool) -> bool:
        if self.is_running or self._loading_data:
            return False
        project = self.project
        if project is None or getattr(project, "training", None) is None:
            return False
        try:
            problem = run_setup.first_problem(project.graph)
            if problem is not None:
                name, message = problem
                self.highlight(name, message)
                self.warn("The network cannot train yet", message)
                return False
            if not self._read_data(project):
                return False
            self._data = self._split(project)
            model, rebuilt = self.session.model_for(project)
            if rebuilt and self.session.epochs_done == 0:     # fresh weights: fresh plots
                self._continue_plots = False
            self.session.compile(project.training)
            self._data = run_setup.fit_to_model(self._data, model, project.training.loss)
            job = run_setup.make_job(model, self._data, project.training,
                                     self.session.epochs_done, train=train)
        except run_setup.SetupError as e:
            if e.layer:
                self.highlight(e.layer, str(e))
            self.warn("Training could not start", str(e))
            return False
        self.highlight(None, "")
        self.activations.set_model(model)        # previewable whenever training is paused
        self.activations.set_data(*self._data.preview())
        if train:
            names = ["loss"] + [m for m in project.training.metrics if isinstance(m, str)]
            self.dashboard.prepare(names if len(model.outputs) == 1 else ["loss"], job.epochs,
                                   self._continue_plots)
        self._launch(job)
        return True

    def _split(self, project) -> run_setup.TrainingData:
        """This run's data: the arrays with their validation split, or a streamed source's
        batch Sequences (built, and a sample decoded, off the GUI thread)."""
        cfg = project.training
        if not isinstance(self._arrays, run_setup.StreamedSource):
            return run_setup.split_data(self._arrays, cfg.validation_split)
        streamed = self._arrays
        data = run_responsive(
            lambda: run_setup.stream_data(streamed, cfg.validation_split, cfg.batch_size,
                                          cfg.loss),
            busy=self.dashboard, status=self.dashboard.set_status,
            message="Preparing the streamed data...")
        self.data_panel.show_stream_progress(*data.x_train.first_pass,
                                             decoded_bytes=streamed.decoded_bytes)
        return data

    def _stream_progress(self, *_signal_args) -> None:
        """The Data panel's count of the first pass over a streamed folder."""
        if self.worker is not None and self._data is not None and self._data.streamed:
            self.data_panel.show_stream_progress(*self._data.x_train.first_pass)

    def _read_data(self, project) -> bool:
        """Read the project's data source once (off the GUI thread, the window stays alive);
        False when the project was closed meanwhile. Raises SetupError."""
        if self._arrays is not None:
            return True
        self._loading_data = True
        shown = self.dashboard.status_label.text(), self.dashboard.status_label.toolTip()
        try:
            self._arrays = run_responsive(
                lambda: run_setup.load_data_source(project), busy=self.dashboard,
                status=self.dashboard.set_status, message="Reading the data...")
        finally:
            self._loading_data = False
            if self.dashboard.status_label.text() == "Reading the data...":
                self.dashboard.set_status(*shown)      # what it said before (e.g. last run)
        if self.project is not project:
            self._arrays = None
            return False
        return True

    def _prepare_preview(self) -> None:
        """The activation preview was shown with no model: give it the project's trained
        weights (a reopened project) and samples of its data."""
        project = self.project
        if self.is_running or self._loading_data or self.activations.model is not None or \
                project is None or not self.has_stored_weights():
            return
        try:
            model, _ = self.session.model_for(project)
            if not self._read_data(project):
                return
            data = self._split(project)
        except run_setup.SetupError as e:
            self.activations.show_message(f"Cannot preview the trained model: {e}")
            return
        self._data = run_setup.fit_to_model(data, model, project.training.loss)
        self.activations.set_model(model)
        self.activations.set_data(*self._data.preview())
        self._update_actions()

    def _launch(self, job: TrainingJob) -> None:
        self.thread = QThread(self)
        self.thread.setObjectName("TrainingThread")
        self.worker = TrainingWorker(job)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        w = self.worker
        # every receiver is a bound method of a GUI-thread QObject, so Qt queues the calls
        # into the GUI thread (a lambda would run in the training thread)
        w.started.connect(self._run_started)
        w.batches.connect(self.dashboard.add_batches)
        if self._data is not None and self._data.streamed:
            w.batches.connect(self._stream_progress)
            w.epoch_end.connect(self._stream_progress)
        w.epoch_end.connect(self._epoch_end)
        w.log_line.connect(self._log)
        w.paused.connect(self._paused)
        w.resumed.connect(self._resumed)
        w.evaluated.connect(self._evaluated)
        w.weights_snapshot.connect(self._weights_snapshot)
        w.finished.connect(self._finished)
        self._job_started = time.time()
        if "dashboard" in self.docks and job.train:
            self._show_dashboard()
        self.thread.start()
        self._update_actions()
        self.try_it.set_training(job.train)
        self.running_changed.emit(True)
        self._set_status("training" if job.train else "evaluating")

    def _show_dashboard(self) -> None:
        """Bring the dashboard forward, and give it room if its dock is squeezed."""
        dock = self.docks["dashboard"]
        dock.show()
        dock.raise_()
        window = dock.parentWidget()
        if isinstance(window, QMainWindow) and not dock.isFloating() and \
                dock.height() < DASHBOARD_MIN_HEIGHT:
            window.resizeDocks([dock], [max(DASHBOARD_MIN_HEIGHT, window.height() * 2 // 5)],
                               Qt.Orientation.Vertical)

    def pause(self) -> None:
        if self.worker is not None:
            self.worker.pause()
            self._update_actions()
            self._set_status("pausing")

    def resume(self) -> None:
        if self.worker is not None:
            self._worker_waiting = False
            self.worker.resume()
            self.dashboard.set_status("Training")
            self._update_actions()
            self._set_status("training")

    def stop(self) -> None:
        if self.worker is not None:
            self._worker_waiting = False
            self.worker.stop()
            self.dashboard.set_status("Stopping")
            self._set_status("stopping")

    def reset(self) -> None:
        """Forget trained weights: the next Train starts from freshly initialised weights."""
        if self.is_running:
            return
        project = self.project
        self.session.reset()
        if project is not None and getattr(project, "weights", None) is not None:
            project.weights = None
            self.project_modified.emit()
        self._continue_plots = False
        self.dashboard.clear()
        self.dashboard.set_status("Ready")
        self.evaluation.clear()
        self.activations.set_model(None)
        self._log("Reset: the next run starts from new random weights")
        self._update_actions()
        self._send_weights()

    # ------------------------------------------------------------ worker signals
    def _run_started(self, info: dict) -> None:
        self.dashboard.start_run(info, self._continue_plots)
        if self.worker is not None:
            self.dashboard.set_gate(self.worker.gate)
        self._set_status(f"training · epoch {info['initial_epoch'] + 1}/{info['epochs']}")

    def _epoch_end(self, epoch: int, logs: dict) -> None:
        self.dashboard.add_epoch(epoch, logs)
        total = self.worker.job.epochs if self.worker else epoch + 1
        if epoch + 1 < total:                   # the epoch now running
            self._set_status(f"training · epoch {epoch + 2}/{total}")

    def _paused(self) -> None:
        self._worker_waiting = self.is_paused
        self.dashboard.redraw()               # the plots show every batch up to the pause
        self.dashboard.set_status("Paused")
        self._update_actions()
        self._set_status("paused")

    def _resumed(self) -> None:
        self._update_actions()

    def _evaluated(self, result) -> None:
        self.evaluation.show_result(result, self._data.evaluation_name if self._data else "data")
        if "evaluation" in self.docks and not (self.worker and self.worker.job.train):
            self.docks["evaluation"].raise_()      # an Evaluate command shows its result

    def _finished(self, outcome: RunOutcome) -> None:
        worker = self.sender() if isinstance(self.sender(), TrainingWorker) else self.worker
        self._complete(worker, outcome)

    def _complete(self, worker: TrainingWorker | None, outcome: RunOutcome) -> None:
        """Record a finished run once (the queued signal may arrive after stop_and_wait)."""
        if worker is None or id(worker) in self._handled:
            return
        self._handled.add(id(worker))
        self._worker_waiting = False
        thread = self.thread
        self.thread, self.worker = None, None
        if thread is not None:
            thread.quit()
            thread.wait()
            thread.deleteLater()
        worker.deleteLater()
        job = worker.job
        if job.train:
            self.dashboard.finish_run(outcome.status, outcome.message)
            self._record(job, outcome)
        self._report(outcome)
        model = self.session.model
        self.activations.set_model(model if self._data is not None else None)
        if model is not None and self._data is not None:
            self.activations.set_data(*self._data.preview())
        self._update_actions()
        self.try_it.set_training(False)
        self.running_changed.emit(False)
        self._set_status("")
        self.run_finished.emit(outcome)

    def _record(self, job: TrainingJob, outcome: RunOutcome) -> None:
        """The run into the project's history; its weights when they are worth keeping."""
        self.session.after_run(outcome)
        self._continue_plots = outcome.status in ("completed", "stopped")
        project = self.project
        if project is None:
            return
        run_setup.record_run(project, job, outcome, self._job_started, self.dashboard.buffer)
        if outcome.status in ("completed", "stopped"):
            project.store_weights(job.model)
        self.dashboard.set_history(list(project.runs))
        self.runs_panel.refresh()
        self.project_modified.emit()

    def _runs_edited(self) -> None:
        """A run was renamed, annotated or deleted in the Runs panel."""
        project = self.project
        if project is not None:
            self.dashboard.set_history(list(project.runs))
            self.project_modified.emit()

    def _report(self, outcome: RunOutcome) -> None:
        if outcome.status == "diverged":
            self.highlight(outcome.layer, outcome.message)
            self.warn("Training diverged", outcome.message)
            self.dashboard.set_status("Diverged", outcome.message)
        elif outcome.status == "failed":
            log.error("training failed:\n%s", outcome.details or outcome.message)
            self.warn("Training failed", outcome.message)
            self.dashboard.set_status("Failed", outcome.message)

    # ------------------------------------------------------------ Try it
    def _send_weights(self) -> None:
        """Answer the Try it panel: while training runs, the worker copies the weights
        between two batches (``_weights_snapshot``); otherwise the idle model's weights, or
        the ones saved in the project."""
        if self.worker is not None and self.worker.job.train and not self._worker_waiting:
            self.worker.request_snapshot()
            return
        model, project = self.session.model, self.project
        if model is not None:
            n = self.session.epochs_done
            label = f"trained for {n} epoch{'s' if n != 1 else ''}" if n else "initial"
            self.try_it.set_weights(weights_by_layer(model), label)
        elif getattr(project, "weights", None):
            self.try_it.set_weights(project.weights, "saved in the project")
        else:
            self.try_it.set_weights(None, "")

    def _weights_snapshot(self, weights: dict, epoch: int, step: int) -> None:
        self.try_it.set_weights(weights, f"live from training, epoch {epoch + 1}, batch {step}")

    # ------------------------------------------------------------ shutdown
    def stop_and_wait(self) -> None:
        """Stop a running job and wait for its thread to end; the run is recorded."""
        worker, thread = self.worker, self.thread
        if worker is None or thread is None:
            return
        worker.stop(abort=True)
        thread.quit()          # the worker's run() returns first; then the event loop ends
        thread.wait()
        self._complete(worker, worker.outcome or RunOutcome("stopped", "stopped on close"))

    def confirm_stop(self, what: str = "close the window") -> bool:
        """Ask before ``what`` while training runs; True when it is fine to go on (training
        is then stopped, its thread ended and the run recorded)."""
        if not self.is_running:
            return True
        answer = QMessageBox.question(
            self.parent_widget, "Training is running",
            f"A training run is in progress. Stop it and {what}?\n\nThe weights trained so far "
            f"are kept in the project.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self.stop_and_wait()
        return True

    def warn(self, title: str, message: str) -> None:
        """Tell the user (log, dashboard status, a non-modal message box)."""
        log.warning("%s: %s", title, message)
        self._log(f"{title}: {message}")
        self.dashboard.set_status(title, message)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok,
                          self.parent_widget)
        box.setModal(False)
        box.show()
        self._message_box = box
