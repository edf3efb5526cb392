"""run_responsive: slow work runs off the GUI thread while events keep being processed."""
import threading
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel

from app.background import run_responsive


def test_fast_work_returns_its_value_on_a_worker_thread(qtbot):
    seen = []
    value = run_responsive(lambda: seen.append(threading.current_thread().name) or 42)
    assert value == 42 and seen == ["layerloom-background"]


def test_slow_work_keeps_the_event_loop_running_and_disables_the_widget(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    ticks, states, messages = [], [], []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: (ticks.append(1), states.append(label.isEnabled())))
    timer.start()
    value = run_responsive(lambda: time.sleep(0.4) or "done", busy=label,
                           status=messages.append, message="Reading...")
    timer.stop()
    assert value == "done"
    assert len(ticks) >= 10                  # ~40 ticks in 0.4 s: the GUI thread was not blocked
    assert not any(states) and label.isEnabled()
    assert messages == ["Reading..."]


def test_errors_are_raised_in_the_caller_and_the_widget_comes_back(qtbot):
    label = QLabel()
    qtbot.addWidget(label)

    def fail():
        time.sleep(0.1)
        raise ValueError("row 7: not a number")

    with pytest.raises(ValueError, match="row 7"):
        run_responsive(fail, busy=label)
    assert label.isEnabled()
