"""SimpleRNN, LSTM, GRU: gradients through time, Keras fixtures, masking semantics, errors."""
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine import Input
from engine.io.weights import read_weights_group, weight_paths
from engine.layers import (GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN,
                           TimeDistributed)
from engine.models import Model, Sequential
from tests.gradcheck import check_layer

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
r = np.random.default_rng(0)
X = r.standard_normal((3, 5, 4))
MASK = np.ones((3, 5), bool)
MASK[0, :2] = False      # pre-padding
MASK[1, 3] = False       # a hole
MASK[2, 4] = False       # post-padding: the last step is skipped

CELLS = [lambda **kw: SimpleRNN(3, **kw), lambda **kw: LSTM(3, **kw), lambda **kw: GRU(3, **kw),
         lambda **kw: GRU(3, reset_after=False, **kw)]
OPTIONS = [{}, dict(return_sequences=True), dict(go_backwards=True),
           dict(go_backwards=True, return_sequences=True), dict(return_state=True),
           dict(return_sequences=True, return_state=True),
           dict(return_sequences=True, zero_output_for_mask=True)]


@pytest.mark.parametrize("cell", CELLS, ids=["simple_rnn", "lstm", "gru", "gru_reset_before"])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "last")
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
def test_gradients_through_time(cell, options, masked):
    check_layer(cell(**options), X, mask=MASK if masked else None)


@pytest.mark.parametrize("layer", [
    lambda: SimpleRNN(3, activation="relu", use_bias=False),
    lambda: SimpleRNN(2, activation="softsign", return_sequences=True),
    lambda: LSTM(3, recurrent_activation="hard_sigmoid", activation="elu"),
    lambda: GRU(2, activation="relu6", recurrent_activation="hard_sigmoid", use_bias=False),
    lambda: LSTM(2, activation=None, return_sequences=True, unit_forget_bias=False),
])
def test_gradients_with_other_activations(layer):
    check_layer(layer(), X * 0.5, mask=MASK)


@pytest.mark.parametrize("cell", CELLS, ids=["simple_rnn", "lstm", "gru", "gru_reset_before"])
def test_dropout_gradients_with_fixed_masks(cell, monkeypatch):
    """training=True with dropout: the gradient through the (fixed) masks is exact."""
    layer = cell(dropout=0.3, recurrent_dropout=0.4, return_sequences=True)
    fixed = {}

    def fixed_mask(shape, rate, dtype):
        if shape not in fixed:
            fixed[shape] = (np.random.default_rng(len(shape)).random(shape) >= rate) / (1 - rate)
        return fixed[shape].astype(dtype)

    monkeypatch.setattr(layer, "_dropout_mask", fixed_mask)
    check_layer(layer, X, training=True, mask=MASK)
    assert any(0.0 in m for m in fixed.values())


def test_dropout_only_while_training():
    layer = LSTM(4, dropout=0.5, recurrent_dropout=0.5, seed=1)
    x = r.standard_normal((8, 6, 3)).astype(np.float32)
    a, b = layer(x), layer(x)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(layer.forward(x, training=True), a)


def _load(name, model, atol=1e-5):
    with h5py.File(FIX / f"{name}.h5", "r") as f:
        read_weights_group(f["model_weights"], model)
    io = np.load(FIX / f"{name}_io.npz")
    xs = [io[k] for k in sorted(io.files) if k.startswith("x")]
    ys = [io[k] for k in sorted(io.files) if k.startswith("y")]
    out = model.predict(xs[0], verbose=0)
    for got, want in zip(out if isinstance(out, list) else [out], ys):
        np.testing.assert_allclose(got, want, atol=atol)


def test_keras_seed_lstm_matches():
    """Embedding 1000×16 → LSTM 8 → Dense 1 sigmoid, made and saved by Keras 3."""
    _load("seed_lstm", Sequential([Input((20,), dtype="int32"), Embedding(1000, 16), LSTM(8),
                                   Dense(1, activation="sigmoid")]))


def test_keras_gru_simplernn_matches():
    _load("gru_simplernn", Sequential([Input((7, 5)), GRU(6, return_sequences=True),
                                       SimpleRNN(4), Dense(2)]))


def test_keras_masking_matches():
    """mask_zero with pre/post padding, holes and an all-padding row, through a Bidirectional
    LSTM returning sequences and a GRU going backwards (Keras 3, TensorFlow CPU)."""
    _load("rnn_masked", Sequential([Input((9,), dtype="int32"), Embedding(50, 6, mask_zero=True),
                                    Bidirectional(LSTM(5, return_sequences=True)),
                                    GRU(4, go_backwards=True), Dense(2)]))


def test_keras_variants_match():
    """relu SimpleRNN, TimeDistributed, GRU reset_after=False, hard_sigmoid LSTM going
    backwards, Bidirectional GRU averaged."""
    _load("rnn_variants", Sequential([
        Input((7, 5)), SimpleRNN(3, activation="relu", return_sequences=True),
        TimeDistributed(Dense(4)), GRU(3, reset_after=False, return_sequences=True),
        LSTM(4, go_backwards=True, return_sequences=True, recurrent_activation="hard_sigmoid",
             unit_forget_bias=False),
        Bidirectional(GRU(3), merge_mode="ave"), Dense(2)]))


def test_keras_return_state_matches():
    x = Input((6, 3), name="seq")
    out, h, c = LSTM(4, return_state=True, name="lstm")(x)
    seq, fh, bh = Bidirectional(GRU(2, return_sequences=True, return_state=True),
                                merge_mode="sum", name="bigru")(x)
    _load("rnn_states", Model(x, [out, h, c, seq, fh, bh], name="states"))


