"""Rescaling: values, gradient, config round trip, integer inputs, clear errors."""
import numpy as np
import pytest

from engine.layers import Dense, Input, Rescaling, deserialize_layer, serialize_layer
from engine.models import Sequential
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
