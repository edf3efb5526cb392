"""Run a LayerLoom model on Keras 3 (JAX, TensorFlow or PyTorch; GPUs; several devices).

The built-in engine is the default; this package is the second place a graph can train. It is
the only part of ``engine`` that imports Keras, and it does so lazily, inside its functions, so
importing it costs nothing and works where Keras is not installed:

* :mod:`~engine.keras_backend.probe` — is Keras installed, which backend, which devices;
* :mod:`~engine.keras_backend.convert` — the engine model as a real Keras model with the same
  layers and weights, and the weights back; layers or arguments Keras lacks are named first;
* :mod:`~engine.keras_backend.fit` — ``fit`` on Keras with the engine's callbacks (the app's
  dashboard, the CLI's Ctrl-C, EarlyStopping...), data-parallel over ``devices``.
"""
from __future__ import annotations

import importlib.util

INSTALL_COMMAND = 'pip install "layerloom[keras]"'
BACKENDS = ("jax", "tensorflow", "torch")


class KerasBackendError(ValueError):
    """Training cannot run on Keras (not installed, a layer Keras lacks, too few devices...);
    the message is one line for people."""


def keras_installed() -> bool:
    """True when Keras 3 and one of its backends can be imported (nothing is imported)."""
    return importlib.util.find_spec("keras") is not None and any(
        importlib.util.find_spec(b) is not None for b in BACKENDS)
