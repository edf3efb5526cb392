"""Peak memory of reading a file, measured in a child process.

``probe(cases)`` starts one fresh Python (the repository on its path), which imports the readers
once and then forks a child per case: the child opens the file with the named reader and reports
what happened, and the parent reads the child's peak RSS from ``wait4``. So every case is
measured on its own, from the same start, without paying an interpreter start-up per case.

A case is ``(reader, path)``; readers are the names in ``READERS`` below. The result per case:
``{"outcome": "ok" | "error" | "crash", "type": exception type, "message", "peak_mb"}``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r'''
import json, os, sys, traceback
import numpy as np

def _readers():
    from engine.data import loaders, tables, images
    from engine.io import keras_h5
    from engine.project import load_project
    return {
        "loom": load_project,
        "h5": lambda p: keras_h5.load_model(p, compile=False),
        "npz": loaders.read_npz,
        "idx": loaders.read_idx,
        "hdf5_data": lambda p: loaders.read_hdf5(p, list(loaders.hdf5_datasets(p))),
        "csv": tables.read_csv,
        "image": lambda p: images.img_to_array(images.load_img(p)),
        "image_folder": lambda p: images.read_image_folder(p, target_size=(32, 32)),
        "image_folder_native": lambda p: images.read_image_folder(p),
    }

READERS = _readers()
from engine.io import keras_format
READERS["keras"] = lambda p: keras_format.load_keras(p, compile=False)
import time
cases = json.loads(sys.stdin.read())
out = []
for reader, path in cases:
    started = time.perf_counter()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            READERS[reader](path)
            res = {"outcome": "ok"}
        except Exception as e:
            res = {"outcome": "error", "type": type(e).__name__, "message": str(e),
                   "traceback": traceback.format_exc()[-1500:]}
        with os.fdopen(w, "w") as f:
            f.write(json.dumps(res))
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        text = f.read()
    _, status, usage = os.wait4(pid, 0)
    res = json.loads(text) if text else {"outcome": "crash", "status": status}
    res["peak_mb"] = usage.ru_maxrss / 1024
    res["seconds"] = time.perf_counter() - started
    out.append(res)
print(json.dumps(out))
'''


def probe(cases: list[tuple[str, str | os.PathLike]], timeout: float = 300) -> list[dict]:
    """Run each ``(reader, path)`` in its own forked child; see the module docstring."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(
        [[r, str(p)] for r, p in cases]), capture_output=True, text=True, timeout=timeout,
        cwd=ROOT, env=env, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"memory probe failed: {run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])
