"""The app never shows a raw traceback: an unexpected exception is logged, the work is
autosaved, and a dialog shows a short message with the traceback under "Show Details…"."""
from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app.panels.log import LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)


class ExceptionHook:
    """Installed as ``sys.excepthook``; ``save_work`` is called before the dialog opens."""

    def __init__(self, parent: QWidget | None = None,
                 save_work: Callable[[], str | None] | None = None, show_dialog: bool = True):
        self.parent = parent
        self.save_work = save_work
        self.show_dialog = show_dialog
        self.dialogs: list[QMessageBox] = []
        self._previous = sys.excepthook
        self._busy = False

    def install(self) -> None:
        sys.excepthook = self

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self._previous

    def __call__(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous(exc_type, exc, tb)
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error: %s: %s\n%s", exc_type.__name__, exc, details)
        if self._busy:           # an error while reporting an error: the log has it
            return
        self._busy = True
        try:
            saved = None
            if self.save_work is not None:
                try:
                    saved = self.save_work()
                except Exception as e:  # noqa: BLE001 — the report must still appear
                    log.error("autosave after the error failed: %s", e)
            if self.show_dialog and QApplication.instance() is not None:
                self._dialog(exc_type, exc, details, saved)
        finally:
            self._busy = False

    def _dialog(self, exc_type, exc, details: str, saved: str | None) -> None:
        box = QMessageBox(QMessageBox.Critical, "Unexpected error",
                          f"Something went wrong: {exc_type.__name__}: {exc}",
                          QMessageBox.Ok, self.parent)
        note = ("Your work was saved to the autosave file:\n" + saved if saved
                else "Your work is still open; save it before you continue.")
        box.setInformativeText(note + "\nThe details are also in the Log panel.")
        box.setDetailedText(details)
        box.setModal(False)
        box.finished.connect(lambda _r, b=box: self.dialogs.remove(b) if b in self.dialogs
                             else None)
        self.dialogs.append(box)
        box.show()
