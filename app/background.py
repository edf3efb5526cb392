"""Run slow, Qt-free work (reading a data file) off the GUI thread while the caller waits.

:func:`run_responsive` keeps the caller's simple synchronous shape (``value = run(...)``) but the
window keeps painting and answering meanwhile: the work runs on a Python thread and the GUI thread
spins a local event loop until it is done. The widget that asked is disabled while it waits, so
the user cannot start the same work twice; the status text says what is going on.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget

T = TypeVar("T")

FAST_S = 0.05      # work that ends this quickly never enters the event loop
POLL_MS = 15


def run_responsive(work: Callable[[], T], busy: QWidget | None = None,
                   status: Callable[[str], None] | None = None,
                   message: str = "Working...") -> T:
    """``work()``'s result (or its exception, re-raised here) with the GUI alive meanwhile.

    ``busy`` is disabled until the work ends; ``status(message)`` is called once the work has
    taken longer than ``FAST_S`` seconds. Nested calls are allowed (each waits for its own work).
    """
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as e:  # noqa: BLE001 - handed back to the GUI thread
            result["error"] = e

    thread = threading.Thread(target=target, name="layerloom-background", daemon=True)
    thread.start()
    thread.join(FAST_S)
    if thread.is_alive():
        was_enabled = busy.isEnabled() if busy is not None else True
        if busy is not None:
            busy.setEnabled(False)
        if status is not None:
            status(message)
        QApplication.setOverrideCursor(_busy_cursor())
        loop = QEventLoop()
        timer = QTimer()
        timer.setInterval(POLL_MS)
        timer.timeout.connect(lambda: None if thread.is_alive() else loop.quit())
        timer.start()
        try:
            if thread.is_alive():
                loop.exec()
        finally:
            timer.stop()
            QApplication.restoreOverrideCursor()
            if busy is not None:
                busy.setEnabled(was_enabled)
        thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def _busy_cursor():
    from PySide6.QtCore import Qt
    return Qt.CursorShape.BusyCursor
