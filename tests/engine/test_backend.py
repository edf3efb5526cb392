"""keras.backend: floatx/epsilon/image_data_format as Keras names them, and what the engine
cannot do is refused with a message instead of half-honoured."""
import numpy as np
import pytest

import engine as keras
from engine import backend, losses


def test_keras_answers():
    assert keras.backend.floatx() == "float32"
    assert keras.backend.epsilon() == 1e-7
    assert keras.backend.image_data_format() == "channels_last"
    assert keras.backend.backend() == "numpy"
    keras.backend.set_image_data_format("channels_last")
    with backend.floatx_scope("float64"):
        assert backend.floatx() == "float64"
        assert keras.layers.Dense(2)(np.ones((1, 3))).dtype == np.float64
    assert backend.floatx() == "float32"


def test_refusals_name_the_way_out():
    with pytest.raises(ValueError, match="computes in 'float32'.*got 'float16'"):
        backend.set_floatx("float16")
    with pytest.raises(ValueError, match="got 'bfloat16'"):
        backend.set_floatx("bfloat16")
    with pytest.raises(ValueError, match="channels-last.*np.moveaxis"):
        backend.set_image_data_format("channels_first")
    with pytest.raises(ValueError, match="small positive number"):
        backend.set_epsilon(0)


def test_set_epsilon_reaches_losses():
    y, p = np.array([[0.0, 2.0]]), np.array([[1.0, 1.0]])
    before = losses.get("mape")(y, p)
    try:
        backend.set_epsilon(1e-3)
        assert losses.get("mape")(y, p) == pytest.approx(100 * (1 / 1e-3 + 0.5) / 2)
    finally:
        backend.set_epsilon(1e-7)
    assert losses.get("mape")(y, p) == before


def test_clear_session_restarts_layer_names():
    keras.backend.clear_session()
    assert keras.layers.Dense(1).name == "dense"
    assert keras.layers.Dense(1).name == "dense_1"
    keras.backend.clear_session()
    assert keras.layers.Dense(1).name == "dense"


def test_set_random_seed_makes_initial_weights_repeat():
    from engine.utils import set_random_seed
    set_random_seed(5)
    a = keras.layers.Dense(3)(np.ones((1, 2), np.float32))
    set_random_seed(5)
    b = keras.layers.Dense(3)(np.ones((1, 2), np.float32))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="whole number >= 0"):
        set_random_seed(-1)
