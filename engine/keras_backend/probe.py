"""Which Keras is here: version, backend and the devices it sees (imports Keras on first use;
the app calls :func:`probe` off its GUI thread)."""
from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from engine.keras_backend import BACKENDS, INSTALL_COMMAND, KerasBackendError, keras_installed


@dataclass(frozen=True)
class KerasInfo:
    """What :func:`probe` found; ``error`` is set (one line) when Keras cannot be used."""

    version: str = ""
    backend: str = ""
    devices: tuple[str, ...] = field(default_factory=tuple)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def describe(self) -> str:
        """``Keras 3.15.1 · jax · 2 devices (cpu:0, cpu:1)`` or the error."""
        if self.error:
            return self.error
        n = len(self.devices)
        return (f"Keras {self.version} · {self.backend} · {n} device{'s' if n != 1 else ''} "
                f"({', '.join(self.devices)})")


def _configured_backend() -> str | None:
    """KERAS_BACKEND, or the backend in ~/.keras/keras.json (as Keras itself reads them)."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    base = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    try:
        return json.loads((Path(base) / "keras.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        return None


def import_keras():
    """``keras``, importing it on first use. Without a configured backend, the first installed
    of JAX, TensorFlow, PyTorch is chosen (Keras alone would insist on TensorFlow)."""
    if sys.modules.get("keras") is not None:
        return sys.modules["keras"]
    if not keras_installed():
        raise KerasBackendError(f"Keras 3 is not installed; install it with: {INSTALL_COMMAND}")
    if _configured_backend() is None:
        os.environ["KERAS_BACKEND"] = next(b for b in BACKENDS
                                           if importlib.util.find_spec(b) is not None)
    try:
        import keras
    except Exception as e:  # noqa: BLE001 - a broken backend install raises anything
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise KerasBackendError(f"Keras could not be loaded ({msg}); reinstall it with: "
                                f"{INSTALL_COMMAND}") from None
    if not keras.__version__.startswith("3."):
        raise KerasBackendError(f"Keras {keras.__version__} is installed; LayerLoom needs "
                                f"Keras 3 ({INSTALL_COMMAND})")
    return keras


def list_devices(keras) -> list[str]:
    """The devices Keras can train on (``cpu:0``, ``gpu:0``, ...)."""
    try:
        return list(keras.distribution.list_devices())
    except Exception:  # noqa: BLE001 - backends without keras.distribution (torch)
        return ["cpu:0"]


@functools.lru_cache(maxsize=1)
def probe() -> KerasInfo:
    """Import Keras (once) and report version, backend and devices."""
    try:
        keras = import_keras()
    except KerasBackendError as e:
        return KerasInfo(error=str(e))
    return KerasInfo(keras.__version__, keras.backend.backend(), tuple(list_devices(keras)))
