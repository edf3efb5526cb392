"""LayerLoom's engine: a Keras-compatible deep-learning API on numpy + numba (no Qt here).

``from engine.models import Sequential`` / ``from engine.layers import Dense`` mirror
``keras.models`` / ``keras.layers``; ``engine.Input`` is ``keras.Input``. After
``import engine as keras`` the submodules are attributes as in Keras (``keras.utils.
to_categorical``, ``keras.preprocessing.sequence.pad_sequences``), imported on first use.
"""
import importlib

# Who owns the cores (numba's pool; BLAS on one thread): set before numpy and numba load.
from engine import kernel_cache  # noqa: E402,F401  (before numba loads: its cache folder)
from engine import threading_policy  # noqa: E402,F401
# Freed arrays stay in the process while training (glibc's thresholds; see the module).
from engine import allocator  # noqa: E402,F401

from engine.layers.core import Input  # noqa: E402,F401

__version__ = "0.1.0"

_SUBMODULES = ("activations", "backend", "callbacks", "constraints", "data", "datasets",
               "initializers", "layers", "losses", "metrics", "models", "ops", "optimizers",
               "preprocessing", "random", "regularizers", "saving", "utils")


_MODEL_NAMES = ("Sequential", "Model", "load_model", "model_from_json")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"engine.{name}")
    if name in _MODEL_NAMES:               # keras.Sequential, keras.Model, keras.models.load_model
        return getattr(importlib.import_module("engine.models"), name)
    if name in ("Layer", "Variable"):      # keras.Layer, keras.Variable
        return getattr(importlib.import_module("engine.layers.base" if name == "Layer"
                                               else "engine.layers.weight"), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
