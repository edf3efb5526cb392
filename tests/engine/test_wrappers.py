"""Bidirectional and TimeDistributed: gradients, merge modes, naming, weights, errors."""
import numpy as np
import pytest

from engine import Input
from engine.io.weights import weight_paths
from engine.layers import (GRU, LSTM, Bidirectional, Conv1D, Dense, SimpleRNN, TimeDistributed,
                           deserialize_layer, serialize_layer)
from engine.models import Sequential
from tests.gradcheck import check_layer

r = np.random.default_rng(1)
X = r.standard_normal((3, 5, 4))
MASK = np.ones((3, 5), bool)
MASK[0, :2] = False
MASK[1, 3] = False


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
@pytest.mark.parametrize("options", [{}, dict(return_sequences=True), dict(return_state=True),
                                     dict(return_sequences=True, return_state=True)],
                         ids=lambda o: ",".join(o) or "last")
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
def test_bidirectional_gradients(merge_mode, options, masked):
    check_layer(Bidirectional(LSTM(3, **options), merge_mode=merge_mode), X,
                mask=MASK if masked else None)


def test_bidirectional_with_its_own_backward_layer():
    layer = Bidirectional(GRU(2, return_sequences=True),
                          backward_layer=SimpleRNN(2, return_sequences=True, go_backwards=True))
    check_layer(layer, X, mask=MASK)


def test_bidirectional_is_forward_plus_reversed_backward():
    layer = Bidirectional(LSTM(3, return_sequences=True, name="enc"))
    x = r.standard_normal((2, 6, 4)).astype(np.float32)
    y = layer(x)
    assert [layer.forward_layer.name, layer.backward_layer.name] == ["forward_enc", "backward_enc"]
    np.testing.assert_allclose(y[..., :3], layer.forward_layer(x), atol=1e-6)
    np.testing.assert_allclose(y[..., 3:], layer.backward_layer(x)[:, ::-1], atol=1e-6)
    assert layer.compute_output_shape((None, 6, 4)) == (None, 6, 6)
    assert Bidirectional(GRU(2, return_state=True), merge_mode=None).compute_output_shape(
        (None, 6, 4)) == [(None, 2), (None, 2), (None, 2), (None, 2)]


def test_bidirectional_masks_and_config():
    layer = Bidirectional(LSTM(3, return_sequences=True), merge_mode="sum", name="bi")
    assert layer.compute_mask(None, MASK) is MASK
    assert Bidirectional(LSTM(3)).compute_mask(None, MASK) is None
    assert layer.forward_layer.zero_output_for_mask        # as Keras forces it
    cfg = serialize_layer(layer)
    again = deserialize_layer(cfg)
    assert again.forward_layer.name == layer.forward_layer.name
    assert again.backward_layer.name == layer.backward_layer.name
    assert again.backward_layer.go_backwards and again.merge_mode == "sum"
    assert serialize_layer(again) == cfg


def test_bidirectional_reads_a_keras3_config():
    """Keras 3 writes the nested layer with 'module' and a DTypePolicy object."""
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
              "registered_name": None}
    nested = {"module": "keras.layers", "class_name": "GRU", "registered_name": None,
              "config": {"name": "forward_gru", "units": 2, "dtype": policy,
                         "kernel_initializer": {"module": "keras.initializers",
                                                "class_name": "GlorotUniform",
                                                "config": {"seed": None}},
                         "return_sequences": True}}
    layer = Bidirectional(layer=nested, merge_mode="concat")
    assert layer.forward_layer.units == 2 and layer.forward_layer.dtype == "float32"


def test_bidirectional_weights_and_hdf5_paths():
    model = Sequential([Input((5, 4)), Bidirectional(LSTM(3), name="bidirectional")],
                       name="m")
    layer = model.layers[0]
    assert len(layer.weights) == 6 and layer.count_params() == 2 * (4 * 12 + 3 * 12 + 12)
    paths = [p for p, _ in weight_paths(model, layer)]
    assert paths[0].startswith("m/bidirectional/forward_") and paths[0].endswith(
        "/lstm_cell/kernel")
    assert "/backward_" in paths[3]
    layer.trainable = False
    assert not layer.forward_layer.trainable and not model.trainable_weights


def test_time_distributed():
    check_layer(TimeDistributed(Dense(3, activation="tanh")), X)
    check_layer(TimeDistributed(Dense(2)), r.standard_normal((2, 3, 4, 5)))
    layer = TimeDistributed(Dense(3, name="dense"), name="td")
    assert layer.compute_output_shape((None, 7, 4)) == (None, 7, 3)
    model = Sequential([Input((7, 4)), layer], name="m")
    assert [p for p, _ in weight_paths(model, layer)] == ["m/td/dense/kernel", "m/td/dense/bias"]
    y = model.predict(r.standard_normal((2, 7, 4)).astype(np.float32), verbose=0)
    assert y.shape == (2, 7, 3)
    assert TimeDistributed(Dense(3)).compute_mask(None, MASK) is MASK
    check_layer(TimeDistributed(Conv1D(2, 2)), r.standard_normal((2, 3, 5, 2)))


def test_wrapper_errors():
    with pytest.raises(ValueError, match="argument 'layer' is required"):
        Bidirectional()
    with pytest.raises(ValueError, match="wraps recurrent layers .* got Dense"):
        Bidirectional(Dense(3))
    with pytest.raises(ValueError, match="go_backwards differs"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2))
    with pytest.raises(ValueError, match="same 'return_sequences'"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2, go_backwards=True, return_sequences=True))
    with pytest.raises(ValueError, match="argument 'merge_mode' expects one of"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, timesteps, \.\.\.\)"):
        TimeDistributed(Dense(2)).compute_output_shape((None, 4))


def test_saved_model_with_wrappers_loads_back(tmp_path):
    """The .h5 export writes wrapped layers the way Keras 3 reads them (module-qualified)."""
    import json

    import h5py

    from engine.io.keras_h5 import load_model
    from engine.layers import Embedding
    model = Sequential([Input((6,), dtype="int32"), Embedding(20, 4, mask_zero=True),
                        Bidirectional(GRU(3, return_sequences=True)), TimeDistributed(Dense(2)),
                        LSTM(2)])
    model.compile(optimizer="adam", loss="mse")
    x = np.array([[0, 0, 3, 4, 5, 6], [1, 2, 3, 0, 0, 0]], np.int32)
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        layers = json.loads(f.attrs["model_config"])["config"]["layers"]
    assert layers[2]["config"]["layer"]["module"] == "keras.layers"
    assert layers[2]["config"]["backward_layer"]["config"]["go_backwards"] is True
    again = load_model(tmp_path / "m.h5")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
