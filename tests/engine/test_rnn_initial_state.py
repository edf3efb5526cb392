"""RNN ``initial_state=``: the states start from given tensors, and their gradients flow back
to them (finite differences, float64) — as in Keras's encoder-decoder examples."""
import numpy as np
import pytest

import engine as keras
from engine import layers
from tests.gradcheck import check_layer

rng = np.random.default_rng(3)


@pytest.mark.parametrize("cls,kwargs", [
    (layers.SimpleRNN, {}), (layers.GRU, {}), (layers.GRU, {"reset_after": False}),
    (layers.LSTM, {}), (layers.LSTM, {"go_backwards": True, "return_sequences": True}),
    (layers.GRU, {"return_sequences": True, "return_state": True}),
])
def test_initial_state_gradients(cls, kwargs):
    layer = cls(3, **kwargs)
    x = rng.standard_normal((2, 4, 2))
    states = [rng.standard_normal((2, 3)) for _ in range(2 if cls is layers.LSTM else 1)]
    check_layer(layer, [x] + states, rtol=1e-4)


def test_initial_state_changes_the_output_and_masks_carry_it():
    lstm = layers.LSTM(2)
    x = rng.standard_normal((1, 3, 2)).astype("float32")
    h, c = np.ones((1, 2), np.float32), np.ones((1, 2), np.float32)
    assert not np.allclose(lstm(x), lstm(x, initial_state=[h, c]))
    masked = layers.SimpleRNN(2, return_sequences=True)
    masked.maybe_build([(None, 3, 2), (None, 2)])
    y = masked.forward([x, h], training=False, mask=np.array([[False, True, True]]))
    np.testing.assert_allclose(y[0, 0], h[0])     # a masked first step keeps the given state


def test_encoder_decoder_with_states_trains():
    enc_in, dec_in = keras.Input((None, 3)), keras.Input((None, 4))
    _, h, c = layers.LSTM(5, return_state=True)(enc_in)
    dec = layers.LSTM(5, return_sequences=True)(dec_in, initial_state=[h, c])
    model = keras.Model([enc_in, dec_in], layers.Dense(4, activation="softmax")(dec))
    model.compile("adam", "categorical_crossentropy")
    xe = rng.standard_normal((16, 6, 3)).astype("float32")
    xd = rng.standard_normal((16, 5, 4)).astype("float32")
    y = np.eye(4)[rng.integers(0, 4, (16, 5))]
    history = model.fit([xe, xd], y, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    with pytest.raises(ValueError, match="initial state"):
        layers.GRU(2)(keras.Input((3, 2)), initial_state=[keras.Input((2,)), keras.Input((2,))])
    with pytest.raises(ValueError, match=r"initial state 0 has shape \(None, 4\)"):
        layers.GRU(2)(keras.Input((3, 2)), initial_state=[keras.Input((4,))])
