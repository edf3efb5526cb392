"""LayerLoom's engine: a Keras-compatible deep-learning API on numpy + numba (no Qt here).

``from engine.models import Sequential`` / ``from engine.layers import Dense`` mirror
``keras.models`` / ``keras.layers``; ``engine.Input`` is ``keras.Input``.
"""
from engine.layers.core import Input  # noqa: F401

__version__ = "0.1.0"
