"""Busy background processes for benchmarks: what a desktop's other programs do to the cores.

    with busy_processes(2):          # two processes spinning on the CPU
        ...measure...

Each process spins a pure-Python loop (no memory traffic, no I/O) until a deadline passed on its
command line, so it ends on its own even if this process is killed; leaving the ``with`` block
terminates it at once. Also: the machine's load average and CPU time used by others, so that a
report can say what else was running.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

SPIN = "import sys, time\nend = float(sys.argv[1])\nwhile time.time() < end:\n    pass\n"


@contextlib.contextmanager
def busy_processes(count: int, max_seconds: float = 3600.0):
    """Start ``count`` CPU-bound processes that stop after ``max_seconds`` at the latest."""
    procs = []
    deadline = time.time() + max_seconds
    try:
        for _ in range(count):
            procs.append(subprocess.Popen([sys.executable, "-c", SPIN, repr(deadline)],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        time.sleep(0.2 if count else 0)        # let them get going
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def load_average() -> float:
    """The 1-minute load average (runnable processes), or -1 where the OS does not tell."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return -1.0


def cpu_busy_fraction(seconds: float = 1.0) -> float:
    """Fraction of all cores busy over ``seconds`` (from /proc/stat; -1 elsewhere)."""
    def snapshot():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle
    try:
        t0, i0 = snapshot()
        time.sleep(seconds)
        t1, i1 = snapshot()
    except OSError:
        return -1.0
    return 1.0 - (i1 - i0) / max(1, t1 - t0)
