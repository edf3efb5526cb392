"""One editor widget per registry parameter kind, for the inspector form.

Every editor shows a value in its JSON form (as the document stores it), emits ``committed``
with the value the user settled on, and can show a validation error (red frame + tooltip).
Text editors validate as the user types with the same ``registry.coerce`` the document uses.
"""
from __future__ import annotations

import json
from functools import cache
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from engine.registry import Param, coerce

INT_LIMIT = 2**31 - 2
NONE_TEXT = "none"

# Names offered in the combos; only those the engine accepts are shown.
ACTIVATIONS = ("linear", "relu", "sigmoid", "softmax", "tanh", "elu", "selu", "gelu", "swish",
               "silu", "softplus", "softsign", "leaky_relu", "relu6", "hard_sigmoid",
               "exponential", "mish", "log_softmax")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
                "lecun_normal", "zeros", "ones", "random_normal", "random_uniform",
                "truncated_normal", "orthogonal", "identity", "variance_scaling")
CONSTRAINTS = ("max_norm", "non_neg", "unit_norm", "min_max_norm")
REGULARIZERS = ("l1", "l2", "l1_l2")
DTYPES = ("float32", "float64", "int32", "int64", "uint8", "bool")


@cache
def accepted_names(kind: str) -> tuple[str, ...]:
    """The candidate names of ``kind`` (activation, initializer …) the engine knows."""
    import importlib
    candidates = {"activation": ACTIVATIONS, "initializer": INITIALIZERS,
                  "constraint": CONSTRAINTS, "regularizer": REGULARIZERS}[kind]
    module = importlib.import_module(f"engine.{kind}s")
    names = []
    for name in candidates:
        try:
            module.get(name)
        except (ValueError, TypeError, KeyError):
            continue
        names.append(name)
    return tuple(names)


def config_name(kind: str, name: str) -> str:
    """The ``class_name`` the engine serializes ``name`` to (to match stored dicts)."""
    import importlib
    obj = importlib.import_module(f"engine.{kind}s").get(name)
    cfg = obj.get_config_dict() if hasattr(obj, "get_config_dict") else {}
    return str(cfg.get("class_name", name))


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class ParamEditor(QWidget):
    """Base: a row widget for one parameter."""

    committed = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None):
        super().__init__(parent)
        self.param = param
        self._loading = False
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(4)
        self.setToolTip(param.help)

    def set_value(self, value: Any) -> None:
        self._loading = True
        try:
            self._show(value)
        finally:
            self._loading = False
        self.show_error(None)

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def _commit(self, value: Any) -> None:
        if not self._loading:
            self.committed.emit(value)

    def show_error(self, message: str | None) -> None:
        self.setProperty("invalid", bool(message))
        for child in self.findChildren(QWidget):
            child.setProperty("invalid", bool(message))
            child.style().unpolish(child)
            child.style().polish(child)
        self.setToolTip(f"⚠ {message}" if message else self.param.help)


