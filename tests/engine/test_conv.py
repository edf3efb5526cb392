"""Convolution, pooling and normalization layers: gradients, Keras fixtures, clear errors."""
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine import Input
from engine.io.weights import read_weights_group
from engine.layers import (Activation, AveragePooling1D, AveragePooling2D, BatchNormalization,
                           Conv1D, Conv2D, Dense, Dropout, Flatten, GlobalAveragePooling1D,
                           GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                           LayerNormalization, MaxPooling1D, MaxPooling2D, UpSampling2D,
                           ZeroPadding2D)
from engine.models import Sequential
from tests.gradcheck import check_layer

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
r = np.random.default_rng(0)


@pytest.mark.parametrize("kwargs", [
    dict(filters=3, kernel_size=3),
    dict(filters=2, kernel_size=(2, 3), strides=2, padding="same"),
    dict(filters=2, kernel_size=4, padding="same"),                 # even kernel, 'same'
    dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"),
    dict(filters=2, kernel_size=1, use_bias=False),
    dict(filters=2, kernel_size=3, strides=(1, 2), activation="tanh"),
])
def test_conv2d_gradients(kwargs):
    check_layer(Conv2D(**kwargs), r.standard_normal((2, 7, 6, 3)))


@pytest.mark.parametrize("kwargs", [dict(filters=2, kernel_size=3),
                                    dict(filters=2, kernel_size=2, padding="same", strides=2),
                                    dict(filters=2, kernel_size=3, padding="causal",
                                         dilation_rate=2)])
def test_conv1d_gradients(kwargs):
    check_layer(Conv1D(**kwargs), r.standard_normal((2, 9, 3)))


def test_same_padding_output_sizes_match_tensorflow():
    for size, k, s in [(7, 4, 1), (7, 3, 2), (8, 4, 3), (5, 2, 2)]:
        layer = Conv2D(1, k, strides=s, padding="same")
        assert layer.compute_output_shape((None, size, size, 1)) == (None, -(-size // s),) * 1 + \
            (-(-size // s), 1)


@pytest.mark.parametrize("layer", [
    lambda: MaxPooling2D(), lambda: MaxPooling2D(3, strides=2, padding="same"),
    lambda: AveragePooling2D(), lambda: AveragePooling2D((2, 3), padding="same"),
    lambda: GlobalAveragePooling2D(), lambda: GlobalMaxPooling2D(),
    lambda: ZeroPadding2D(((1, 0), (2, 1))), lambda: UpSampling2D((2, 3)),
    lambda: BatchNormalization(), lambda: LayerNormalization(),
])
def test_image_layer_gradients(layer):
    check_layer(layer(), r.standard_normal((2, 5, 6, 3)))


def test_batchnorm_training_mode_gradient_and_moving_stats():
    bn = BatchNormalization(momentum=0.5)
    x = r.standard_normal((6, 4, 4, 2)) * 3 + 1
    check_layer(bn, x, training=True)
    bn2 = BatchNormalization(momentum=0.5)
    xs = x.astype(np.float32)
    bn2(xs)
    bn2.forward(xs, training=True)
    np.testing.assert_allclose(bn2.moving_mean.value, 0.5 * x.reshape(-1, 2).mean(0), rtol=1e-5)
    assert [w.name for w in bn2.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]


@pytest.mark.parametrize("layer", [lambda: MaxPooling1D(), lambda: AveragePooling1D(3, 2, "same"),
                                   lambda: GlobalMaxPooling1D(), lambda: GlobalAveragePooling1D()])
def test_sequence_pool_gradients(layer):
    check_layer(layer(), r.standard_normal((2, 7, 3)))


def _load_fixture(name, model):
    with h5py.File(FIX / f"{name}.h5", "r") as f:
        read_weights_group(f["model_weights"], model)
    io = np.load(FIX / f"{name}_io.npz")
    np.testing.assert_allclose(model.predict(io["x0"], verbose=0), io["y0"], atol=1e-5)


def test_keras_seed_cnn_forward_matches():
    model = Sequential([Input(shape=(28, 28, 1)),
                        Conv2D(32, (3, 3), activation="relu"), MaxPooling2D((2, 2)),
                        Dropout(0.25), Flatten(), Dense(128, activation="relu"), Dropout(0.5),
                        Dense(10, activation="softmax")])
    _load_fixture("seed_cnn", model)


def test_keras_conv_bn_pool_forward_matches():
    model = Sequential([Input(shape=(16, 16, 3)), Conv2D(8, 3, strides=2, padding="same"),
                        BatchNormalization(), Activation("relu"), AveragePooling2D(),
                        Conv2D(4, 1), GlobalAveragePooling2D(), Dense(5, activation="softmax")])
    _load_fixture("conv_bn_pool", model)


def test_bad_conv_input_gets_clear_errors():
    with pytest.raises(ValueError, match=r"channel axis is missing.*Reshape\(\(28, 28, 1\)\)"):
        Sequential([Input(shape=(28, 28)), Conv2D(4, 3)])
    with pytest.raises(ValueError, match=r"Conv2D 'c': kernel_size \(5, 5\) is larger than its "
                                         r"input \(3, 3\)"):
        Conv2D(2, 5, name="c").compute_output_shape((None, 3, 3, 1))
    with pytest.raises(ValueError, match="argument 'kernel_size' expects a value >= 1"):
        Conv2D(2, 0)
    with pytest.raises(ValueError, match="argument 'strides' expects an integer"):
        Conv2D(2, 3, strides=1.5)
    with pytest.raises(ValueError, match="cannot both be above 1"):
        Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="pool_size"):
        MaxPooling2D(4).compute_output_shape((None, 3, 3, 1))


def test_fast_2x2_pool_matches_generic_on_odd_sizes():
    """The unrolled 2×2 kernels agree with the generic ones, including an odd leftover row."""
    x = r.standard_normal((2, 7, 6, 3))
    check_layer(MaxPooling2D(), x)
    fast = MaxPooling2D()
    xs = x.astype(np.float32)
    y = fast(xs)
    dy = r.standard_normal(y.shape).astype(np.float32)
    fast.forward(xs)
    dx_fast = fast.backward(dy)
    ref = np.zeros_like(xs)
    for b in range(2):
        for i in range(3):
            for j in range(3):
                for c in range(3):
                    win = xs[b, 2 * i:2 * i + 2, 2 * j:2 * j + 2, c]
                    k = np.argmax(win)
                    ref[b, 2 * i + k // 2, 2 * j + k % 2, c] = dy[b, i, j, c]
                    assert y[b, i, j, c] == win.max()
    np.testing.assert_array_equal(dx_fast, ref)
