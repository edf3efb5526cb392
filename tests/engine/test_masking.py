"""Masks as Keras 3 shows them: an eager output's ``_keras_mask`` (and the next eager call
takes it), a symbolic tensor's ``_keras_mask``, a user layer's call(mask=) getting one while
its output shape is inferred; the Masking layer against real Keras (tests/fixtures/keras/
make_masking_fixtures.py) with its gradient."""
from pathlib import Path

import numpy as np
import pytest

import engine as keras
from engine import layers, ops
from engine.layers.masking import MaskedArray
from tests.gradcheck import check_layer

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras"


def test_eager_outputs_carry_their_mask():
    x = np.array([[3, 5, 0, 0], [1, 0, 0, 0]])
    out = layers.Embedding(10, 4, mask_zero=True)(x)
    np.testing.assert_array_equal(out._keras_mask, x != 0)
    assert isinstance(out, MaskedArray)
    assert type(out * 2) is np.ndarray           # what is computed from it has no mask
    assert layers.Dense(3)(np.ones((2, 4))).__class__ is np.ndarray   # no mask: plain array
    # a mask-passing layer keeps it; an LSTM uses it and makes none
    passed = layers.Dropout(0.5)(out)
    np.testing.assert_array_equal(passed._keras_mask, x != 0)
    lstm = layers.LSTM(2)
    np.testing.assert_allclose(lstm(out), lstm(np.asarray(out), mask=x != 0), rtol=1e-6)
    assert getattr(lstm(out), "_keras_mask", None) is None
    masked = layers.Masking()(np.array([[[1.0, 0.0], [0.0, 0.0]]], np.float32))
    np.testing.assert_array_equal(masked._keras_mask, [[True, False]])


def test_symbolic_masks_and_user_layers_that_need_them():
    class NeedsMask(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            assert mask is not None                  # as the masking guide's TemporalSoftmax
            return inputs * ops.expand_dims(ops.cast(mask, "float32"), -1)

    inp = keras.Input((None,), dtype="int32")
    emb = layers.Embedding(10, 3, mask_zero=True)(inp)
    assert emb._keras_mask is not None and emb._keras_mask.shape == (None, None)
    out = NeedsMask()(emb)
    assert out._keras_mask is emb._keras_mask
    assert layers.Dense(2)(keras.Input((3,)))._keras_mask is None       # no mask flowing
    model = keras.Model(inp, out)
    x = np.array([[1, 2, 0], [3, 0, 0]])
    y = model(x)
    np.testing.assert_array_equal(y[1, 1:], 0)
    assert layers.LSTM(2)(emb)._keras_mask is None


def test_masking_layer_matches_keras_and_has_gradients(tmp_path):
    io = np.load(FIX / "masking_io.npz")
    np.testing.assert_array_equal(layers.Masking(-1.0).compute_mask(io["x0"]), io["mask0"])
    model = keras.models.load_model(FIX / "masking.h5")
    np.testing.assert_allclose(model.predict(io["x0"], verbose=0), io["y0"], atol=1e-5)
    check_layer(layers.Masking(0.5), np.where(np.random.default_rng(0).random((2, 4, 3)) < 0.3,
                                              0.5, np.random.default_rng(1).normal(size=(2, 4, 3))))
    from tests.real_keras import run_real_keras
    model.save(tmp_path / "ours.h5")
    np.save(tmp_path / "x.npy", io["x0"])
    np.save(tmp_path / "y.npy", io["y0"])
    run_real_keras("import numpy as np, keras\n"
                   "m = keras.models.load_model('ours.h5')\n"
                   "np.testing.assert_allclose(m.predict(np.load('x.npy'), verbose=0),"
                   " np.load('y.npy'), atol=1e-5)\n", tmp_path)


def test_compute_mask_takes_one_argument():
    emb = layers.Embedding(5, 2, mask_zero=True)
    np.testing.assert_array_equal(emb.compute_mask(np.array([[1, 0]])), [[True, False]])
    with pytest.raises(TypeError):
        layers.Dense(2).compute_mask()
