"""The "Try it" panel: draw a digit, drop a picture or type a sentence, and see what the network
says — updated on every stroke, from the current weights, also while it trains.

Inputs are prepared the way the project's data source prepares its samples
(:mod:`engine.data.single_sample`: size, colour, scale, MNIST-style centring of drawings, the
vocabulary for text). Predictions run on a private copy of the network
(:class:`app.training.prediction.SnapshotModel`) loaded with weight snapshots that the training
controller hands over (``weights_wanted`` → :meth:`set_weights`): while training runs they are
taken by the worker between two batches, at most ``SNAPSHOT_MS`` apart, so neither thread waits
for the other. The predictions run on a thread of their own
(:class:`app.training.prediction_service.PredictionService`): the window only copies the input
over and shows the result that comes back; while the pen moves, the newest input wins.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.background import run_responsive
from app.training.prediction_service import PredictionService, Request, Result
from app.training.score_bars import ScoreBars
from app.training.sketch_pad import SketchPad
from engine.data import DataError
from engine.data.single_sample import (
    InputForm,
    SourceContext,
    image_sample,
    input_form,
    known_words,
    read_image_file,
    source_context,
    text_sample,
)

SNAPSHOT_MS = 500           # fresh weights while training, at most twice a second
PREVIEW_SIZE = 112
TABS = ("draw", "picture", "text")


class TryItPanel(QWidget):
    weights_wanted = Signal()         # the controller answers with set_weights(...)
    result_ready = Signal(object)     # a Result, emitted on the prediction thread

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("try_it")
        self.setAcceptDrops(True)
        self.project = None
        self._graph = None                      # the graph followed for edits
        self._graph_dirty = False               # edited since the private model was built
        self.training = False
        self.snapshot = None                    # SnapshotModel
        self.form: InputForm | None = None
        self.context: SourceContext | None = None
        self._context_thread: threading.Thread | None = None
        self._context_result: dict = {}
        self._weights: dict | None = None
        self._weights_label = ""
        self._picture: np.ndarray | None = None
        self._loaded: int | None = None         # layers the snapshot fitted (None: not known yet)
        self._weighted = 0                      # layers that have weights
        self.last_scores = None
        self.predict_times: list[float] = []
        self._seq = 0                           # numbers the requests
        self._cleared_seq = 0                   # results of requests up to this are stale
        self._build_ui()
        self.service = PredictionService(self.result_ready.emit)
        self.result_ready.connect(self._show_result)
        service = self.service
        self.destroyed.connect(lambda *_args: service.close())
        self._snapshot_timer = QTimer(self)
        self._snapshot_timer.setInterval(SNAPSHOT_MS)
        self._snapshot_timer.timeout.connect(self._want_weights)
        self._context_timer = QTimer(self)
        self._context_timer.setInterval(50)
        self._context_timer.timeout.connect(self._poll_context)

    # ------------------------------------------------------------ layout
    def _build_ui(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        body = QHBoxLayout()
        outer.addLayout(body, 1)
        self.tabs = QTabWidget(self)
        body.addWidget(self.tabs, 3)

        draw = QWidget(self.tabs)
        dl = QVBoxLayout(draw)
        self.pad = SketchPad(draw)
        dl.addWidget(self.pad, 1)
        row = QHBoxLayout()
        self.clear_btn = QPushButton("Clear", draw)
        self.clear_btn.setToolTip("Clear the drawing (Backspace on the pad)")
        self.undo_btn = QPushButton("Undo Stroke", draw)
        self.undo_btn.setToolTip("Take back the last stroke (Ctrl+Z on the pad)")
        row.addWidget(self.clear_btn)
        row.addWidget(self.undo_btn)
        dl.addLayout(row)
        self.tabs.addTab(draw, "Draw")

        pic = QWidget(self.tabs)
        pl = QVBoxLayout(pic)
        self.picture_label = QLabel("Drop a picture here\n(PNG, JPEG, BMP, …)", pic)
        self.picture_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture_label.setMinimumSize(160, 160)
        self.picture_label.setSizePolicy(QSizePolicy.Policy.Expanding,
                                         QSizePolicy.Policy.Expanding)
        self.picture_label.setStyleSheet("border: 1px dashed palette(mid);")
        pl.addWidget(self.picture_label, 1)
        self.open_btn = QPushButton("Open Picture…", pic)
        pl.addWidget(self.open_btn)
        self.tabs.addTab(pic, "Picture")

        text = QWidget(self.tabs)
        tl = QVBoxLayout(text)
        self.text_edit = QPlainTextEdit(text)
        self.text_edit.setPlaceholderText("Type a sentence, e.g. “The food was great and the "
                                          "staff were friendly.”")
        tl.addWidget(self.text_edit, 1)
        self.words_label = QLabel("", text)
        self.words_label.setWordWrap(True)
        tl.addWidget(self.words_label)
        self.tabs.addTab(text, "Text")

        side = QVBoxLayout()
        side.addWidget(QLabel("The network sees:", self))
        self.preview = QLabel(self)
        self.preview.setFixedSize(PREVIEW_SIZE, PREVIEW_SIZE)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("border: 1px solid palette(mid);")
        side.addWidget(self.preview)
        self.bars = ScoreBars(self)
        side.addWidget(self.bars, 1)
        self.timing = QLabel("", self)
        side.addWidget(self.timing)
        body.addLayout(side, 2)

        self.pad.changed.connect(self._input_changed)
        self.clear_btn.clicked.connect(self.pad.clear)
        self.undo_btn.clicked.connect(self.pad.undo_stroke)
        self.open_btn.clicked.connect(self._open_picture)
        self.text_edit.textChanged.connect(self._input_changed)
        self.tabs.currentChanged.connect(lambda _i: self._input_changed())

    # ------------------------------------------------------------ project and weights
    def set_project(self, project) -> None:
        if self._graph is not None:
            self._graph.unsubscribe(self._graph_event)
        self.project = project
        self._graph = getattr(project, "graph", None)
        if self._graph is not None:
            self._graph.subscribe(self._graph_event)
        self._graph_dirty = False
        self._cleared_seq = self._seq             # predictions for the old project are stale
        self.snapshot = None
        self.form = None
        self.context = None
        self._context_thread = None               # a read for the old project is dropped
        self._context_timer.stop()
        self._weights, self._weights_label = None, ""
        self._picture = None
        self.picture_label.setPixmap(QPixmap())
        self.picture_label.setText("Drop a picture here\n(PNG, JPEG, BMP, …)")
        self.bars.clear()
        self.preview.clear()
        if self.isVisible():
            self._prepare()

    def _graph_event(self, event: str, _payload) -> None:
        if event != "moved":
            self._graph_dirty = True            # rebuilt before the next prediction

    def set_training(self, running: bool) -> None:
        """Training started or ended: fetch weights periodically while it runs (and shown)."""
        self.training = running
        if running and self.isVisible():
            self._snapshot_timer.start()
        else:
            self._snapshot_timer.stop()
        if not running and self.isVisible():
            self._want_weights()                 # the final weights

    def set_weights(self, weights: dict | None, label: str) -> None:
        """A snapshot of the weights (layer name → arrays; None: untrained) and where it is
        from, for the status line. The current input is predicted again with it."""
        self._weights, self._weights_label = weights, label
        self._loaded = None                     # known when the prediction thread loaded them
        self.service.set_weights(weights)
        if self.snapshot is not None:
            self._show_status()
            self._input_changed()

    def _want_weights(self) -> None:
        if self.isVisible() and self.snapshot is not None:
            self.weights_wanted.emit()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self._prepare)
        if self.training:
            self._snapshot_timer.start()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self._snapshot_timer.stop()

    def _prepare(self) -> bool:
        """The private model and the input form for the current graph (rebuilt when the
        graph changed); False with the reason shown when the network cannot be tried."""
        project = self.project
        graph = getattr(project, "graph", None)
        if graph is None:
            return self._unavailable("No project.")
        if self.snapshot is not None and self.snapshot.matches(graph):
            return self.form is not None and self.form.kind != "unsupported"
        from app.training.prediction import SnapshotModel
        from app.training.run_setup import first_problem
        problem = first_problem(graph)
        if problem is not None:
            return self._unavailable(f"The network cannot run yet: {problem[1]}")
        if len(graph.input_nodes()) != 1:
            return self._unavailable("Try it works with networks that have one input.")
        try:
            self.snapshot = SnapshotModel(graph)
        except (ValueError, TypeError) as e:
            return self._unavailable(f"The network cannot be built: {e}")
        self.service.use_model(self.snapshot)    # only the prediction thread uses it now
        self._loaded, self._weighted = None, self.snapshot.weighted_layers
        spec = getattr(project, "data_source", None)
        self.form = input_form(self.snapshot.input_shape, self.snapshot.input_dtype, spec)
        if self.form.kind == "unsupported":
            return self._unavailable(f"Try it cannot feed this network: {self.form.reason}.")
        self._start_context(spec)
        self.tabs.setTabEnabled(0, self.form.kind == "image")
        self.tabs.setTabEnabled(1, self.form.kind == "image")
        self.tabs.setTabEnabled(2, self.form.kind == "text")
        self.tabs.setCurrentIndex(2 if self.form.kind == "text" else
                                  (self.tabs.currentIndex() if self.tabs.currentIndex() < 2
                                   else 0))
        self.tabs.setEnabled(True)
        self._show_status()
        self.weights_wanted.emit()
        return True

    def _unavailable(self, message: str) -> bool:
        self.tabs.setEnabled(False)
        self.status.setText(message)
        self.bars.clear()
        return False

    def _show_status(self) -> None:
        if self.snapshot is None:
            return
        if self._weights is None:
            text = "Untrained network (random weights): train it to see real predictions."
        elif self._loaded is None or self._loaded == self._weighted:
            text = f"Weights: {self._weights_label}."
        elif self._loaded == 0:
            text = ("The network was edited: its trained weights no longer fit any layer; "
                    "train it again (these predictions come from random weights).")
        elif self._loaded < self._weighted:
            text = (f"Weights: {self._weights_label}; {self._weighted - self._loaded} layer(s) "
                    f"changed since and start untrained.")
        if self.form is not None and self.form.kind == "image":
            h, w, c = self.form.image_shape
            text += f" Inputs become {h}×{w} {'grayscale' if c == 1 else 'colour'}"
            scale = self.form.scale
            if not scale:
                text += "."
            elif abs(scale - 1 / 255) < 1e-9:
                text += ", values scaled to [0, 1]."
            else:
                text += f", scaled ×{scale:.4g}."
        self.status.setText(text)

    # ------------------------------------------------------------ class names / vocabulary
    def _start_context(self, spec) -> None:
        """Class names and vocabulary, read off the GUI thread (a text folder is read whole)."""
        if self._context_thread is not None:
            return
        result: dict = {}

        def work() -> None:
            try:
                result["value"] = source_context(spec)
            except (DataError, OSError, ValueError, KeyError) as e:
                result["error"] = e
        self._context_result = result
        self._context_thread = threading.Thread(target=work, name="try-it-context",
                                                daemon=True)
        self._context_thread.start()
        self._context_timer.start()

    def _poll_context(self) -> None:
        thread = self._context_thread
        if thread is None or thread.is_alive():
            return
        self._context_timer.stop()
        self._context_thread = None
        if "error" in self._context_result:
            self.context = SourceContext()
            self.words_label.setText(f"The data source could not be read: "
                                     f"{self._context_result['error']}")
        else:
            self.context = self._context_result["value"]
        self._input_changed()

    def wait_context(self, timeout: float = 10.0) -> None:
        """Block until the class names and vocabulary are read (tests, benchmarks)."""
        if self._context_thread is not None:
            self._context_thread.join(timeout)
            self._poll_context()

    # ------------------------------------------------------------ input
    def _input_changed(self) -> None:
        """Hand the current input to the prediction thread (it replaces one still waiting)."""
        if self._graph_dirty:
            self._graph_dirty = False
            if not self._prepare():
                return
        if self.snapshot is None:
            return
        request = self._request()
        self._seq += 1
        if request is None:
            self._cleared_seq = self._seq       # a prediction still on its way is stale
            self.bars.clear("—")
            self.preview.clear()
            return
        request.seq = self._seq
        self.service.submit(request)

    def _request(self) -> Request | None:
        """The current input as a request (its arrays copied: the pad goes on changing), or
        None when nothing is entered yet."""
        form = self.form
        if form is None or form.kind == "unsupported":
            return None
        names = self.context.class_names if self.context else None
        tab = TABS[self.tabs.currentIndex()]
        if form.kind == "image" and tab == "draw":
            if self.pad.is_empty():
                return None
            pixels = self.pad.pixels()
            return Request(lambda: image_sample(pixels, form, drawing=True), names)
        if form.kind == "image" and tab == "picture":
            picture = self._picture
            return None if picture is None else Request(lambda: image_sample(picture, form),
                                                        names)
        if form.kind == "text" and tab == "text":
            return self._text_request(names)
        return None

    def _text_request(self, names) -> Request | None:
        text = self.text_edit.toPlainText()
        vocabulary = self.context.vocabulary if self.context else None
        if not text.strip():
            self.words_label.setText("")
            return None
        if not vocabulary:
            self.words_label.setText("Reading the vocabulary of the data source…"
                                     if self.context is None else
                                     "The data source has no vocabulary (choose text data "
                                     "with a text length in the Data panel).")
            return None
        known, total = known_words(text, vocabulary)
        maxlen = self.form.maxlen
        self.words_label.setText(f"{known} of {total} words are in the vocabulary the "
                                 f"network learnt; at most {maxlen} are used.")
        return Request(lambda: text_sample(text, vocabulary, maxlen), names)

    def _show_result(self, result: Result) -> None:
        """A prediction came back from the prediction thread."""
        if (result.loaded, result.weighted) != (self._loaded, self._weighted):
            self._loaded, self._weighted = result.loaded, result.weighted
            self._show_status()
        if result.seq != -1 and result.seq <= self._cleared_seq:
            return                              # the input was cleared meanwhile
        if result.error:
            self.bars.clear(result.error)
            return
        if result.scores is None:
            return
        self.last_scores = result.scores
        self.bars.show_scores(result.scores)
        self._show_preview(result.sample)
        self.predict_times.append(result.seconds)
        if len(self.predict_times) > 1000:
            del self.predict_times[:-100]
        self.timing.setText(f"forward pass {result.scores.seconds * 1000:.1f} ms · with "
                            f"preparing the input {result.seconds * 1000:.1f} ms")

    def flush(self, timeout: float = 10.0) -> None:
        """Wait for the predictions asked for so far and show them (tests, benchmarks)."""
        self.service.wait_idle(timeout)
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)

    def _show_preview(self, x: np.ndarray) -> None:
        form = self.form
        if form.kind != "image":
            self.preview.setText(f"{int(np.count_nonzero(x))} tokens")
            return
        img = x.reshape(form.image_shape)
        lo, hi = float(img.min()), float(img.max())
        u8 = np.ascontiguousarray(((img - lo) / (hi - lo) * 255 if hi > lo else img * 0)
                                  .astype(np.uint8))
        h, w, c = form.image_shape
        if c == 1:
            q = QImage(u8.data, w, h, w, QImage.Format.Format_Grayscale8)
        else:
            q = QImage(u8.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self.preview.setPixmap(QPixmap.fromImage(q.copy()).scaled(
            PREVIEW_SIZE - 4, PREVIEW_SIZE - 4, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.FastTransformation))

    # ------------------------------------------------------------ pictures
    def ask_picture_path(self) -> str:
        path, _ = QFileDialog.getOpenFileName(self, "Try a picture", "", "Pictures (*.png "
                                              "*.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;"
                                              "All files (*)")
        return path

    def _open_picture(self) -> None:
        path = self.ask_picture_path()
        if path:
            self.load_picture(path)

    def load_picture(self, path: str | Path) -> bool:
        """Read a picture file (off the GUI thread) and predict it."""
        try:
            pixels = run_responsive(lambda: read_image_file(path), busy=self,
                                    message="Reading the picture...")
        except DataError as e:
            self.picture_label.setText(str(e))
            return False
        self._picture = pixels
        h, w = pixels.shape[:2]
        q = QImage(np.ascontiguousarray(pixels).data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self.picture_label.setPixmap(QPixmap.fromImage(q.copy()).scaled(
            self.picture_label.size() * 0.95, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))
        self.tabs.setCurrentIndex(TABS.index("picture"))
        self._input_changed()
        return True

    def dragEnterEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if self.form is not None and self.form.kind == "image" and urls and \
                urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            self.load_picture(urls[0].toLocalFile())