class IntSpin(QSpinBox):
    """A spin box whose arrows stay within the parameter's range but which takes any integer
    typed, so that a value out of range reaches the document and is refused with its reason
    (typing 0 for ``units`` must not silently become 1 — or "unset"). The lowest value,
    ``UNSET``, stands for None and shows ``unset_text``; arrows reach it only when None is a
    choice of its own (``unset_steppable``)."""

    UNSET = -INT_LIMIT - 1

    def __init__(self, lo: int, hi: int, unset_text: str | None, unset_steppable: bool,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.lo, self.hi = lo, hi
        self.unset_steppable = unset_steppable and unset_text is not None
        self.setRange(self.UNSET if unset_text is not None else -INT_LIMIT, INT_LIMIT)
        if unset_text is not None:
            self.setSpecialValueText(unset_text)
        self.setKeyboardTracking(False)

    def stepBy(self, steps: int) -> None:
        v = self.value()
        if v == self.UNSET:
            target = self.lo if steps > 0 else self.UNSET
        else:
            target = min(max(v, self.lo) + steps, self.hi)
            if target < self.lo:
                target = self.UNSET if self.unset_steppable else self.lo
        self.setValue(target)

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabled:
        v = self.value()
        up = v == self.UNSET or v < self.hi
        down = v != self.UNSET and (v > self.lo or self.unset_steppable)
        flags = QAbstractSpinBox.StepEnabledFlag.StepNone
        if up:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        if down:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        return flags

    def set_number(self, value: int | None) -> None:
        self.setValue(self.UNSET if value is None else int(value))

    def number(self) -> int | None:
        v = self.value()
        return None if v == self.UNSET else int(v)


def _bounds(param: Param) -> tuple[int, int]:
    return (int(param.min) if param.min is not None else -INT_LIMIT,
            int(param.max) if param.max is not None else INT_LIMIT)


class IntEditor(ParamEditor):
    """Spin box stepping within the parameter's range. None shows as ``none`` for an optional
    int (one step below the range) and as ``?`` for a required one that is still unset."""

    def __init__(self, param: Param, parent=None):
        super().__init__(param, parent)
        lo, hi = _bounds(param)
        required = param.default is None and not param.optional
        unset = "?" if required else NONE_TEXT if param.optional else None
        self.spin = IntSpin(lo, hi, unset, unset_steppable=not required, parent=self)
        self.spin.setAccelerated(True)
        self.spin.setMinimumWidth(60)
        self.layout_.addWidget(self.spin)
        self.spin.valueChanged.connect(lambda _v: self._commit(self.spin.number()))

    def _show(self, value) -> None:
        self.spin.set_number(value)


class FloatSpin(QDoubleSpinBox):
    """A double spin box that prints ``0.001`` and ``1e-07`` rather than ``0.001000``."""

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        from PySide6.QtGui import QValidator
        try:
            v = float(text)
        except ValueError:
            return QValidator.Intermediate, text, pos
        ok = self.minimum() <= v <= self.maximum()
        return (QValidator.Acceptable if ok else QValidator.Intermediate), text, pos


class FloatEditor(ParamEditor):
    def __init__(self, param: Param, parent=None):
        super().__init__(param, parent)
        self.spin = FloatSpin(self)
        self.spin.setDecimals(10)
        lo = param.min if param.min is not None else -1e12
        hi = param.max if param.max is not None else 1e12
        self.spin.setRange(lo, hi)
        self.spin.setSingleStep(0.05 if (hi - lo) <= 1.0 else 0.1)
        self.spin.setKeyboardTracking(False)
        self.spin.setMinimumWidth(60)
        self.layout_.addWidget(self.spin)
        self.spin.valueChanged.connect(lambda v: self._commit(float(v)))

    def _show(self, value) -> None:
        self.spin.setValue(float(value or 0.0))


class BoolEditor(ParamEditor):
    def __init__(self, param: Param, parent=None):
        super().__init__(param, parent)
        self.box = QCheckBox(self)
        self.layout_.addWidget(self.box)
        self.box.toggled.connect(lambda on: self._commit(bool(on)))

    def _show(self, value) -> None:
        self.box.setChecked(bool(value))


class ComboEditor(ParamEditor):
    """A fixed list of values; ``labels`` are shown, ``values`` committed."""

    def __init__(self, param: Param, values: list, labels: list[str] | None = None,
                 parent=None):
        super().__init__(param, parent)
        self.values = list(values)
        self.combo = QComboBox(self)
        self.combo.addItems(labels or [NONE_TEXT if v is None else str(v) for v in values])
        self.layout_.addWidget(self.combo)
        self.combo.activated.connect(lambda i: self._commit(self.values[i]))

    def _index_of(self, value) -> int:
        for i, v in enumerate(self.values):
            if v == value or (isinstance(v, str) and isinstance(value, str)
                              and v.lower() == value.lower()):
                return i
        return -1

    def _show(self, value) -> None:
        i = self._index_of(value)
        if i < 0:        # a value from an imported file that the list lacks: show it anyway
            self.values.append(value)
            self.combo.addItem(str(value))
            i = len(self.values) - 1
        self.combo.setCurrentIndex(i)


class NamedObjectEditor(ComboEditor):
    """Activation / initializer / constraint by name; stored dicts are matched by class name."""

    def __init__(self, param: Param, parent=None):
        names = list(accepted_names(param.kind))
        values: list = ([None] if param.optional and param.kind != "activation" else []) + names
        super().__init__(param, values, parent=parent)
        self._by_class = {}
        for name in names:
            self._by_class[config_name(param.kind, name).lower()] = name
            self._by_class[_snake(config_name(param.kind, name))] = name

    def _show(self, value) -> None:
        if self.param.kind == "activation" and value is None:
            value = "linear"
        if isinstance(value, dict):
            cls = str(value.get("class_name", ""))
            value = self._by_class.get(cls.lower(), self._by_class.get(_snake(cls), value))
        super()._show(value)


class TupleEditor(ParamEditor):
    """``length`` spin boxes for kernel sizes, strides, pool sizes. Optional ones can be
    switched to ``auto`` (None); a required one that is still unset shows ``?``, and the first
    number typed fills the other boxes too (square kernels are the usual case)."""

    def __init__(self, param: Param, parent=None):
        super().__init__(param, parent)
        n = param.length or 1
        lo, hi = _bounds(param)
        required = not param.optional and param.default is None
        self.spins: list[IntSpin] = []
        self.auto = None
        if param.optional:
            self.auto = QCheckBox("auto", self)
            self.auto.setToolTip("Leave empty (None): the layer picks its default")
            self.layout_.addWidget(self.auto)
            self.auto.toggled.connect(self._auto_toggled)
        for _ in range(n):
            spin = IntSpin(lo, hi, "?" if required else None, unset_steppable=False,
                           parent=self)
            spin.setMinimumWidth(48)
            spin.valueChanged.connect(lambda _v: self._commit(self.current()))
            self.layout_.addWidget(spin, 1)
            self.spins.append(spin)

    def current(self):
        if self.auto is not None and self.auto.isChecked():
            return None
        values = [s.number() for s in self.spins]
        known = [v for v in values if v is not None]
        if not known:
            return None
        return [known[0] if v is None else v for v in values]

    def _auto_toggled(self, on: bool) -> None:
        for s in self.spins:
            s.setEnabled(not on)
        self._commit(self.current())

    def _show(self, value) -> None:
        if self.auto is not None:
            self.auto.setChecked(value is None)
            for s in self.spins:
                s.setEnabled(value is not None)
        if value is None:
            for s in self.spins:
                s.set_number(None if s.specialValueText() else s.lo)
            return
        values = [value] * len(self.spins) if isinstance(value, int) else list(value)
        for s, v in zip(self.spins, values):
            s.set_number(int(v))


def parse_text(kind: str, text: str) -> Any:
    """Text typed into a line editor → a value for ``coerce`` (raises ValueError)."""
    text = text.strip()
    if text == "" or text.lower() in ("none", "null"):
        return None
    if kind in ("shape", "axis", "ints"):
        parts = [t.strip() for t in text.strip("()[]").split(",") if t.strip()]
        values = []
        for t in parts:
            if t.lower() in ("none", "?"):
                values.append(None)
            else:
                try:
                    values.append(int(t))
                except ValueError:
                    raise ValueError(f"'{t}' is not a whole number") from None
        if kind == "axis" and len(values) == 1 and "," not in text:
            return values[0]
        return values
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind in ("layer", "regularizer", "initializer", "constraint") and text[:1] in "{[":
        return json.loads(text)
    return text


def format_text(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind in ("shape", "axis", "ints") and isinstance(value, (list, tuple)):
        return ", ".join("None" if v is None else str(v) for v in value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class TextEditor(ParamEditor):
    """A line editor validated while typing; Enter or leaving the field commits a valid value."""

    def __init__(self, param: Param, where: str = "", parent=None):
        super().__init__(param, parent)
        self.where = where
        self.line = QLineEdit(self)
        self.line.setPlaceholderText(
            {"shape": "e.g. 28, 28, 1", "axis": "e.g. -1"}.get(param.kind, NONE_TEXT
                                                              if param.optional else ""))
        self.layout_.addWidget(self.line)
        self.line.textEdited.connect(self.check)
        self.line.editingFinished.connect(self._finish)
        self._shown: Any = None

    def check(self, text: str | None = None) -> tuple[bool, Any]:
        """Validate the text (as typed); returns (ok, value) and shows the reason if not ok."""
        text = self.line.text() if text is None else text
        try:
            value = parse_text(self.param.kind, text)
            coerce(self.where or self.param.name, self.param, value)
        except (ValueError, TypeError, json.JSONDecodeError) as e:
            self.show_error(str(e))
            return False, None
        self.show_error(None)
        return True, value

    def _finish(self) -> None:
        ok, value = self.check()
        if ok and value != self._shown:
            self._shown = value
            self._commit(value)

    def _show(self, value) -> None:
        self._shown = value
        self.line.setText(format_text(self.param.kind, value))


class RegularizerEditor(ParamEditor):
    """None / l1 / l2 / l1_l2 with its factor."""

    def __init__(self, param: Param, parent=None):
        super().__init__(param, parent)
        self.names = [None] + list(accepted_names("regularizer"))
        self.combo = QComboBox(self)
        self.combo.addItems([NONE_TEXT if n is None else n for n in self.names])
        self.factor = FloatSpin(self)
        self.factor.setDecimals(10)
        self.factor.setRange(0.0, 1e6)
        self.factor.setSingleStep(0.001)
        self.factor.setKeyboardTracking(False)
        self.factor.setMinimumWidth(60)
        self.factor.setToolTip("Penalty factor (for l1_l2 both factors)")
        self.layout_.addWidget(self.combo, 1)
        self.layout_.addWidget(self.factor, 1)
        self.combo.activated.connect(lambda _i: self._commit(self.current()))
        self.factor.valueChanged.connect(lambda _v: self._commit(self.current()))

    def current(self):
        name = self.names[self.combo.currentIndex()]
        self.factor.setEnabled(name is not None)
        if name is None:
            return None
        f = self.factor.value()
        config = {"l1": f, "l2": f} if name == "l1_l2" else {name: f}
        return {"class_name": config_name("regularizer", name), "config": config}

    def _show(self, value) -> None:
        name, factor = None, 0.01
        if isinstance(value, str):
            name = value
        elif isinstance(value, dict):
            cfg = value.get("config") or {}
            keys = {k for k in ("l1", "l2") if cfg.get(k)}
            name = "l1_l2" if keys == {"l1", "l2"} else (keys.pop() if keys else None)
            factor = float(cfg.get(name if name in ("l1", "l2") else "l2", factor) or factor)
        i = self.names.index(name) if name in self.names else 0
        self.combo.setCurrentIndex(i)
        self.factor.setValue(factor)
        self.factor.setEnabled(self.names[i] is not None)


def make_editor(param: Param, where: str = "") -> ParamEditor:
    """The editor widget for ``param`` according to its kind."""
    k = param.kind
    if k == "int" and (param.min is not None or not param.optional):
        return IntEditor(param)
    if k == "float" and not param.optional:
        return FloatEditor(param)
    if k == "bool":
        return BoolEditor(param)
    if k == "choice":
        values = list(param.choices)
        if param.optional and None not in values:
            values = [None] + values
        return ComboEditor(param, values)
    if k == "ints" and (param.length or 1) <= 3:
        return TupleEditor(param)
    if k in ("activation", "initializer", "constraint"):
        return NamedObjectEditor(param)
    if k == "regularizer":
        return RegularizerEditor(param)
    if k == "dtype":
        return ComboEditor(param, list(DTYPES))
    return TextEditor(param, where)
