"""Log: the app's messages (Python ``logging`` under the ``layerloom`` logger) in a panel.

Records may come from any thread (training); a Qt signal carries them to the GUI thread.
"""
from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QPlainTextEdit, QWidget

LOGGER_NAME = "layerloom"
MAX_LINES = 5000


class _Bridge(QObject):
    record = Signal(str, int)


class PanelHandler(logging.Handler):
    """A logging handler that forwards formatted records to a LogPanel (thread-safe)."""

    def __init__(self, panel: LogPanel):
        super().__init__(logging.INFO)
        self.bridge = _Bridge()
        self.bridge.record.connect(panel.append)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
            self.bridge.record.emit(f"{stamp}  {record.levelname:<7} {record.getMessage()}",
                                    record.levelno)
        except RuntimeError:       # the panel is gone (window closed)
            pass


class LogPanel(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.Monospace)
        self.setFont(mono)
        self.handler = PanelHandler(self)
        logger = logging.getLogger(LOGGER_NAME)
        logger.setLevel(logging.INFO)
        logger.addHandler(self.handler)

    def append(self, line: str, level: int = logging.INFO) -> None:
        if level >= logging.ERROR:
            line = f"⚠ {line}"
        self.appendPlainText(line)

    def detach(self) -> None:
        logging.getLogger(LOGGER_NAME).removeHandler(self.handler)
