"""The data panel: choose the project's data source, see what it holds, set the validation split.

The source is an ``engine.data.DataSource`` (declarative, JSON-serializable; the project stores
its ``to_dict()``): the bundled MNIST subset or text sentences, a data set Keras publishes
(downloaded here with a progress bar, or the user's copy), a CSV/TSV file, NPZ/NPY arrays,
IDX files or a folder of images (one subfolder per class). Its summary (sample count, shape,
class balance, a few samples) is shown here; problems with a file are shown as the engine's
message, which names the file, line and column.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.background import run_responsive
from app.training.dataset_download import DatasetDownloadRow
from app.training.metric_plot import TRAIN
from app.training.sample_grid import SampleGrid
from app.training.themed_plot import themed_plot

# (kind, label, what the path is: "file", "folder" or None for bundled data, file filter)
KINDS = (
    ("bundled", "Bundled dataset", None, ""),
    ("keras_dataset", "Keras dataset (MNIST, Fashion-MNIST, CIFAR-10)", "file",
     "Keras data set files (*.npz *.gz *.tar.gz);;All files (*)"),
    ("csv", "CSV / TSV file", "file", "Tables (*.csv *.tsv *.txt)"),
    ("npz", "NumPy arrays (NPZ / NPY)", "file", "NumPy (*.npz *.npy)"),
    ("idx", "IDX files (MNIST format)", "file", "IDX (*-idx*-ubyte *-idx*-ubyte.gz *.idx)"),
    ("hdf5", "HDF5 datasets", "file", "HDF5 (*.h5 *.hdf5 *.he5)"),
    ("image_folder", "Image folder (one subfolder per class)", "folder", ""),
    ("text_folder", "Text folder (one subfolder per class)", "folder", ""),
)
# the options the form edits; a stored source's other options (test_fraction, delimiter,
# skip_bad_files, ...) are kept as they are when the form is applied to the same kind
FORM_OPTIONS = {"kind", "name", "path", "labels_path", "label", "x_key", "y_key", "target_size",
                "color_mode", "maxlen", "num_words", "scale", "shape", "one_hot"}
PREVIEW_SAMPLES = 16
ERROR_STYLE = "color: #c62828"


class DataPanel(QWidget):
    """Editor of ``project.data_source`` and ``project.training.validation_split``."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.project = None
        self.summary = None
        self.source_changed = False      # with `changed`: the source (not just the split) changed
        self._loading = False
        self._stored: dict = {}          # the project's source as loaded (kept options)
        self._pending_spec: dict | None = None   # summarized when the panel is first shown
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)

        src = QGroupBox("Data source", self)
        form = QFormLayout(src)
        self.kind_box = QComboBox(src)
        for kind, label, _, _ in KINDS:
            self.kind_box.addItem(label, kind)
        form.addRow("Kind", self.kind_box)
        self.dataset_box = QComboBox(src)
        form.addRow("Dataset", self.dataset_box)
        self.download_row = DatasetDownloadRow(src)
        form.addRow("Dataset", self.download_row)
        self.path_row = QWidget(src)
        path_row = QHBoxLayout(self.path_row)
        path_row.setContentsMargins(0, 0, 0, 0)
        self.path_edit = QLineEdit(self.path_row)
        self.path_edit.setPlaceholderText("file or folder")
        self.browse_btn = QPushButton("Browse...", self.path_row)
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_btn)
        form.addRow("Path", self.path_row)
        self.labels_edit = QLineEdit(src)
        self.labels_edit.setPlaceholderText("labels file (…-labels-idx1-ubyte.gz)")
        form.addRow("Labels file", self.labels_edit)
        self.label_edit = QLineEdit(src)
        self.label_edit.setPlaceholderText("label column: name or number (last if empty)")
        form.addRow("Label column", self.label_edit)
        self.keys_edit = QLineEdit(src)
        self.keys_edit.setPlaceholderText("features, labels: e.g. /images, /labels (auto if empty)")
        form.addRow("Arrays", self.keys_edit)
        self.maxlen_edit = QLineEdit(src)
        self.maxlen_edit.setPlaceholderText("tokens per text, e.g. 200 (texts stay text if empty)")
        form.addRow("Text length", self.maxlen_edit)
        self.words_edit = QLineEdit(src)
        self.words_edit.setPlaceholderText("most frequent words kept, e.g. 10000 (all if empty)")
        form.addRow("Vocabulary", self.words_edit)
        self.size_edit = QLineEdit(src)
        self.size_edit.setPlaceholderText("e.g. 64, 64 (as found if empty)")
        form.addRow("Image size", self.size_edit)
        self.color_box = QComboBox(src)
        self.color_box.addItems(["rgb", "grayscale"])
        form.addRow("Colour", self.color_box)
        self.scale_edit = QLineEdit(src)
        self.scale_edit.setPlaceholderText("multiply values, e.g. 1/255")
        form.addRow("Scale", self.scale_edit)
        self.shape_edit = QLineEdit(src)
        self.shape_edit.setPlaceholderText("reshape each sample, e.g. 28, 28, 1")
        form.addRow("Sample shape", self.shape_edit)
        self.one_hot_box = QCheckBox("one-hot labels (for categorical_crossentropy)", src)
        form.addRow("", self.one_hot_box)
        self.form = form
        self.load_btn = QPushButton("Load", src)
        form.addRow("", self.load_btn)
        lay.addWidget(src)

        self.split_box = QDoubleSpinBox(self)
        self.split_box.setRange(0.0, 0.9)
        self.split_box.setSingleStep(0.05)
        self.split_box.setDecimals(2)
        split_row = QHBoxLayout()
        split_row.addWidget(QLabel("Validation split", self))
        split_row.addWidget(self.split_box)
        self.split_label = QLabel("", self)
        split_row.addWidget(self.split_label, 1)
        lay.addLayout(split_row)

        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        lay.addWidget(self.message)
        self.info = QLabel("No data source yet.", self)
        self.info.setWordWrap(True)
        lay.addWidget(self.info)
        self.balance_plot = themed_plot(self)
        self.balance_plot.setMinimumHeight(110)
        self.balance_plot.setMaximumHeight(160)
        self.balance_plot.set_title("<span style='font-size:9pt'>class balance</span>")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=QColor(TRAIN))
        self.balance_plot.addItem(self.bars)
        lay.addWidget(self.balance_plot)
        self.samples = SampleGrid(self, columns=4, tile_size=56)
        lay.addWidget(self.samples, 1)

        self.kind_box.currentIndexChanged.connect(lambda _: self._kind_changed())
        self.download_row.changed.connect(self.path_edit.clear)     # that path was another's
        self.download_row.ready.connect(self.load)
        self.download_row.copy_chosen.connect(self._use_copy)
        self.download_row.use_bundled.connect(self._use_bundled)
        self.browse_btn.clicked.connect(self._browse)
        self.load_btn.clicked.connect(self.load)
        self.path_edit.returnPressed.connect(self.load)
        self.split_box.valueChanged.connect(self._split_changed)
        self._fill_datasets()
        self._kind_changed()

    # ------------------------------------------------------------ form
    def _fill_datasets(self) -> None:
        try:
            from engine.data import bundled_datasets
            names = list(bundled_datasets())
        except ImportError as e:
            names = []
            self._show_error(f"Data loading is not available: {e}")
        self.dataset_box.clear()
        self.dataset_box.addItems(names)

    def kind(self) -> str:
        return self.kind_box.currentData()

    def _kind_changed(self) -> None:
        kind = self.kind()
        bundled = kind == "bundled"
        named = kind in ("bundled", "keras_dataset")
        self.path_edit.setPlaceholderText("optional: your copy of Keras's files (else "
                                          "downloaded)" if kind == "keras_dataset"
                                          else "file or folder")
        for widget, shown in ((self.dataset_box, bundled), (self.path_row, not bundled),
                              (self.download_row, kind == "keras_dataset"),
                              (self.labels_edit, kind in ("idx", "npz")),
                              (self.label_edit, kind == "csv"),
                              (self.keys_edit, kind in ("hdf5", "npz")),
                              (self.size_edit, kind == "image_folder"),
                              (self.color_box, kind == "image_folder"),
                              (self.maxlen_edit, kind == "text_folder"),
                              (self.words_edit, kind == "text_folder"),
                              (self.scale_edit, not named)):
            self.form.setRowVisible(widget, shown)

    def _browse(self) -> None:
        _, label, what, filt = next(k for k in KINDS if k[0] == self.kind())
        if what == "folder":
            path = QFileDialog.getExistingDirectory(self, f"Choose the {label.lower()}")
        else:
            path, _ = QFileDialog.getOpenFileName(self, f"Choose the {label.lower()}", "", filt)
        if path:
            self.path_edit.setText(path)
            self.load()

    def source_spec(self) -> dict:
        """What the form describes, as ``DataSource`` keyword arguments (raises ValueError
        naming the field that cannot be read)."""
        kind = self.kind()
        spec: dict = {"kind": kind}
        if self._stored.get("kind") == kind:
            spec.update({k: v for k, v in self._stored.items() if k not in FORM_OPTIONS})
        if kind == "bundled":
            spec["name"] = self.dataset_box.currentText()
        elif kind == "keras_dataset":
            spec["name"] = self.download_row.name()
            if self.path_edit.text().strip():
                spec["path"] = self.path_edit.text().strip()
        else:
            spec["path"] = self.path_edit.text().strip()
            scale = self.scale_edit.text().strip()
            if scale:
                spec["scale"] = _number(scale, "Scale")
        if kind in ("idx", "npz") and self.labels_edit.text().strip():
            spec["labels_path"] = self.labels_edit.text().strip()
        label = self.label_edit.text().strip()
        if kind == "csv" and label:
            spec["label"] = int(label) if label.lstrip("-").isdigit() else label
        keys = [k.strip() for k in self.keys_edit.text().split(",")]
        if kind in ("hdf5", "npz") and any(keys):
            if len(keys) > 2:
                raise ValueError(f"Arrays: expected the features' name and optionally the "
                                 f"labels' name, separated by a comma; got "
                                 f"{self.keys_edit.text()!r}")
            if keys[0]:
                spec["x_key"] = keys[0]
            if len(keys) == 2 and keys[1]:
                spec["y_key"] = keys[1]
        if kind == "text_folder":
            for edit, key, field in ((self.maxlen_edit, "maxlen", "Text length"),
                                     (self.words_edit, "num_words", "Vocabulary")):
                if edit.text().strip():
                    spec[key] = _ints(edit.text(), field, count=1)[0]
        if kind == "image_folder":
            spec["color_mode"] = self.color_box.currentText()
            if self.size_edit.text().strip():
                spec["target_size"] = _ints(self.size_edit.text(), "Image size")
        if self.shape_edit.text().strip():
            spec["shape"] = _ints(self.shape_edit.text(), "Sample shape")
        if self.one_hot_box.isChecked():
            spec["one_hot"] = True
        return spec

    def _fit_to_network(self, spec: dict) -> tuple[dict, list[str]]:
        """Suggestions from the project: reshape samples to the Input layer's shape when only
        the layout differs, one-hot labels when the loss needs them. Returns the spec and what
        was changed (for the message)."""
        notes = []
        graph = getattr(self.project, "graph", None)
        inputs = graph.input_nodes() if graph is not None else []
        cfg = getattr(self.project, "training", None)
        if cfg is not None and cfg.loss == "categorical_crossentropy" and not spec.get("one_hot"):
            spec["one_hot"] = True
            notes.append("labels one-hot encoded for categorical_crossentropy")
        if len(inputs) == 1 and "shape" not in spec and self.summary is not None:
            want = tuple(int(d) for d in inputs[0].params.get("shape") or ())
            have = tuple(self.summary.sample_shape)
            if want and want != have and int(np.prod(want)) == int(np.prod(have)):
                spec["shape"] = list(want)
                notes.append(f"samples reshaped to {want} to match the Input layer")
        return spec, notes

    # ------------------------------------------------------------ project
    def set_project(self, project) -> None:
        self.project = project
        inputs = project.graph.input_nodes() if getattr(project, "graph", None) else []
        shape = inputs[0].params.get("shape") if len(inputs) == 1 else None
        known = bool(shape) and all(isinstance(d, int) for d in shape)
        self.download_row.input_pixels = int(np.prod(shape)) if known else None
        has_training = getattr(project, "training", None) is not None
        self.setEnabled(project is not None and has_training)
        self.summary = None
        self._clear_summary()
        self.sync_from_project()
        spec = getattr(project, "data_source", None)
        self._stored = dict(spec or {})
        if spec:
            self._show_source(spec)

    def sync_from_project(self) -> None:
        cfg = getattr(self.project, "training", None)
        if cfg is None:
            return
        self._loading = True
        self.split_box.setValue(float(cfg.validation_split or 0.0))
        self._loading = False
        self._update_split_label()

    def _show_source(self, spec: dict) -> None:
        """Put a stored source into the form and summarize it — now if the panel is on screen,
        else when it is first shown (reading MNIST takes 0.2–0.3 s: not on the start-up path
        while the Data tab is hidden)."""
        self._fill_form(spec)
        self._pending_spec = None
        if self.isVisible():
            self._summarize(spec, store=False)
        else:
            self._pending_spec = spec

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._pending_spec is not None:
            spec, self._pending_spec = self._pending_spec, None
            project = self.project

            def summarize_now():
                if self.project is project and self.summary is None:
                    self._summarize(spec, store=False)
            QTimer.singleShot(0, summarize_now)

    def _fill_form(self, spec: dict) -> None:
        self._loading = True
        i = self.kind_box.findData(spec.get("kind"))
        if i >= 0:
            self.kind_box.setCurrentIndex(i)
        if spec.get("name") and spec.get("kind") == "keras_dataset":
            self.download_row.set_name(str(spec["name"]))
        elif spec.get("name"):
            self.dataset_box.setCurrentText(str(spec["name"]))
        self.path_edit.setText(str(spec.get("path") or ""))
        self.labels_edit.setText(str(spec.get("labels_path") or ""))
        label = spec.get("label", -1)
        self.label_edit.setText("" if label in (None, -1) else str(label))
        x_key, y_key = spec.get("x_key") or "", spec.get("y_key") or ""
        self.keys_edit.setText(f"{x_key}, {y_key}" if y_key else x_key)
        self.maxlen_edit.setText(str(spec.get("maxlen") or ""))
        self.words_edit.setText(str(spec.get("num_words") or ""))
        self.scale_edit.setText("" if spec.get("scale") is None else f"{spec['scale']:g}")
        self.shape_edit.setText(", ".join(str(d) for d in spec.get("shape") or []))
        self.size_edit.setText(", ".join(str(d) for d in spec.get("target_size") or []))
        self.color_box.setCurrentText(spec.get("color_mode", "rgb"))
        self.one_hot_box.setChecked(bool(spec.get("one_hot")))
        self._loading = False

    def load(self) -> bool:
        """Read the source the form describes; on success it becomes the project's. Samples
        are reshaped to the Input layer and labels one-hot encoded when the network needs it
        (the message says so, the form shows it)."""
        try:
            spec = self.source_spec()
        except ValueError as e:
            self._show_error(str(e))
            return False
        if spec.get("path", None) == "":
            self._show_error("Choose a file or folder first.")
            return False
        if self._needs_download(spec):
            self.download_row.start_download()
            self._show_busy("Downloading; the data is read when the download ends.")
            return False
        if not self._summarize(spec, store=False):
            return False
        spec, notes = self._fit_to_network(spec)
        if notes:
            self._fill_form(spec)
        if not self._summarize(spec, store=True):
            return False
        if notes:
            self.message.setText("Loaded; " + "; ".join(notes) + ".")
        return True

    def _needs_download(self, spec: dict) -> bool:
        from engine.datasets import catalog
        return spec.get("kind") == "keras_dataset" and not spec.get("path") and \
            spec.get("name") in catalog.DATASETS and not catalog.is_downloaded(spec["name"])

    def _use_copy(self, path: str) -> None:
        self.path_edit.setText(path)
        self.load()

    def _use_bundled(self) -> None:
        self.kind_box.setCurrentIndex(self.kind_box.findData("bundled"))
        self.dataset_box.setCurrentText("mnist")
        self.load()

    def _summarize(self, spec: dict, store: bool) -> bool:
        if self._needs_download(spec):       # never a download hidden behind "Reading..."
            self.download_row.refresh()
            self._show_error("This data set is not downloaded yet: press Download, or use "
                             "your copy of Keras's files.")
            return False
        try:
            from engine.data import DataError, DataSource
        except ImportError as e:
            self._show_error(f"Data loading is not available: {e}")
            return False
        def read():
            source = DataSource.from_dict(spec)
            return source, source.summary(PREVIEW_SAMPLES)

        try:
            # a big CSV or image folder takes seconds: read it off the GUI thread
            source, summary = run_responsive(read, busy=self, message="Reading the data...",
                                             status=self._show_busy)
        except (DataError, OSError, ValueError, TypeError) as e:
            self._show_error(str(e))
            return False
        self.summary = summary
        self.message.setStyleSheet("")
        self.message.setText("")
        self._show_summary(summary)
        if store and self.project is not None:
            self.project.data_source = source.to_dict()
            self._stored = dict(self.project.data_source)
            self.source_changed = True
            self.changed.emit()
        return True

    # ------------------------------------------------------------ summary
    def _show_busy(self, text: str) -> None:
        self.message.setStyleSheet("")
        self.message.setText(text)

    def _show_error(self, text: str) -> None:
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setText(text)

    def _clear_summary(self) -> None:
        self.info.setText("No data source yet.")
        self.bars.setOpts(x=[], height=[])
        self.samples.set_samples([])
        self.split_label.setText("")

    def _show_summary(self, s) -> None:
        shape = " × ".join(str(d) for d in s.sample_shape) or "scalar"
        lines = [f"<b>{s.count:,}</b> samples of shape ({shape}), {s.dtype}"]
        if getattr(s, "test_count", 0):
            lines[0] += f", plus {s.test_count:,} test samples"
        if s.value_range is not None:
            lines.append(f"values {s.value_range[0]:.3g} … {s.value_range[1]:.3g}")
        names = list(s.class_names or [])
        if s.class_counts is not None:
            counts = np.asarray(s.class_counts)
            lines.append(f"{len(counts)} classes" + (": " + ", ".join(names[:12]) +
                                                     (" …" if len(names) > 12 else "")
                                                     if names else ""))
            self.bars.setOpts(x=np.arange(len(counts)), height=counts, width=0.7)
            ticks = [(i, n) for i, n in enumerate(names)] if names and len(names) <= 20 else None
            self.balance_plot.getPlotItem().getAxis("bottom").setTicks(
                [ticks] if ticks else None)
            self.balance_plot.getPlotItem().autoRange(padding=0.05)
            self.balance_plot.show()
        else:
            lines.append("regression targets" if s.count else "")
            self.balance_plot.hide()
        self.info.setText("<br>".join(x for x in lines if x))
        tiles = []
        for sample, label in list(zip(s.samples, s.sample_labels))[:PREVIEW_SAMPLES]:
            caption = _label_text(label, names)
            tiles.append((np.asarray(sample), caption, None))
        self.samples.set_samples(tiles)
        self._update_split_label()

    def _split_changed(self, value: float) -> None:
        if self._loading:
            return
        cfg = getattr(self.project, "training", None)
        if cfg is not None:
            cfg.validation_split = round(float(value), 4)
            self.source_changed = False
            self.changed.emit()
        self._update_split_label()

    def _update_split_label(self) -> None:
        if self.summary is None:
            self.split_label.setText("")
            return
        n = self.summary.count
        n_train = int(n * (1.0 - self.split_box.value()))
        self.split_label.setText(f"train {n_train:,} · validation {n - n_train:,}")


