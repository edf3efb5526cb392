"""The dialog that asks before code from a file runs (Keras's ``safe_mode``, for people).

It lists every layer that holds code and shows that layer's code, read-only, with line numbers
and highlighting; the user chooses to trust it (it runs), to open the file with those layers
inert (nothing runs; each can be trusted later from the inspector), or to cancel.
"""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.panels.code_editor import CodeEditor

TRUST, INERT, CANCEL = "trust", "inert", "cancel"


class CodeConsentDialog(QDialog):
    def __init__(self, file_name: str, code: dict[str, str], can_open_inert: bool = True,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.code = code
        self.choice = CANCEL
        self.setWindowTitle("This file contains code")
        self.resize(760, 520)
        layout = QVBoxLayout(self)
        n = len(code)
        head = QLabel(
            f"<b>{escape(file_name)}</b> holds Python code in {n} layer{'s' if n > 1 else ''}. "
            f"Opening it with that code running lets the code do anything you can do on this "
            f"computer. Trust it only if you know where the file comes from — read the code "
            f"below first.")
        head.setWordWrap(True)
        layout.addWidget(head)
        split = QSplitter(Qt.Horizontal)
        self.layers = QListWidget()
        self.layers.addItems(list(code))
        self.viewer = CodeEditor(lines=18)
        self.viewer.setReadOnly(True)
        split.addWidget(self.layers)
        split.addWidget(self.viewer)
        split.setSizes([180, 560])
        layout.addWidget(split, 1)
        self.layers.currentTextChanged.connect(
            lambda name: self.viewer.set_code(self.code.get(name, "")))
        self.layers.setCurrentRow(0)
        buttons = QDialogButtonBox()
        self.trust_button = QPushButton("Trust and run")
        self.inert_button = QPushButton("Open without running")
        self.inert_button.setToolTip("The layers with code are shown but never run; trust "
                                     "each one later from the inspector")
        buttons.addButton(self.trust_button, QDialogButtonBox.AcceptRole)
        if can_open_inert:
            buttons.addButton(self.inert_button, QDialogButtonBox.ActionRole)
        buttons.addButton(QDialogButtonBox.Cancel)
        self.trust_button.clicked.connect(lambda: self._choose(TRUST))
        self.inert_button.clicked.connect(lambda: self._choose(INERT))
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.inert_button.setDefault(can_open_inert)     # the safe answer is the easy one

    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.accept()


def ask_trust_code(parent: QWidget, file_name: str, code: dict[str, str],
                   can_open_inert: bool = True) -> str:
    """"trust", "inert" or "cancel" (the dialog closed)."""
    dialog = CodeConsentDialog(file_name, code, can_open_inert, parent)
    dialog.exec()
    return dialog.choice
