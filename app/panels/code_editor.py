"""A small Python code editor for the inspector (a Custom layer's source, a Lambda's expression).

QPlainTextEdit with a monospace font, line numbers in a gutter, Python syntax highlighting
(:class:`PythonHighlighter`, a QSyntaxHighlighter), Tab = 4 spaces (Shift+Tab takes them back,
also over a selection of lines), Enter keeps the indentation (one level more after ``:``), and
:meth:`CodeEditor.mark_error` paints the line an error is on, with the message as its tooltip.
No dependency beyond Qt.
"""
from __future__ import annotations

import keyword
import re

from PySide6.QtCore import QRect, QRegularExpression, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QKeyEvent,
    QPainter,
    QPalette,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QToolTip, QWidget

INDENT = "    "
BUILTINS = ("self", "None", "True", "False", "ops", "keras", "layers", "np", "math", "len",
            "range", "print", "int", "float", "tuple", "list", "dict", "super", "isinstance")
COLORS = {  # (light, dark)
    "keyword": ("#0b4fa8", "#7aa8ff"), "builtin": ("#7a3e9d", "#d09cf0"),
    "string": ("#2e7d32", "#8fd18f"), "number": ("#b35c00", "#f0a060"),
    "comment": ("#7a8290", "#8e96a3"), "def": ("#0a6f73", "#5fd0c9"),
    "error_line": ("#ffe3e3", "#5a2326"), "gutter": ("#f1f3f6", "#23262c"),
    "gutter_text": ("#8a93a1", "#7b8492"), "gutter_error": ("#d93636", "#ff5a5a"),
}


def monospace_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.FixedFont)
    font.setStyleHint(QFont.Monospace)
    font.setPointSizeF(max(font.pointSizeF(), 9.5))
    return font


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, well-known names (``ops``, ``self`` ...), numbers, strings (also triple-quoted
    over several lines), comments, and the names after ``def``/``class``."""

    def __init__(self, document, dark: bool = False):
        super().__init__(document)
        self.set_dark(dark)

    def set_dark(self, dark: bool) -> None:
        def fmt(kind: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
            f = QTextCharFormat()
            f.setForeground(QColor(COLORS[kind][1 if dark else 0]))
            if bold:
                f.setFontWeight(QFont.Bold)
            f.setFontItalic(italic)
            return f
        words = "|".join(keyword.kwlist)
        self.rules = [
            (QRegularExpression(rf"\b({words})\b"), fmt("keyword", bold=True)),
            (QRegularExpression(rf"\b({'|'.join(BUILTINS)})\b"), fmt("builtin")),
            (QRegularExpression(r"\b(0[xob][0-9a-fA-F_]+|\d[\d_]*\.?\d*(e[-+]?\d+)?j?)\b"),
             fmt("number")),
            (QRegularExpression(r"(?<=\bdef\s)\w+|(?<=\bclass\s)\w+"), fmt("def", bold=True)),
        ]
        self.string_format = fmt("string")
        self.comment_format = fmt("comment", italic=True)
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        for pattern, f in self.rules:
            it = pattern.globalMatch(text)
            while it.hasNext():
                m = it.next()
                self.setFormat(m.capturedStart(), m.capturedLength(), f)
        self._strings_and_comments(text)

    def _strings_and_comments(self, text: str) -> None:
        """One left-to-right scan, so a ``#`` inside a string is no comment and quotes inside a
        comment open no string; block state 1/2 = inside a ''' / \"\"\" string."""
        i, n = 0, len(text)
        state = self.previousBlockState()
        if state in (1, 2):
            quote = "'''" if state == 1 else '"""'
            end = text.find(quote)
            if end < 0:
                self.setFormat(0, n, self.string_format)
                self.setCurrentBlockState(state)
                return
            self.setFormat(0, end + 3, self.string_format)
            i = end + 3
        self.setCurrentBlockState(0)
        while i < n:
            c = text[i]
            if c == "#":
                self.setFormat(i, n - i, self.comment_format)
                return
            if c in "'\"":
                triple = text[i:i + 3] if text[i:i + 3] in ("'''", '"""') else None
                if triple:
                    end = text.find(triple, i + 3)
                    if end < 0:
                        self.setFormat(i, n - i, self.string_format)
                        self.setCurrentBlockState(1 if triple == "'''" else 2)
                        return
                    self.setFormat(i, end + 3 - i, self.string_format)
                    i = end + 3
                    continue
                j = i + 1
                while j < n and text[j] != c:
                    j += 2 if text[j] == "\\" else 1
                self.setFormat(i, min(j + 1, n) - i, self.string_format)
                i = j + 1
                continue
            i += 1


