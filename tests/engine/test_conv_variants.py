"""DepthwiseConv2D/1D, SeparableConv2D/1D and Conv1DTranspose: finite-difference gradients,
real Keras's outputs on its own .h5 (tests/fixtures/keras/make_conv_variant_fixtures.py),
our .h5 read back by real Keras, configs and errors."""
import json
from pathlib import Path

import numpy as np
import pytest

import engine as keras
from engine.layers import (
    Conv1DTranspose,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from engine.registry import get_spec
from tests.gradcheck import check_layer

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
r = np.random.default_rng(0)


@pytest.mark.parametrize("make", [
    lambda: DepthwiseConv2D(3),
    lambda: DepthwiseConv2D((2, 3), strides=2, padding="same", depth_multiplier=2),
    lambda: DepthwiseConv2D(3, dilation_rate=2, use_bias=False, activation="tanh"),
    lambda: SeparableConv2D(4, 3),
    lambda: SeparableConv2D(3, (3, 2), strides=(2, 1), padding="same", depth_multiplier=2,
                            activation="sigmoid"),
    lambda: SeparableConv2D(2, 2, dilation_rate=2, use_bias=False),
])
def test_2d_gradients(make):
    check_layer(make(), r.standard_normal((2, 7, 6, 3)))


@pytest.mark.parametrize("make", [
    lambda: DepthwiseConv1D(3, depth_multiplier=2),
    lambda: DepthwiseConv1D(2, strides=2, padding="same"),
    lambda: SeparableConv1D(4, 3, activation="tanh"),
    lambda: SeparableConv1D(3, 2, padding="same", dilation_rate=3, depth_multiplier=2),
    lambda: Conv1DTranspose(3, 3),
    lambda: Conv1DTranspose(2, 3, strides=2, padding="same", activation="tanh"),
    lambda: Conv1DTranspose(2, 4, strides=3, output_padding=1, use_bias=False),
])
def test_1d_gradients(make):
    check_layer(make(), r.standard_normal((2, 9, 3)))


def test_weights_shapes_and_config_follow_keras():
    sep = SeparableConv2D(8, 3, depth_multiplier=2, name="s")
    sep(np.zeros((1, 5, 5, 3), np.float32))
    assert [(w.name, w.shape) for w in sep.weights] == [
        ("depthwise_kernel", (3, 3, 3, 2)), ("pointwise_kernel", (1, 1, 6, 8)), ("bias", (8,))]
    s1 = SeparableConv1D(4, 3)
    s1(np.zeros((1, 6, 2), np.float32))
    assert [w.shape for w in s1.weights] == [(3, 2, 1), (1, 2, 4), (4,)]
    dw = DepthwiseConv2D(3, depth_multiplier=3)
    dw(np.zeros((1, 5, 5, 2), np.float32))
    assert [w.shape for w in dw.weights] == [(3, 3, 2, 3), (6,)]
    t = Conv1DTranspose(5, 3, strides=2, output_padding=1)
    assert t.compute_output_shape((None, 4, 2)) == (None, 10, 5)   # (4 − 1)·2 + 3 + 1
    t(np.zeros((1, 4, 2), np.float32))
    assert [w.shape for w in t.weights] == [(3, 5, 2), (5,)]
    cfg = t.get_config()
    assert (cfg["kernel_size"], cfg["strides"], cfg["output_padding"]) == ([3], [2], [1])
    again = Conv1DTranspose.from_config(cfg)
    assert again.get_config() == cfg
    assert [p.name for p in get_spec("SeparableConv2D").params][:8] == [
        "filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
        "depth_multiplier", "activation"]
    assert [p.name for p in get_spec("DepthwiseConv2D").params][:4] == [
        "kernel_size", "strides", "padding", "depth_multiplier"]


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match="SeparableConv2D 's': argument 'filters' is required"):
        SeparableConv2D(kernel_size=3, name="s")
    with pytest.raises(ValueError, match="cannot both be above 1"):
        DepthwiseConv2D(3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="kernel_size .* larger than its input"):
        DepthwiseConv2D(5)(np.zeros((1, 3, 3, 1), np.float32))
    with pytest.raises(ValueError, match="expects 3-D input"):
        SeparableConv1D(2, 3)(np.zeros((1, 5, 5, 1), np.float32))


def test_keras_h5_predictions_match():
    model = keras.models.load_model(FIX / "conv_variants.h5")
    io = np.load(FIX / "conv_variants_io.npz")
    np.testing.assert_allclose(model.predict([io["x0"], io["x1"]], verbose=0), io["y0"],
                               atol=2e-5, rtol=1e-5)


def test_trains_and_real_keras_reads_our_h5(tmp_path):
    from tests.real_keras import run_real_keras
    model = keras.models.load_model(FIX / "conv_variants.h5")
    io = np.load(FIX / "conv_variants_io.npz")
    xs = [io["x0"], io["x1"]]
    model.compile(optimizer="adam", loss="mse")
    target = np.zeros((4, 3), np.float32)
    before = model.evaluate(xs, target, verbose=0)
    model.fit(xs, target, epochs=5, verbose=0)
    assert model.evaluate(xs, target, verbose=0) < before
    model.save(tmp_path / "ours.h5")
    np.save(tmp_path / "x0.npy", xs[0])
    np.save(tmp_path / "x1.npy", xs[1])
    np.save(tmp_path / "want.npy", model.predict(xs, verbose=0))
    out = run_real_keras(
        "import numpy as np, keras\n"
        "m = keras.models.load_model('ours.h5')\n"
        "y = m.predict([np.load('x0.npy'), np.load('x1.npy')], verbose=0)\n"
        "np.testing.assert_allclose(y, np.load('want.npy'), atol=2e-5, rtol=1e-5)\n"
        "print('ok', [type(l).__name__ for l in m.layers])\n", tmp_path)
    for name in ("SeparableConv2D", "DepthwiseConv2D", "SeparableConv1D", "DepthwiseConv1D",
                 "Conv1DTranspose"):
        assert name in out


def test_h5_lists_layers_in_keras_order(tmp_path):
    """Keras loads a legacy .h5 file's weights by position in its own model.layers order
    (by depth, not branch by branch): our file lists them exactly as Keras's file does."""
    import h5py
    model = keras.models.load_model(FIX / "conv_variants.h5")
    model.save(tmp_path / "ours.h5")
    with h5py.File(FIX / "conv_variants.h5") as theirs, h5py.File(tmp_path / "ours.h5") as ours:
        names = [[n.decode() if isinstance(n, bytes) else str(n)
                  for n in f["model_weights"].attrs["layer_names"]] for f in (theirs, ours)]
        assert names[0] == names[1]
        order = [[e["name"] for e in json.loads(f.attrs["model_config"])["config"]["layers"]]
                 for f in (theirs, ours)]
        assert order[0] == order[1]
