"""Keras-like terminal progress bar for fit/evaluate/predict (verbose=1) and epoch lines (2)."""
from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds * 1000:.0f}ms"


def format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}"
                      for k, v in logs.items())


class Progbar:
    """One bar per epoch. ``update(step, logs)`` redraws at most every ``interval`` seconds on a
    terminal, so the bar costs nothing measurable per batch; ``finish`` prints the final line."""

    def __init__(self, target: int | None, verbose: int = 1, width: int = 20,
                 interval: float = 0.1, stream: TextIO | None = None):
        self.target = target
        self.verbose = verbose
        self.width = width
        self.interval = interval
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self._last = 0.0
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def _bar(self, step: int) -> str:
        if not self.target:
            return f"{step}"
        filled = int(self.width * min(step, self.target) / self.target)
        digits = len(str(self.target))
        return f"{step:>{digits}}/{self.target} " + "━" * filled + "─" * (self.width - filled)

    def update(self, step: int, logs: dict | None = None) -> None:
        if self.verbose != 1 or not self._tty:
            return
        now = time.perf_counter()
        if now - self._last < self.interval:
            return
        self._last = now
        elapsed = now - self.start
        per = elapsed / max(step, 1)
        eta = f" ETA {format_duration(per * (self.target - step))}" if self.target else ""
        line = f"\r{self._bar(step)}{eta}"
        if logs:
            line += " - " + format_logs(logs)
        self.stream.write(line + "\x1b[K")
        self.stream.flush()

    def finish(self, step: int, logs: dict | None = None) -> None:
        if self.verbose == 0:
            return
        elapsed = time.perf_counter() - self.start
        per = elapsed / max(step, 1)
        line = (f"{self._bar(step)} {format_duration(elapsed)} {format_duration(per)}/step"
                if self.verbose == 1 else f"{format_duration(elapsed)}")
        if logs:
            line += " - " + format_logs(logs)
        self.stream.write(("\r" if self._tty else "") + line + ("\x1b[K" if self._tty else "") + "\n")
        self.stream.flush()