class _Gutter(QWidget):
    def __init__(self, editor: CodeEditor):
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event) -> None:
        self.editor.paint_gutter(event)


class CodeEditor(QPlainTextEdit):
    """The editor; ``edited`` is emitted on every change the user makes (not on set_code)."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None, lines: int = 14,
                 line_numbers: bool = True):
        super().__init__(parent)
        self.line_numbers = line_numbers
        self.setFont(monospace_font())
        self.setLineWrapMode(QPlainTextEdit.NoWrap if line_numbers
                             else QPlainTextEdit.WidgetWidth)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * 4)
        self.gutter = _Gutter(self)
        self.error_line: int | None = None
        self.error_message = ""
        self._line_to_show: int | None = None
        self._setting = False
        self.highlighter = PythonHighlighter(self.document(), self._dark())
        self.blockCountChanged.connect(self._update_gutter_width)
        self.updateRequest.connect(self._update_gutter)
        self.textChanged.connect(self._changed)
        self.verticalScrollBar().rangeChanged.connect(self._range_changed)
        self._update_gutter_width()
        self.setMinimumHeight(self.fontMetrics().lineSpacing() * min(lines, 4) + 12)
        self._lines = lines

    def sizeHint(self) -> QSize:
        return QSize(320, self.fontMetrics().lineSpacing() * self._lines + 12)

    # ------------------------------------------------------------------ content
    def code(self) -> str:
        return self.toPlainText()

    def set_code(self, text: str) -> None:
        """Show ``text`` (the cursor stays where it was when the text is the same)."""
        if text == self.toPlainText():
            return
        self._setting = True
        try:
            self.setPlainText(text)
        finally:
            self._setting = False

    def _changed(self) -> None:
        if not self._setting:
            self.edited.emit()

    # ------------------------------------------------------------------ errors
    def mark_error(self, line: int | None, message: str = "") -> None:
        """Paint ``line`` (1-based) as the one an error is on; None clears the mark."""
        if line is not None and not 1 <= line <= self.blockCount():
            line = None
        self.error_line, self.error_message = line, message if line else ""
        selections = []
        if line is not None:
            sel = QTextEdit.ExtraSelection()
            sel.format.setBackground(QColor(COLORS["error_line"][1 if self._dark() else 0]))
            sel.format.setProperty(QTextFormat.FullWidthSelection, True)
            sel.cursor = QTextCursor(self.document().findBlockByNumber(line - 1))
            sel.cursor.clearSelection()
            selections.append(sel)
        self.setExtraSelections(selections)
        self.gutter.update()
        if line is not None and not self.hasFocus():
            self.show_line(line)

    def show_line(self, line: int) -> None:
        """Scroll so that ``line`` is in view (the cursor stays where it is); before the
        editor is laid out, once it is."""
        self._line_to_show = line
        bar = self.verticalScrollBar()
        shown = self.viewport().height() // self.fontMetrics().lineSpacing()
        want = max(0, line - max(1, shown) // 2)
        if shown < 1 or bar.maximum() + shown < self.blockCount():
            return                              # not laid out yet: when it is
        self._line_to_show = None
        if not bar.value() < line <= bar.value() + shown - 1:
            bar.setValue(min(want, bar.maximum()))

    def _range_changed(self, _lo: int, _hi: int) -> None:
        if self._line_to_show is not None:
            self.show_line(self._line_to_show)

    def event(self, event) -> bool:
        if event.type() == event.Type.ToolTip and self.error_line is not None:
            cursor = self.cursorForPosition(event.pos() - self.viewport().pos())
            if cursor.blockNumber() + 1 == self.error_line:
                QToolTip.showText(event.globalPos(), self.error_message, self)
                return True
        return super().event(event)

    # ------------------------------------------------------------------ keys
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key_Tab and not event.modifiers() & Qt.ControlModifier:
            if self.textCursor().hasSelection():
                self._shift_lines(+1)
            else:
                self.insertPlainText(INDENT)
            return
        if key == Qt.Key_Backtab:
            self._shift_lines(-1)
            return
        if key in (Qt.Key_Return, Qt.Key_Enter) and not event.modifiers() & (
                Qt.ControlModifier | Qt.ShiftModifier):
            line = self.textCursor().block().text()[:self.textCursor().positionInBlock()]
            indent = re.match(r"[ \t]*", line).group(0)
            if line.rstrip().endswith(":"):
                indent += INDENT
            self.insertPlainText("\n" + indent)
            return
        if key == Qt.Key_Backspace and not self.textCursor().hasSelection():
            cursor = self.textCursor()
            before = cursor.block().text()[:cursor.positionInBlock()]
            if before and before.strip() == "" and len(before) % 4 == 0:
                for _ in range(4):
                    cursor.deletePreviousChar()
                return
        super().keyPressEvent(event)

    def _shift_lines(self, direction: int) -> None:
        """Indent (+1) or dedent (-1) every line the cursor or selection touches."""
        cursor = self.textCursor()
        doc = self.document()
        first = doc.findBlock(cursor.selectionStart()).blockNumber()
        last = doc.findBlock(max(cursor.selectionEnd() - (1 if cursor.hasSelection() else 0),
                                 cursor.selectionStart())).blockNumber()
        edit = QTextCursor(doc)
        edit.beginEditBlock()
        for number in range(first, last + 1):
            block = doc.findBlockByNumber(number)
            edit.setPosition(block.position())
            if direction > 0:
                edit.insertText(INDENT)
            else:
                spaces = len(block.text()) - len(block.text().lstrip(" "))
                for _ in range(min(4, spaces)):
                    edit.deleteChar()
        edit.endEditBlock()

    # ------------------------------------------------------------------ gutter
    def _dark(self) -> bool:
        return self.palette().color(QPalette.Base).lightness() < 128

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            self.highlighter.set_dark(self._dark())
            self.mark_error(self.error_line, self.error_message)

    def gutter_width(self) -> int:
        if not self.line_numbers:
            return 0
        digits = max(2, len(str(self.blockCount())))
        return 12 + self.fontMetrics().horizontalAdvance("9") * digits

    def _update_gutter_width(self, _count: int = 0) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _update_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self.gutter.scroll(0, dy)
        else:
            self.gutter.update(0, rect.y(), self.gutter.width(), rect.height())
        if rect.contains(self.viewport().rect()):
            self._update_gutter_width()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        cr = self.contentsRect()
        self.gutter.setGeometry(QRect(cr.left(), cr.top(), self.gutter_width(), cr.height()))
        if self._line_to_show is not None:
            self.show_line(self._line_to_show)

    def paint_gutter(self, event) -> None:
        dark = 1 if self._dark() else 0
        painter = QPainter(self.gutter)
        painter.fillRect(event.rect(), QColor(COLORS["gutter"][dark]))
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            bottom = top + round(self.blockBoundingRect(block).height())
            if block.isVisible() and bottom >= event.rect().top():
                number = block.blockNumber() + 1
                error = number == self.error_line
                painter.setPen(QColor(COLORS["gutter_error" if error else "gutter_text"][dark]))
                font = self.font()
                font.setBold(error)
                painter.setFont(font)
                painter.drawText(0, top, self.gutter.width() - 6, height, Qt.AlignRight,
                                 str(number))
                if error:                            # a bar on the gutter's left edge
                    painter.fillRect(0, top, 3, height, painter.pen().color())
            block = block.next()
            top = bottom
        painter.end()