def _number(text: str, field: str) -> float:
    """``0.5``, ``1e-3`` or a fraction like ``1/255``."""
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            return float(num) / float(den)
        return float(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{field}: expected a number such as 0.5 or 1/255, got {text!r}") \
            from None


def _ints(text: str, field: str, count: int | None = None) -> list[int]:
    """``28, 28, 1`` → [28, 28, 1] (positive whole numbers; exactly ``count`` if given)."""
    parts = [p for p in text.replace("x", ",").replace(" ", ",").split(",") if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values) or (count is not None and len(values) != count):
        what = "a positive whole number such as 200" if count == 1 else \
            "positive whole numbers such as 28, 28, 1"
        raise ValueError(f"{field}: expected {what}; got {text!r}")
    return values


def _label_text(label, names: list[str]) -> str:
    """A sample's label for its caption: class name (also from a one-hot row) or value."""
    if label is None:
        return ""
    a = np.asarray(label)
    if names and a.ndim == 1 and a.size == len(names) > 1:
        return names[int(a.argmax())]
    if a.size == 1:
        v = a.reshape(-1)[0]
        if names and float(v).is_integer() and 0 <= int(v) < len(names):
            return names[int(v)]
        return f"{v:.4g}" if a.dtype.kind == "f" else str(v)
    return f"[{', '.join(f'{v:.3g}' for v in a.reshape(-1)[:3])}{'…' if a.size > 3 else ''}]"
