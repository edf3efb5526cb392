"""Training from the app's Train button on an image folder: streamed vs in memory.

    python -m bench.stream_train [--images 20000] [--size 64] [--epochs 1] [--keep DIR]

Writes ``--images`` JPEG photos-like images (smooth random colour fields, two classes) once,
then trains the seed image-folder CNN shape (Conv2D 32 3×3 relu → MaxPooling → Conv2D 64 3×3
relu → MaxPooling → Flatten → Dense 64 relu → Dense 2 softmax; adam, batch 32) through the app's
TrainingController (offscreen), each mode in a fresh process:

- ``streamed``: the project's data source is the folder; the Train button streams it
  (app/training/run_setup.py: decoded on background threads, a few batches ahead);
- ``in-memory``: the same images decoded into one array first (``controller.use_data``).

It prints images/s of every epoch and the process's peak resident memory. The ratio streamed /
in-memory is taken over the epochs after the first (the first also loads the numba kernels
and pages the interpreter in, in both modes; every streamed epoch decodes every file again).
Issue 16 target: >= 0.80, with < 500 MB peak RSS in streamed mode. The last line is
machine-readable.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.load import cpu_busy_fraction, load_average  # noqa: E402

CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import engine
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication.instance() or QApplication([])
from app.training import run_setup
from app.training.controller import TrainingController
from engine.graph import GraphDocument
from engine.project import Project

mode, folder, size, epochs = {mode!r}, {folder!r}, {size}, {epochs}
doc = GraphDocument(name="folder")
spec = [("InputLayer", {{"shape": [size, size, 3]}}), ("Conv2D", {{"filters": 32, "kernel_size": 3,
        "activation": "relu"}}), ("MaxPooling2D", {{}}), ("Conv2D", {{"filters": 64, "kernel_size": 3,
        "activation": "relu"}}), ("MaxPooling2D", {{}}), ("Flatten", {{}}),
        ("Dense", {{"units": 64, "activation": "relu"}}), ("Dense", {{"units": 2, "activation": "softmax"}})]
prev = None
for i, (kind, params) in enumerate(spec):
    node = doc.add_node(kind, params, f"n{{i}}", (150 * i, 0))
    if prev is not None:
        doc.connect(prev.id, node.id)
    prev = node
project = Project.new()
project.graph = doc
t = project.training
t.loss, t.metrics, t.epochs, t.batch_size, t.validation_split = \
    "sparse_categorical_crossentropy", ["accuracy"], epochs, 32, 0.0
project.data_source = {{"kind": "image_folder", "path": folder, "scale": 1 / 255}}
# time stamps in the GUI thread when the worker's queued signals arrive: the run's start
# (after the data is prepared) and every epoch's end
marks = []
for name in ("_run_started", "_epoch_end"):
    original = getattr(TrainingController, name)
    def stamped(self, *args, _original=original):
        marks.append(time.perf_counter())
        return _original(self, *args)
    setattr(TrainingController, name, stamped)
window = QMainWindow()
outcomes = []
c = TrainingController(window, lambda: project, lambda name, msg: None)
c.install(window)
c.run_finished.connect(outcomes.append)
c.warn = lambda title, msg: outcomes.append(msg)
c.project_changed()
if mode == "in-memory":
    from engine.data import DataSource
    d = DataSource.from_dict(project.data_source).load()
    c.use_data(run_setup.DataArrays(d.x_train, d.y_train, class_names=d.class_names))
    n = len(d.x_train)
else:
    run_setup.STREAM_ABOVE_BYTES = 0          # stream whatever the folder's size
    n = None
window.show()
c.train()
while not outcomes:
    app.processEvents()
    time.sleep(0.005)
out = outcomes[-1]
status = getattr(out, "status", str(out))
count = n if n is not None else c._data.x_train.n
rates = [count / (b - a) for a, b in zip(marks, marks[1:])]
print(json.dumps({{"mode": mode, "status": status, "images": count, "rates": rates,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def write_folder(root: Path, images: int, size: int) -> None:
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    for k in range(2):
        (root / f"class{k}").mkdir(parents=True, exist_ok=True)
    # smooth colour fields (a few random 8×8 tiles upsampled): JPEG sizes like photos'
    for i in range(images):
        k = i % 2
        tile = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        tile[..., k] = tile[..., k] // 2 + 128            # the class: one channel brighter
        img = Image.fromarray(tile).resize((size, size), Image.BILINEAR)
        img.save(root / f"class{k}" / f"{i}.jpg", quality=90)


EXTRA_ENV = dict(kv.split("=", 1) for kv in os.environ.get("STREAM_CHILD_ENV", "").split()
                 if "=" in kv)


def run_child(mode: str, folder: Path, size: int, epochs: int) -> dict | None:
    code = CHILD.format(root=str(ROOT), mode=mode, folder=str(folder), size=size, epochs=epochs)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=7200, check=False,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen", **EXTRA_ENV))
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    print(f"  {mode}: failed\n{out.stderr[-2000:]}")
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="reuse/keep the image folder here")
    args = ap.parse_args(argv)
    tmp = None
    root = args.keep
    if root is None:
        tmp = tempfile.mkdtemp(prefix="layerloom-stream-train-")
        root = Path(tmp)
    try:
        if sum(1 for _ in root.glob("class*/*.jpg")) != args.images:
            shutil.rmtree(root, ignore_errors=True)
            t = time.perf_counter()
            write_folder(root, args.images, args.size)
            print(f"wrote {args.images:,} JPEGs of {args.size}×{args.size} in "
                  f"{time.perf_counter() - t:.0f} s")
        mb = args.images * args.size * args.size * 3 * 4 / 2**20
        print(f"folder: {args.images:,} images, {mb:,.0f} MB as one float32 array; load "
              f"average {load_average():.2f}, cores {100 * cpu_busy_fraction(1.0):.0f}% busy")
        results = {}
        for mode in ("streamed", "in-memory"):
            r = run_child(mode, root, args.size, args.epochs)
            if r is None:
                continue
            results[mode] = r
            rates = ", ".join(f"{v:,.0f}" for v in r["rates"])
            print(f"  {mode:9s} {r['status']}: images/s per epoch {rates}; peak RSS "
                  f"{r['peak_rss_mb']:,.0f} MB", flush=True)
        if len(results) == 2:
            s = results["streamed"]["rates"]
            m = results["in-memory"]["rates"]
            later = slice(1, None) if min(len(s), len(m)) > 1 else slice(0, None)
            ratio = float(np.median(s[later]) / np.median(m[later]))
            rss = results["streamed"]["peak_rss_mb"]
            print(f"\nstreamed / in-memory (median of epochs {'2' if later.start else '1'}+): "
                  f"{ratio:.2f} (target >= 0.80); streamed peak RSS {rss:,.0f} MB (target < 500)")
            print(f"stream_train ratio={ratio:.3f} peak_rss_mb={rss:.0f} "
                  f"streamed_ips={np.median(s[later]):.0f} "
                  f"in_memory_ips={np.median(m[later]):.0f}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
