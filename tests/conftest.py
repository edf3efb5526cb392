"""Test-wide settings: Qt renders offscreen (no screen on CI), numba caches compiled kernels."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
