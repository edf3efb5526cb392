"""Run peer frameworks (PyTorch, Keras) in their own virtual environments, in the same run.

They are never project dependencies: the interpreters are found at LAYERLOOM_TORCH_PYTHON /
LAYERLOOM_KERAS_PYTHON or /work/venv-torch, /work/venv-keras (see bench/README.md), and skipped
with a message when absent. Each peer gets its data as an .npz file and prints one JSON line.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

DEFAULTS = {"torch": "/work/venv-torch/bin/python", "keras": "/work/venv-keras/bin/python"}
# Threads each peer is given (OMP / TF intra-op / torch.set_num_threads); bench/throughput.py
# --threads N sets it for the whole run.
THREADS = 2
# Each peer framework's version, as its last run in this process printed it (bench/under_load.py
# prints them with its tables and keeps them in its JSON: a peer's speed depends on it).
VERSIONS: dict[str, str] = {}


def peer_python(name: str) -> str | None:
    path = os.environ.get(f"LAYERLOOM_{name.upper()}_PYTHON", DEFAULTS[name])
    return path if Path(path).is_file() else None


def _peer_base_environment() -> dict:
    try:
        from engine.threading_policy import peer_environment
    except ImportError:
        return dict(os.environ)
    return peer_environment()


def run_peer(name: str, code: str, arrays: dict[str, np.ndarray], threads: int | None = None,
             timeout: float = 1800) -> dict | None:
    """Run ``code`` (which reads DATA, an npz path, and prints a JSON line) in the peer's venv
    with ``threads`` threads (default THREADS)."""
    threads = THREADS if threads is None else threads
    python = peer_python(name)
    if python is None:
        print(f"  {name}: not installed (set LAYERLOOM_{name.upper()}_PYTHON); skipped")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.npz"
        np.savez(data, **arrays)
        # without the engine's thread settings (GOMP_SPINCOUNT ...): the peer runs as it would alone
        env = dict(_peer_base_environment(), OMP_NUM_THREADS=str(threads),
                   TF_NUM_INTRAOP_THREADS=str(threads),
                   TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3", DATA=str(data),
                   THREADS=str(threads))
        out = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True,
                             timeout=timeout)
    if out.returncode != 0:
        print(f"  {name}: failed:\n{out.stderr[-2000:]}")
        return None
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            result = json.loads(line)
            if "version" in result:
                VERSIONS[name] = str(result["version"])
            return result
    print(f"  {name}: printed no result:\n{out.stdout[-1000:]}")
    return None


def median(values) -> float:
    return float(np.median(np.asarray(values, dtype=float)))
