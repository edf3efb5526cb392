"""Rescaling and Normalization: values, adapt, gradients, config and .h5 round trips, errors."""
import numpy as np
import pytest

from engine.layers import (Add, Dense, Input, Normalization, Rescaling, deserialize_layer,
                           serialize_layer)
from engine.layers.preprocessing import adapt_normalizations
from engine.models import Model, Sequential, load_model
from tests.gradcheck import check_layer

rng = np.random.default_rng(0)


def test_rescaling_values_and_gradient():
    layer = Rescaling(1 / 127.5, offset=-1)
    x = np.array([[0, 127.5, 255]], np.float32)
    np.testing.assert_allclose(layer(x), [[-1, 0, 1]], atol=1e-6)
    check_layer(Rescaling(0.5, offset=2.0), rng.standard_normal((3, 4)))


def test_rescaling_takes_raw_uint8_pixels_and_round_trips():
    model = Sequential([Input((4,)), Rescaling(1 / 255), Dense(2)])
    raw = np.array([[0, 255, 128, 3]], np.uint8)
    out = model.predict(raw, verbose=0)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    clone = deserialize_layer(serialize_layer(model.layers[0]))
    assert (clone.scale, clone.offset) == (pytest.approx(1 / 255), 0.0)


@pytest.mark.parametrize("kwargs, msg", [({"scale": "a"}, "'scale' expects a"),
                                         ({"scale": float("nan")}, "'scale' expects a finite"),
                                         ({"scale": 1.0, "offset": None}, "'offset'")])
def test_rescaling_bad_arguments_name_the_argument(kwargs, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        Rescaling(**kwargs)


# ------------------------------------------------------------------ Normalization
def test_normalization_adapt_matches_numpy_per_feature_and_over_everything():
    x = rng.normal(3, 2, (50, 4)).astype(np.float32)
    n = Normalization()
    n.adapt(x)
    np.testing.assert_allclose(n.mean.value, x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(n.variance.value, x.var(0), rtol=1e-4)
    np.testing.assert_allclose(n(x), (x - x.mean(0)) / x.std(0), atol=1e-4)
    assert n.adapted and n.count.value == 50
    every = Normalization(axis=None)
    every.adapt(x)
    assert every.mean.shape == () and every.mean.value == pytest.approx(x.mean(), rel=1e-5)


def test_normalization_adapt_in_batches_equals_adapt_at_once():
    x = rng.normal(-1, 5, (37, 3, 2)).astype(np.float32)
    whole, parts = Normalization(axis=-1), Normalization(axis=-1)
    whole.adapt(x)
    parts.adapt(x, batch_size=8)
    np.testing.assert_allclose(parts.mean.value, whole.mean.value, rtol=1e-5)
    np.testing.assert_allclose(parts.variance.value, whole.variance.value, rtol=1e-5)
    seq = Normalization(axis=-1)
    seq.adapt([(x[i:i + 10], None) for i in range(0, 37, 10)])   # (x, y) batches
    np.testing.assert_allclose(seq.mean.value, whole.mean.value, rtol=1e-5)


@pytest.mark.parametrize("invert", [False, True])
def test_normalization_gradient_and_fixed_statistics(invert):
    layer = Normalization(mean=[1.0, -2.0, 0.5], variance=[4.0, 0.25, 1.0], invert=invert)
    check_layer(layer, rng.standard_normal((3, 3)))
    x = np.array([[3.0, -1.0, 0.5]], np.float32)
    expect = [[7.0, -2.5, 1.0]] if invert else [[1.0, 2.0, 0.0]]   # mean + x·std, (x − mean)/std
    np.testing.assert_allclose(layer(x), expect, atol=1e-6)
    assert layer.weights == [] and layer.adapted


def test_normalization_survives_save_and_load(tmp_path):
    x = rng.normal(3, 2, (40, 4)).astype(np.float32)
    norm = Normalization()
    norm.adapt(x)
    model = Sequential([Input((4,)), norm, Dense(2)])
    model.save(tmp_path / "m.h5")
    again = load_model(tmp_path / "m.h5")
    np.testing.assert_allclose(again.predict(x[:3], verbose=0), model.predict(x[:3], verbose=0),
                               atol=1e-6)
    assert again.layers[0].adapted and again.layers[0].count.shape == ()
    fixed = Sequential([Input((2,)), Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])])
    fixed.save(tmp_path / "f.h5")
    np.testing.assert_allclose(load_model(tmp_path / "f.h5").predict(
        np.array([[3.0, 5.0]], np.float32), verbose=0), [[1.0, 1.0]], atol=1e-6)


def test_adapt_normalizations_adapts_only_unadapted_layers_on_model_inputs():
    x = rng.normal(10, 3, (30, 4)).astype(np.float32)
    i = Input((4,))
    fresh = Normalization(name="fresh")
    done = Normalization(name="done")
    done.adapt(np.ones((2, 4)) * [0, 1, 2, 3])
    model = Model(i, Add()([fresh(i), done(i)]))
    assert adapt_normalizations(model, x) == ["fresh"]
    np.testing.assert_allclose(fresh.mean.value, x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(done.mean.value, [0, 1, 2, 3])
    assert adapt_normalizations(model, x) == []


@pytest.mark.parametrize("kwargs, msg", [
    ({"mean": [1.0]}, "both 'mean' and 'variance'"),
    ({"mean": [1.0, 2.0], "variance": [1.0]}, "has shape"),
    ({"mean": [0.0], "variance": [-1.0]}, ">= 0"),
])
def test_normalization_bad_arguments(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        Normalization(**kwargs)


def test_normalization_bad_data_is_named():
    n = Normalization()
    n.adapt(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"got data of shape \(2, 5\)"):
        n.adapt(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"NaN or inf \(first at index \(1, 0\)\)"):
        Normalization().adapt(np.array([[1.0, 2.0], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="fixed 'mean'"):
        Normalization(mean=0.0, variance=1.0).adapt(np.zeros((2, 2)))
