"""Inspector editors for parameters that are code: a Custom layer's source (kind ``code``) and a
Lambda's function (kind ``function``, edited as one expression of ``x``).

Both commit what is typed after a short pause (and at once on leaving the field or on
Ctrl+Enter), so the node's shape and errors follow the typing; consecutive commits merge into
one undo step (SetParamCommand). Syntax is checked right away in the editor with ``ast`` —
parsing runs nothing —; errors from running the code come back from shape inference and are
marked by the inspector (:meth:`CodeParamEditor.mark_error`). The inspector is narrow: 'Open
in a window' shows the same text (one QTextDocument, two views) in a large editor.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

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
        if self.owner.released:
            return
        enter = event.key() in (Qt.Key_Return, Qt.Key_Enter)
        if enter and (self.single_line or event.modifiers() & Qt.ControlModifier):
            self.owner.commit_now()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        if not self.owner.released:
            self.owner.commit_now()


class CodeParamEditor(ParamEditor):
    """A Custom layer's class body in a code editor, with a line under it for the syntax
    state (or the error of the last run)."""

    single_line = False
    lines = 8           # its size hint; it stretches to the room the inspector has

    def __init__(self, param: Param, where: str = "", parent=None):
        super().__init__(param, parent)
        self.where = where
        box = QWidget(self)
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(3)
        self.window_: QDialog | None = None          # the large editor, once opened
        if not self.single_line:                      # title, help and the large-window button
            row = QHBoxLayout()
            title = QLabel(f"<b>{param.name}</b> <span style='color:gray'>— {param.help}</span>")
            title.setWordWrap(True)
            self.open_button = QToolButton(box)
            self.open_button.setText("Open in a window")
            self.open_button.setToolTip("Edit this code in a large window (the same text)")
            self.open_button.clicked.connect(self.open_window)
            row.addWidget(title, 1)
            row.addWidget(self.open_button, 0, Qt.AlignTop)
            col.addLayout(row)
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
        self.released = False         # the inspector let go of this form: commit no more

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

    def release(self, commit: bool) -> None:
        """The form is going away: commit what was typed (``commit``), then never again."""
        if commit and not self.released:
            self.commit_now()
        self._timer.stop()
        self.released = True
        if self.window_ is not None:
            self.window_.close()

    def commit_now(self) -> None:
        if self.released:
            return
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
        for label in self._labels():
            label.setText(f"⚠ {text}" if text else "")
            label.setStyleSheet("color: #d93636" if bad else "")
            label.setVisible(bool(text))
        if self.window_ is not None:
            self.window_.editor.mark_error(self.editor.error_line, self.editor.error_message)

    def _labels(self) -> list[QLabel]:
        return [self.status] + ([self.window_.status] if self.window_ is not None else [])

    # ------------------------------------------------------------------ large window
    def open_window(self) -> QDialog:
        """A large editor on the same text (edits in either commit the same way)."""
        if self.window_ is None:
            # a child of this editor, and owner of the shared text: whatever is deleted first,
            # no view is left with a deleted document
            dialog = QDialog(self)
            dialog.setWindowTitle(f"{self.where} — {self.param.name}")
            dialog.resize(820, 620)
            col = QVBoxLayout(dialog)
            dialog.editor = _Editor(self, 30, single_line=False)
            dialog.editor.setDocument(self.editor.document())   # one text, two views
            self.editor.document().setParent(dialog)
            dialog.editor.edited.connect(self._edited)
            dialog.status = QLabel(dialog)
            dialog.status.setWordWrap(True)
            dialog.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
            col.addWidget(dialog.editor, 1)
            col.addWidget(dialog.status)
            self.window_ = dialog
            self._check_syntax()
        self.window_.show()
        self.window_.raise_()
        return self.window_


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
