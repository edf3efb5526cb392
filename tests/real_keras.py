"""Running a snippet under real Keras 3 in its own interpreter, for checks that real Keras
reads what the engine writes. The interpreter is ``$LAYERLOOM_KERAS_PYTHON`` or the peer
venv ``/work/venv-keras``; tests skip cleanly where neither exists (CI)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "keras"


def keras_python() -> str | None:
    for candidate in (os.environ.get("LAYERLOOM_KERAS_PYTHON"), "/work/venv-keras/bin/python"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def run_real_keras(code: str, cwd: Path, timeout: float = 300) -> str:
    """Run ``code`` with real Keras (TensorFlow backend, CPU); return its stdout, fail the
    test with its stderr when it fails, skip when no Keras interpreter is available."""
    python = keras_python()
    if python is None:
        pytest.skip("no real-Keras interpreter (set LAYERLOOM_KERAS_PYTHON)")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow",
           "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(FIXTURES)}
    done = subprocess.run([python, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        pytest.fail(f"real Keras failed:\n{done.stderr[-3000:]}")
    return done.stdout