@pytest.mark.parametrize("cell", CELLS, ids=["simple_rnn", "lstm", "gru", "gru_reset_before"])
def test_masked_steps_are_skipped(cell):
    """A padded sequence gives what the unpadded one gives (the state is carried over)."""
    layer = cell(return_sequences=True)
    x = r.standard_normal((1, 6, 4)).astype(np.float32)
    padded = np.concatenate([np.zeros((1, 2, 4), np.float32), x[:, :4]], axis=1)
    mask = np.array([[0, 0, 1, 1, 1, 1]], bool)
    full = layer(x[:, :4])
    masked = layer.forward(padded, mask=mask)
    np.testing.assert_allclose(masked[:, 2:], full, atol=1e-6)
    np.testing.assert_array_equal(masked[:, :2], 0)       # no previous output yet
    layer.zero_output_for_mask = True
    hole = np.array([[1, 1, 0, 1, 1, 1]], bool)
    out = layer.forward(x, mask=hole)
    np.testing.assert_array_equal(out[:, 2], 0)


def test_go_backwards_reads_the_reversed_sequence():
    fwd = LSTM(3, return_sequences=True)
    x = r.standard_normal((2, 5, 4)).astype(np.float32)
    y = fwd(x[:, ::-1])
    bwd = LSTM(3, return_sequences=True, go_backwards=True)
    bwd(x)
    bwd.set_weights(fwd.get_weights())
    np.testing.assert_allclose(bwd(x), y, atol=1e-6)


def test_return_state_gives_final_states():
    layer = LSTM(3, return_sequences=True, return_state=True)
    seq, h, c = layer(r.standard_normal((2, 4, 5)).astype(np.float32))
    assert seq.shape == (2, 4, 3) and h.shape == c.shape == (2, 3)
    np.testing.assert_array_equal(seq[:, -1], h)
    assert layer.compute_output_shape((None, 4, 5)) == [(None, 4, 3), (None, 3), (None, 3)]
    assert GRU(2, return_state=True).compute_output_shape((None, None, 5)) == [(None, 2),
                                                                                (None, 2)]


def test_batch_rows_split_across_threads_agree():
    """The time loop runs row blocks on separate threads: a big batch equals row-by-row."""
    layer = GRU(5, return_sequences=True)
    x = r.standard_normal((40, 7, 3)).astype(np.float32)
    mask = r.random((40, 7)) > 0.2
    layer(x)
    whole = layer.forward(x, mask=mask)
    rows = np.concatenate([layer.forward(x[i:i + 1], mask=mask[i:i + 1]) for i in range(40)])
    np.testing.assert_allclose(whole, rows, atol=1e-6)


def test_float32_matches_float64():
    """The fast float32 tanh/sigmoid stay within 1e-5 of exact float64 math."""
    from engine import backend
    layer = LSTM(16, return_sequences=True)
    x = r.standard_normal((4, 30, 8))
    y32 = layer(x.astype(np.float32))
    with backend.floatx_scope("float64"):
        for w in layer.weights:
            w.value = w.value.astype(np.float64)
        y64 = layer.forward(x)
    np.testing.assert_allclose(y32, y64, atol=1e-5)


def test_keras_layouts_and_defaults():
    lstm = LSTM(8)
    lstm.maybe_build((None, 5, 3))
    assert [(w.name, w.shape) for w in lstm.weights] == [
        ("kernel", (3, 32)), ("recurrent_kernel", (8, 32)), ("bias", (32,))]
    np.testing.assert_array_equal(lstm.bias.value, [0] * 8 + [1] * 8 + [0] * 16)
    u = lstm.recurrent_kernel.value
    np.testing.assert_allclose(u @ u.T, np.eye(8), atol=1e-5)    # orthogonal rows
    gru = GRU(4)
    gru.maybe_build((None, 5, 3))
    assert gru.bias.shape == (2, 12) and GRU(4, reset_after=False).spec.params
    cfg = LSTM(8, return_sequences=True, dropout=0.2, name="l").get_config()
    assert cfg["recurrent_initializer"]["class_name"] == "Orthogonal"
    again = LSTM.from_config(cfg)
    assert again.get_config() == cfg


def test_hdf5_paths_have_the_cell_level():
    model = Sequential([Input((4, 3)), SimpleRNN(2, return_sequences=True, name="simple_rnn"),
                        GRU(2, name="gru"), Dense(1)], name="m")
    paths = [p for layer in model.layers for p, _ in weight_paths(model, layer)]
    assert "m/simple_rnn/simple_rnn_cell/recurrent_kernel" in paths
    assert "m/gru/gru_cell/bias" in paths


def test_clear_errors():
    with pytest.raises(ValueError, match="argument 'units' is required"):
        LSTM()
    with pytest.raises(ValueError, match="'activation'='gelu' is not supported in recurrent"):
        LSTM(3, activation="gelu")
    with pytest.raises(ValueError, match="stateful=True is not supported"):
        GRU(3, stateful=True)
    with pytest.raises(ValueError, match="'dropout' must be below 1"):
        SimpleRNN(3, dropout=1.0)
    with pytest.raises(ValueError, match=r"LSTM 'l': expects input of shape \(batch, timesteps, "
                                         r"features\)"):
        Sequential([Input((10,)), LSTM(3, name="l")])
    layer = LSTM(3, name="l")
    with pytest.raises(ValueError, match="0 timesteps"):
        layer(np.zeros((2, 0, 4), np.float32))
    with pytest.raises(ValueError, match="was built for 4 features per step, got input of "
                                         r"shape \(2, 3, 5\)"):
        layer.forward(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 3\) does not match"):
        layer.forward(np.zeros((2, 4, 4), np.float32), mask=np.ones((2, 3), bool))
