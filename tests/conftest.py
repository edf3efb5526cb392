"""Test-wide settings: Qt renders offscreen (no screen on CI), numba caches compiled kernels."""
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def keras():
    """Real Keras 3 on JAX's CPU (the [keras] extra; the test extra installs it). Skips where it
    is not installed."""
    import sys
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "jax"
    return pytest.importorskip("keras")
