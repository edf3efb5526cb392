"""Prediction runs Conv2D(relu) → MaxPooling2D(2×2) as the fused kernel too, except when the
conv layer's own output is asked for (the activation preview)."""
import numpy as np

from engine.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
from engine.models import Sequential


def _model():
    m = Sequential([Input((10, 9, 2)), Conv2D(4, 3, activation="relu"), MaxPooling2D(),
                    Flatten(), Dense(3, activation="softmax")])
    m.compile("sgd", "sparse_categorical_crossentropy")
    return m


def test_prediction_uses_the_fused_kernel_and_matches_the_layers():
    m = _model()
    conv, pool = m.layers[0], m.layers[1]
    x = np.random.default_rng(0).standard_normal((5, 10, 9, 2)).astype(np.float32)
    unfused = m.layers[3](m.layers[2](pool(conv(x))))
    calls = []
    original = conv.forward_fused
    conv.forward_fused = lambda *a: calls.append(1) or original(*a)
    np.testing.assert_allclose(m.predict(x, verbose=0), unfused, rtol=1e-5, atol=1e-7)
    assert calls


def test_the_conv_output_itself_is_not_pooled():
    m = _model()
    conv = m.layers[0]
    x = np.random.default_rng(1).standard_normal((2, 10, 9, 2)).astype(np.float32)
    out = m._plan.forward([x], training=False, upto=conv)[0]
    assert out.shape == (2, 8, 7, 4)
    np.testing.assert_allclose(out, conv(x), rtol=1e-6)
    after_pool = m._plan.forward([x], training=False, upto=m.layers[1])[0]
    assert after_pool.shape == (2, 4, 3, 4)


def test_batch_normalization_and_relu_are_not_fused_when_predicting():
    """BatchNormalization → relu trains fused (batch statistics); prediction must use the
    moving statistics, so it runs the two layers as written."""
    from engine.layers import Activation, BatchNormalization
    m = Sequential([Input((6,)), Dense(5), BatchNormalization(), Activation("relu"),
                    Dense(2)])
    m.compile("sgd", "mse")
    x = np.random.default_rng(2).standard_normal((8, 6)).astype(np.float32) * 3 + 1
    m.fit(x, np.zeros((8, 2), np.float32), epochs=2, verbose=0)
    bn = m.layers[1]
    calls = []
    original = bn.forward_fused
    bn.forward_fused = lambda *a: calls.append(1) or original(*a)
    expected = m.layers[3](m.layers[2](bn(m.layers[0](x), training=False)))
    np.testing.assert_allclose(m.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert not calls
