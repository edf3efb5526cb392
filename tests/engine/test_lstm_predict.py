"""LSTM prediction (engine/kernels/recurrent_infer.py, inside model.predict/evaluate) against
the training forward, which keeps every state for the backward pass: same outputs for masks,
go_backwards, sequences, states, odd batch sizes and activations."""
import numpy as np
import pytest

from engine.layers import LSTM
from engine.layers.base import predicting

CASES = [{}, {"return_sequences": True}, {"return_state": True},
         {"return_sequences": True, "return_state": True, "go_backwards": True},
         {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
         {"use_bias": False, "return_sequences": True}]


@pytest.mark.parametrize("kw", CASES)
@pytest.mark.parametrize("n", [1, 7, 70])
@pytest.mark.parametrize("masked", [False, True])
def test_prediction_equals_the_training_forward(kw, n, masked):
    rng = np.random.default_rng(n)
    layer = LSTM(9, **kw)
    layer.build((None, 6, 5))
    for w in layer.weights:
        w.value[...] = rng.uniform(-0.5, 0.5, w.value.shape)
    x = rng.standard_normal((n, 6, 5)).astype(np.float32)
    mask = None
    if masked:
        mask = rng.random((n, 6)) > 0.3
        mask[:, 0] = True
    train = layer.forward(x, training=True, mask=mask)
    with predicting():
        pred = layer.forward(x, training=False, mask=mask)
    train = train if isinstance(train, list) else [train]
    pred = pred if isinstance(pred, list) else [pred]
    assert len(train) == len(pred)
    for a, b in zip(train, pred):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6)



def test_predict_uses_the_prediction_kernel_and_a_plain_call_keeps_states():
    from engine.layers import Dense
    from engine.models import Sequential
    model = Sequential([LSTM(4, input_shape=(5, 3)), Dense(1)])
    x = np.random.default_rng(0).standard_normal((6, 5, 3)).astype(np.float32)
    lstm = model.layers[0]
    calls = []
    original = lstm._predict
    lstm._predict = lambda xin: calls.append(1) or original(xin)
    p = model.predict(x, verbose=0)
    assert calls == [1]
    np.testing.assert_allclose(model(x), p, rtol=1e-5, atol=1e-6)    # __call__: full forward
    assert calls == [1] and lstm._hs.shape == (6, 6, 4)
