"""Cold start of the app to its first painted frame (Qt offscreen): the start page, or the
canvas with ``--open``.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.startup_time [--runs 5] [--open FILE]

Each run starts a fresh Python process that goes through ``app.main``'s own start-up
(QApplication, main window, the start-up project) and reports when what the window shows
first (the start page; the canvas with ``--open``) paints;
the time is measured from just before the process is spawned, so interpreter start-up and every
import count. Run once beforehand so numba's on-disk cache is warm. Bar: < 2 s. The last line
reads ``startup_time median_s=… max_s=…``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, time
sys.path.insert(0, {root!r})
from PySide6.QtCore import QEvent, QObject, QSettings
from app.main import create_window, make_application, parse_args

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Paint:
            print("painted", time.time(), flush=True)
            app.quit()
        return False

app = make_application()
settings = QSettings({settings!r}, QSettings.IniFormat)
window = create_window(parse_args(sys.argv[1:]), settings=settings)
probe = FirstPaint()
# what the window shows first: the start page, or the canvas when a project is opened
shown = window.start_page.page if window.start_page.is_shown() else window.view.viewport()
shown.installEventFilter(probe)
window.show()
app.exec()
"""


def one_run(args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        code = CHILD.format(root=str(ROOT), settings=str(Path(tmp) / "settings.ini"))
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, check=False,
                             text=True, env=env, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("painted"):
            return float(line.split()[1]) - t0
    raise RuntimeError(f"the app did not paint:\n{out.stdout}\n{out.stderr}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--open", metavar="FILE", help="project to open (default: the start-up "
                    "project, i.e. the bundled MNIST CNN example)")
    a = ap.parse_args(argv)
    args = ["--open", a.open] if a.open else []
    one_run(args)                               # warm the numba and OS file caches
    times = [one_run(args) for _ in range(a.runs)]
    for k, t in enumerate(times, 1):
        print(f"  run {k}: {t:.3f} s to the first painted frame "
              f"({'canvas' if a.open else 'start page'})")
    print(f"startup_time median_s={statistics.median(times):.3f} max_s={max(times):.3f}")


if __name__ == "__main__":
    main()
