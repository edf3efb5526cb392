"""Keras 2's module path ``keras.layers.convolutional`` (``from ... import Conv2D, MaxPooling2D``)."""
from engine.layers.conv import Conv1D, Conv2D  # noqa: F401
from engine.layers.image_reshaping import UpSampling2D, ZeroPadding2D  # noqa: F401
from engine.layers.pooling import (AveragePooling1D, AveragePooling2D, MaxPooling1D,  # noqa: F401
                                   MaxPooling2D)
