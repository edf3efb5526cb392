"""The training settings panel: optimizer and its arguments, loss, metrics, batch size, epochs,
validation split, early stopping, learning-rate reduction on plateau, and the seed.

It edits ``project.training`` (a ``TrainingConfig``) in place and emits ``changed``. The
optimizer's argument fields are generated from the optimizer class's constructor, so a new
optimizer in ``engine.optimizers`` appears here without a change.
"""
from __future__ import annotations

import inspect
import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.flow_layout import FlowLayout
from engine import losses, metrics, optimizers

MONITORS = ("val_loss", "loss", "val_accuracy", "accuracy")


def optimizer_arguments(name: str) -> dict[str, object]:
    """Scalar constructor arguments (float/int/bool with a default) of optimizer ``name``,
    gathered along the class hierarchy: ``{"learning_rate": 0.001, "beta_1": 0.9, ...}``."""
    cls = optimizers.NAMES[name.lower()]
    args: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        if "__init__" not in vars(klass):
            continue
        for p in inspect.signature(klass.__init__).parameters.values():
            if p.name == "self" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            if isinstance(p.default, (bool, int, float)):
                args[p.name] = p.default
            elif p.default is None:
                args.pop(p.name, None)
    return args


def loss_names() -> list[str]:
    """Each loss once, by its longest (most descriptive) name."""
    best: dict[type, str] = {}
    for name in losses.NAMES:
        cls = type(losses.get(name))
        if cls not in best or len(name) > len(best[cls]):
            best[cls] = name
    return sorted(best.values())


def metric_names() -> list[str]:
    """'accuracy' (Keras picks the kind from the loss), then each metric once, by its shortest
    name."""
    best: dict[type, str] = {}
    for name in metrics.NAMES:
        if name in ("accuracy", "acc"):
            continue
        cls = type(metrics.get(name))
        if cls not in best or len(name) < len(best[cls]):
            best[cls] = name
    return ["accuracy"] + sorted(best.values())


def _float_box(value: float, lo: float = 0.0, hi: float = 1e6) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(7)
    box.setRange(lo, hi)
    box.setValue(float(value))
    step = 10 ** math.floor(math.log10(abs(value))) if value else 0.01
    box.setSingleStep(step)
    return box


