"""The route a Conv2D takes for an input (engine/layers/conv.py's limits): the tests of the
register tiles and of Winograd's convolutions."""
import numpy as np

from engine import backend
from engine.layers import Conv2D, MaxPooling2D


def conv_route(shape, filters, dtype="float32", **kwargs) -> str:
    """The route of a training forward of Conv2D(filters, 3 unless given, 'same' unless given,
    **kwargs) on random inputs of ``shape`` in ``dtype``."""
    kwargs.setdefault("padding", "same")
    with backend.floatx_scope(dtype):
        layer = Conv2D(filters, kwargs.pop("kernel_size", 3), **kwargs)
        x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
        layer.build(x.shape)
        layer.forward(x, training=True)
    return layer._cache[4]


def pooled_route(shape, filters) -> str:
    """The route of a 3×3 'same' relu Conv2D fused with the 2×2 max pool after it (float32)."""
    layer = Conv2D(filters, 3, activation="relu", padding="same")
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    layer.build(x.shape)
    layer.output_shape = layer.compute_output_shape(x.shape)
    pool = MaxPooling2D()
    pool.build(layer.output_shape)
    assert layer.fuse_next(pool)
    layer.forward_fused(x, pool)
    return layer._cache[-1]
