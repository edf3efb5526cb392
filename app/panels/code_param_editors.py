"""Inspector editors for parameters that are code: a Custom layer's source (kind ``code``) and a
Lambda's function (kind ``function``, edited as one expression of ``x``).

Both commit what is typed after a short pause (and at once on leaving the field or on
Ctrl+Enter), so the node's shape and errors follow the typing; consecutive commits merge into
one undo step (SetParamCommand). Syntax is checked right away in the editor with ``ast`` —
parsing runs nothing —; errors from running the code come back from shape inference and are
marked by the inspector (:meth:`CodeParamEditor.mark_error`).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.panels.code_editor import CodeEditor
from app.panels.param_editors import ParamEditor
from engine.registry import Param
from engine.saving.layer_source import CodeError, expression_of, lambda_source, parse_layer_source
from engine.saving.python_code import source_of

COMMIT_DELAY_MS = 600


class _Editor(CodeEditor):
    """A CodeEditor that reports Ctrl+Enter (commit now) and, single-line, Enter."""

    def __init__(self, owner: CodeParamEditor, lines: int, single_line: bool):
        super().__init__(owner, lines=lines, line_numbers=not single_line)
        self.owner = owner
        self.single_line = single_line

    def keyPressEvent(self, event: QKeyEvent) -> None:
        enter = event.key() in (Qt.Key_Return, Qt.Key_Enter)
        if enter and (self.single_line or event.modifiers() & Qt.ControlModifier):
            self.owner.commit_now()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.owner.commit_now()


class CodeParamEditor(ParamEditor):
    """A Custom layer's class body in a code editor, with a line under it for the syntax
    state (or the error of the last run)."""

    single_line = False
    lines = 16

    def __init__(self, param: Param, where: str = "", parent=None):
        super().__init__(param, parent)
        self.where = where
        box = QWidget(self)
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(3)
        self.editor = _Editor(self, self.lines, self.single_line)
        self.status = QLabel(box)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        col.addWidget(self.editor, 1)
        col.addWidget(self.status)
        self.layout_.addWidget(box)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COMMIT_DELAY_MS)
        self._timer.timeout.connect(self.commit_now)
        self.editor.edited.connect(self._edited)
        self._shown: str | None = None
        self._run_error: tuple[int | None, str] | None = None

    # ------------------------------------------------------------------ value
    def _show(self, value) -> None:
        self._timer.stop()
        text = self.text_of(value)
        self._shown = text
        self.editor.set_code(text)
        self._check_syntax()

    def text_of(self, value) -> str:
        return value if isinstance(value, str) else ""

    def value_of(self, text: str):
        return text

    def _edited(self) -> None:
        self._check_syntax()
        self._timer.start()

    def commit_now(self) -> None:
        self._timer.stop()
        text = self.editor.code()
        if text != self._shown:
            self._shown = text
            self._commit(self.value_of(text))

    def pending(self) -> bool:
        """Typed text not committed yet (the pause has not passed)."""
        return self._timer.isActive()

    # ------------------------------------------------------------------ errors
    def syntax_error(self, text: str) -> CodeError | None:
        try:
            parse_layer_source(text, self.where)
        except CodeError as e:
            return e
        return None

    def _check_syntax(self) -> None:
        error = self.syntax_error(self.editor.code())
        if error is not None:
            self.editor.mark_error(error.line, str(error))
            self._say(str(error), bad=True)
        elif self._run_error is not None:
            self.mark_error(*self._run_error)
        else:
            self.editor.mark_error(None)
            self._say("")

    def mark_error(self, line: int | None, message: str | None) -> None:
        """The error of running the committed code (None: it ran), from shape inference."""
        self._run_error = (line, message) if message else None
        if self.syntax_error(self.editor.code()) is not None:
            return                                   # the syntax error shows instead
        self.editor.mark_error(line, message or "")
        self._say(message or "", bad=bool(message))

    def _say(self, text: str, bad: bool = False) -> None:
        self.status.setText(f"⚠ {text}" if text else "")
        self.status.setStyleSheet("color: #d93636" if bad else "")
        self.status.setVisible(bool(text))


class ExpressionEditor(CodeParamEditor):
    """A Lambda's function as one expression of ``x`` (``x * 2``); stored as the source
    ``lambda x: x * 2``. A ``lambda`` typed whole is kept as it is."""

    single_line = True
    lines = 2

    def text_of(self, value) -> str:
        return expression_of(source_of(value))

    def value_of(self, text: str):
        try:
            return lambda_source(text, self.where)
        except CodeError:                  # committed anyway: the node shows the error
            return f"lambda x: {text.strip()}"

    def syntax_error(self, text: str) -> CodeError | None:
        try:
            lambda_source(text, self.where)
        except CodeError as e:
            return e
        return None