class SettingsPanel(QScrollArea):
    """Form for ``project.training``."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.project = None
        self.config = None
        self._loading = False
        self.setWidgetResizable(True)
        inner = QWidget()
        self.setWidget(inner)
        lay = QVBoxLayout(inner)

        opt = QGroupBox("Optimizer", inner)
        self.opt_form = QFormLayout(opt)
        self.optimizer_box = QComboBox(opt)
        self.optimizer_box.addItems(sorted(optimizers.NAMES))
        self.opt_form.addRow("Optimizer", self.optimizer_box)
        self.arg_boxes: dict[str, QWidget] = {}
        lay.addWidget(opt)

        fit = QGroupBox("Training", inner)
        form = QFormLayout(fit)
        self.loss_box = QComboBox(fit)
        self.loss_box.addItems(loss_names())
        # long names (sparse_categorical_crossentropy) elide rather than widen the dock
        self.loss_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.loss_box.setMinimumContentsLength(14)
        form.addRow("Loss", self.loss_box)
        self.metric_checks: dict[str, QCheckBox] = {}
        flow = FlowLayout(spacing=8)           # wraps to the dock's width
        for name in metric_names():
            box = QCheckBox(name, fit)
            self.metric_checks[name] = box
            flow.addWidget(box)
        form.addRow("Metrics", flow)
        self.batch_box = QSpinBox(fit)
        self.batch_box.setRange(1, 1 << 16)
        form.addRow("Batch size", self.batch_box)
        self.epochs_box = QSpinBox(fit)
        self.epochs_box.setRange(1, 100000)
        form.addRow("Epochs", self.epochs_box)
        self.split_box = _float_box(0.1, 0.0, 0.9)
        self.split_box.setDecimals(2)
        self.split_box.setSingleStep(0.05)
        self.split_box.setToolTip("Fraction of the training data held out for validation "
                                  "(the last samples, as in Keras)")
        form.addRow("Validation split", self.split_box)
        self.seed_check = QCheckBox("Fixed seed", fit)
        self.seed_box = QSpinBox(fit)
        self.seed_box.setRange(0, 2**31 - 1)
        seed_row = QGridLayout()
        seed_row.addWidget(self.seed_check, 0, 0)
        seed_row.addWidget(self.seed_box, 0, 1)
        form.addRow("Seed", seed_row)
        lay.addWidget(fit)

        self.es_group, self.es = self._callback_group(
            "Early stopping", inner,
            [("monitor", "val_loss"), ("patience", 3), ("min_delta", 0.0),
             ("restore_best_weights", True)])
        self.lr_group, self.lr = self._callback_group(
            "Reduce learning rate on plateau", inner,
            [("monitor", "val_loss"), ("factor", 0.5), ("patience", 2), ("min_lr", 1e-6)])
        lay.addWidget(self.es_group)
        lay.addWidget(self.lr_group)
        lay.addStretch(1)
        self.hint = QLabel("", inner)
        self.hint.setWordWrap(True)
        lay.addWidget(self.hint)

        self.optimizer_box.currentTextChanged.connect(self._optimizer_chosen)
        self.loss_box.currentTextChanged.connect(lambda _: self._store())
        for box in self.metric_checks.values():
            box.toggled.connect(lambda _: self._store())
        for box in (self.batch_box, self.epochs_box, self.seed_box):
            box.valueChanged.connect(lambda _: self._store())
        self.split_box.valueChanged.connect(lambda _: self._store())
        self.seed_check.toggled.connect(self._seed_toggled)
        self.setEnabled(False)

    def _callback_group(self, title: str, parent: QWidget, fields) -> tuple[QGroupBox, dict]:
        group = QGroupBox(title, parent)
        group.setCheckable(True)
        group.setChecked(False)
        form = QFormLayout(group)
        boxes: dict[str, QWidget] = {}
        for name, default in fields:
            if name == "monitor":
                box = QComboBox(group)
                box.setEditable(True)
                box.addItems(MONITORS)
                box.setCurrentText(default)
                box.currentTextChanged.connect(lambda _: self._store())
            elif isinstance(default, bool):
                box = QCheckBox(group)
                box.setChecked(default)
                box.toggled.connect(lambda _: self._store())
            elif isinstance(default, int):
                box = QSpinBox(group)
                box.setRange(0, 10000)
                box.setValue(default)
                box.valueChanged.connect(lambda _: self._store())
            else:
                box = _float_box(default, 0.0, 1e3)
                box.valueChanged.connect(lambda _: self._store())
            boxes[name] = box
            form.addRow(name.replace("_", " ").capitalize(), box)
        group.toggled.connect(lambda _: self._store())
        return group, boxes

    # ------------------------------------------------------------ project <-> form
    def set_project(self, project) -> None:
        self.project = project
        self.config = getattr(project, "training", None)
        self.setEnabled(self.config is not None)
        self.sync_from_project()

    def sync_from_project(self) -> None:
        """Show ``project.training`` (after another panel changed it)."""
        cfg = self.config
        if cfg is None:
            return
        self._loading = True
        try:
            name = str(cfg.optimizer).lower()
            if self.optimizer_box.findText(name) < 0:
                self.optimizer_box.addItem(name)
            self.optimizer_box.setCurrentText(name)
            self._rebuild_args(name, dict(cfg.optimizer_args or {}))
            if self.loss_box.findText(cfg.loss) < 0:
                self.loss_box.addItem(cfg.loss)
            self.loss_box.setCurrentText(cfg.loss)
            chosen = set(cfg.metrics or [])
            for name, box in self.metric_checks.items():
                box.setChecked(name in chosen)
            self.batch_box.setValue(int(cfg.batch_size))
            self.epochs_box.setValue(int(cfg.epochs))
            self.split_box.setValue(float(cfg.validation_split or 0.0))
            self.seed_check.setChecked(cfg.seed is not None)
            self.seed_box.setEnabled(cfg.seed is not None)
            if cfg.seed is not None:
                self.seed_box.setValue(int(cfg.seed))
            self._load_group(self.es_group, self.es, cfg.early_stopping)
            self._load_group(self.lr_group, self.lr, cfg.reduce_lr)
        finally:
            self._loading = False
        self._update_hint()

    @staticmethod
    def _load_group(group: QGroupBox, boxes: dict, values: dict | None) -> None:
        group.setChecked(values is not None)
        for k, v in (values or {}).items():
            box = boxes.get(k)
            if isinstance(box, QComboBox):
                box.setCurrentText(str(v))
            elif isinstance(box, QCheckBox):
                box.setChecked(bool(v))
            elif isinstance(box, (QSpinBox, QDoubleSpinBox)):
                box.setValue(v)

    def _rebuild_args(self, name: str, values: dict) -> None:
        for box in self.arg_boxes.values():
            self.opt_form.removeRow(box)
        self.arg_boxes = {}
        if name not in optimizers.NAMES:
            return
        for arg, default in optimizer_arguments(name).items():
            value = values.get(arg, default)
            if isinstance(default, bool):
                box = QCheckBox()
                box.setChecked(bool(value))
                box.toggled.connect(lambda _: self._store())
            else:
                box = _float_box(float(value), 0.0, 1e6)
                box.valueChanged.connect(lambda _: self._store())
            self.arg_boxes[arg] = box
            self.opt_form.addRow(arg.replace("_", " "), box)

    def _optimizer_chosen(self, name: str) -> None:
        if self._loading:
            return
        self._rebuild_args(name, {})
        self._store()

    def _seed_toggled(self, on: bool) -> None:
        self.seed_box.setEnabled(on)
        self._store()

    def _store(self) -> None:
        """Write the form into ``project.training``."""
        cfg = self.config
        if self._loading or cfg is None:
            return
        name = self.optimizer_box.currentText()
        defaults = optimizer_arguments(name) if name in optimizers.NAMES else {}
        args = {}
        for arg, box in self.arg_boxes.items():
            v = box.isChecked() if isinstance(box, QCheckBox) else box.value()
            if v != defaults.get(arg):            # keep only what differs from Keras's default
                args[arg] = v
        cfg.optimizer = name
        cfg.optimizer_args = args
        cfg.loss = self.loss_box.currentText()
        cfg.metrics = [n for n, b in self.metric_checks.items() if b.isChecked()]
        cfg.batch_size = self.batch_box.value()
        cfg.epochs = self.epochs_box.value()
        cfg.validation_split = round(self.split_box.value(), 4)
        cfg.seed = self.seed_box.value() if self.seed_check.isChecked() else None
        cfg.early_stopping = self._group_values(self.es_group, self.es)
        cfg.reduce_lr = self._group_values(self.lr_group, self.lr)
        self._update_hint()
        self.changed.emit()

    @staticmethod
    def _group_values(group: QGroupBox, boxes: dict) -> dict | None:
        if not group.isChecked():
            return None
        out = {}
        for k, box in boxes.items():
            if isinstance(box, QComboBox):
                out[k] = box.currentText()
            elif isinstance(box, QCheckBox):
                out[k] = box.isChecked()
            else:
                out[k] = box.value()
        return out

    def _update_hint(self) -> None:
        cfg = self.config
        uses_val = any(g is not None and str(g.get("monitor", "")).startswith("val_")
                       for g in (cfg.early_stopping, cfg.reduce_lr))
        self.hint.setText("Monitoring a val_ quantity needs a validation split above 0."
                          if uses_val and not cfg.validation_split else "")
