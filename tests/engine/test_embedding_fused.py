"""Embedding → LSTM / GRU / SimpleRNN / Conv1D in training: the second layer gets the batch's
distinct vectors and each position's index into them (Embedding.fuse_next, forward_tokens),
and multiplies each distinct vector by its kernel once. Checked against the two layers run one
by one, and by finite differences."""
import numpy as np
import pytest

from engine import backend
from engine.kernels import embedding as KE
from engine.layers import (
    GRU,
    LSTM,
    Conv1D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalMaxPooling1D,
    Input,
    SimpleRNN,
    concatenate,
)
from engine.models import Model, Sequential
from engine.utils import set_random_seed
from tests.engine.test_conv import _train_grads
from tests.gradcheck import numeric_grad


def _model(lstm: dict, vocab: int = 40, steps: int = 13, embedding: dict | None = None,
           conv: dict | None = None, cell=LSTM):
    layers = [Input((steps,)), Embedding(vocab, 6, **(embedding or {}))]
    if conv is not None:
        conv = dict(conv)
        pool = conv.pop("pool", None)
        layers += [Conv1D(5, 3, **conv), Flatten() if pool else GlobalMaxPooling1D()]
    else:
        layers.append(cell(5, **lstm))
    if lstm.get("return_sequences"):
        layers.append(Flatten())
    m = Sequential(layers + [Dense(1, activation="sigmoid")])
    m.compile("adam", "binary_crossentropy")
    return m


def _ids(rng, n, steps=13, vocab=40):
    """Token ids 'pre'-padded with 0, as pad_sequences makes them: ids repeat within a batch."""
    x = rng.integers(1, vocab, (n, steps))
    for row, length in zip(x, rng.integers(1, steps + 1, n)):
        row[:steps - length] = 0
    return x


@pytest.mark.parametrize("lstm", [
    {},
    dict(go_backwards=True),
    dict(use_bias=False, unit_forget_bias=False),
    dict(activation="relu", recurrent_activation="hard_sigmoid"),   # the generic cell path
    dict(return_sequences=True),
    dict(recurrent_dropout=0.3, seed=4),
])
def test_fused_embedding_lstm_matches_the_layers(lstm):
    """Loss and every weight gradient (the embedding's rows included) equal the unfused
    layers', over three batches of different ids (rows the previous batch wrote must be
    cleared); batch sizes that are not a multiple of the block rows; same predictions."""
    _fused_matches_the_layers(lambda: _model(lstm))


@pytest.mark.parametrize("cell, options", [
    (GRU, {}),
    (GRU, dict(reset_after=False, go_backwards=True)),
    (GRU, dict(reset_after=False, return_sequences=True, use_bias=False)),
    (GRU, dict(activation="relu", recurrent_activation="hard_sigmoid", recurrent_dropout=0.2,
               seed=2)),
    (SimpleRNN, {}),
    (SimpleRNN, dict(go_backwards=True, return_sequences=True, activation="relu")),
    (SimpleRNN, dict(use_bias=False, recurrent_dropout=0.3, seed=5)),
])
def test_fused_embedding_gru_and_simple_rnn_match_the_layers(cell, options):
    """As above for GRU (both reset_after conventions) and SimpleRNN."""
    _fused_matches_the_layers(lambda: _model(options, cell=cell))


@pytest.mark.parametrize("conv", [
    dict(activation="relu"),
    dict(activation="relu", padding="same", pool="flatten"),
    dict(padding="causal", dilation_rate=2, activation="tanh", pool="flatten"),
    dict(strides=2, activation="sigmoid"),
    dict(strides=3, padding="same", use_bias=False, pool="flatten"),      # linear
])
def test_fused_embedding_conv1d_matches_the_layers(conv):
    """As above for Conv1D: paddings, strides, dilation, activations, no bias."""
    _fused_matches_the_layers(lambda: _model({}, conv=conv))


def _fused_matches_the_layers(build):
    # Seeded initial weights: the two paths sum the kernel gradient in different orders, and
    # with unseeded weights an element near zero exceeded atol 1e-7 in about 1 run in 4
    # (SimpleRNN without bias: 2.3e-7).
    set_random_seed(11)
    rng = np.random.default_rng(1)
    a, b = build(), build()
    b.set_weights(a.get_weights())
    assert [s.fused is not None for s in a._plan.steps] == [True] + [False] * (
        len(a._plan.steps) - 1)
    for n in (11, 9, 6):
        x, y = _ids(rng, n), rng.integers(0, 2, (n, 1))
        la, ga = _train_grads(a, x, y, fused=True)
        lb, gb = _train_grads(b, x, y, fused=False)
        assert la == pytest.approx(lb, rel=1e-6)
        np.testing.assert_allclose(ga, gb, rtol=1e-5, atol=1e-7)
    x = _ids(rng, 7)
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), rtol=1e-6)


def test_fused_training_follows_the_unfused_one():
    """fit with Adam: the weights after two epochs equal those of the layers run one by one."""
    rng = np.random.default_rng(2)
    x, y = _ids(rng, 40), rng.integers(0, 2, (40, 1))
    a, b = _model({}), _model({})
    b.set_weights(a.get_weights())
    b.layers[0].fuse_next = lambda layer: False        # a plan built again does not fuse
    for s in b._plan.steps:
        s.fused, s.prefused = None, False
    a.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    b.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    assert a._plan.steps[0].fused is not None and b._plan.steps[0].fused is None
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("lstm", [{}, dict(go_backwards=True, return_sequences=True),
                                  dict(activation="softsign", recurrent_activation="sigmoid",
                                       use_bias=False)])
def test_lstm_forward_tokens_gradients_by_finite_differences(lstm):
    _check_forward_tokens(lambda: LSTM(4, **lstm), seed=3)


@pytest.mark.parametrize("make", [
    lambda: GRU(4),
    lambda: GRU(4, reset_after=False, go_backwards=True, return_sequences=True),
    lambda: SimpleRNN(4, activation="softsign"),
])
def test_gru_and_simple_rnn_forward_tokens_gradients_by_finite_differences(make):
    _check_forward_tokens(make, seed=7)


@pytest.mark.parametrize("conv", [dict(), dict(padding="same", strides=2, activation="tanh"),
                                  dict(padding="causal", dilation_rate=2, activation="relu")])
def test_conv1d_forward_tokens_gradients_by_finite_differences(conv):
    _check_forward_tokens(lambda: Conv1D(4, 3, **conv), seed=6)


def _check_forward_tokens(make, seed: int):
    """forward_tokens of the layer ``make`` returns, in float64: the gradient it returns for
    the distinct rows (every entry) and each weight's gradient (30 entries) against central
    differences of Σ y·r. (A relu layer passes because no checked output sits within eps of
    its kink with these seeds.)"""
    rng = np.random.default_rng(seed)
    with backend.floatx_scope("float64"):
        layer = make()
        layer.maybe_build((None, 9, 3))
        for w in layer.weights:
            w.value = w.value.astype(np.float64) + rng.standard_normal(w.shape) * 0.3
            w.grad = np.zeros_like(w.value)
        rows = rng.standard_normal((5, 3))
        inv = rng.integers(0, 5, (6, 9)).astype(np.int32)
        r = rng.standard_normal(layer.forward_tokens(rows, inv).shape)
        d_rows = layer.backward(r)
        grads = [w.grad.copy() for w in layer.weights]

        def f():
            return float(np.sum(layer.forward_tokens(rows, inv) * r))

        every = [np.unravel_index(i, rows.shape) for i in range(rows.size)]
        np.testing.assert_allclose(d_rows[tuple(np.array(every).T)],
                                   numeric_grad(f, rows, every, 1e-6), rtol=1e-5, atol=1e-7)
        for w, ana in zip(layer.weights, grads):
            pos = [np.unravel_index(i, w.shape)
                   for i in rng.choice(w.value.size, min(w.value.size, 30), replace=False)]
            np.testing.assert_allclose(ana[tuple(np.array(pos).T)],
                                       numeric_grad(f, w.value, pos, 1e-6),
                                       rtol=1e-5, atol=1e-7, err_msg=w.name)


def test_fusion_only_where_it_is_exact():
    """No fusion when the recurrent layer has input dropout, the ids make a mask (mask_zero),
    the embedding output has two readers, the LSTM returns its states, or either layer is a
    subclass; a model whose layers make no mask skips the mask bookkeeping, one with
    mask_zero keeps it."""
    def fused(m):
        return any(s.fused is not None for s in m._plan.steps)

    assert fused(_model({}))
    assert not fused(_model(dict(dropout=0.2)))
    masked = _model({}, embedding=dict(mask_zero=True))
    assert masked._plan.uses_masks and not fused(masked)
    assert not _model({})._plan.uses_masks

    class MyLSTM(LSTM):
        pass

    class MyEmbedding(Embedding):
        pass

    class MyConv1D(Conv1D):
        pass

    assert fused(_model({}, conv={}))
    assert not fused(Sequential([Input((5,)), Embedding(9, 4), MyConv1D(2, 3), Dense(1)]))

    for emb, rnn in ((Embedding(9, 4), MyLSTM(3)), (MyEmbedding(9, 4), LSTM(3)),
                     (Embedding(9, 4), GRU(3, dropout=0.1)),
                     (Embedding(9, 4), SimpleRNN(3, dropout=0.1))):
        assert not fused(Sequential([Input((5,)), emb, rnn, Dense(1)]))
    for rnn in (GRU(3), SimpleRNN(3)):
        assert fused(Sequential([Input((5,)), Embedding(9, 4), rnn, Dense(1)]))
    inp = Input((5,))
    e = Embedding(9, 4)(inp)
    two = Model(inp, concatenate([LSTM(3)(e), Flatten()(e)]))
    assert not fused(two)
    inp = Input((5,))
    out, h, c = LSTM(3, return_state=True)(Embedding(9, 4)(inp))
    assert not fused(Model(inp, [out, h, c]))
    inp = Input((5,))
    assert not fused(Model(inp, LSTM(3)(Dropout(0.5)(Embedding(9, 4)(inp)))))


def test_fused_training_names_a_bad_token_id():
    m = _model({})
    x = _ids(np.random.default_rng(4), 4)
    x[2, 7] = 40
    with pytest.raises(ValueError, match=r"token id 40 .* out of range"):
        m.fit(x, np.zeros((4, 1)), verbose=0)


def test_compact_ids_and_grouped_sums():
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 30, 500)
    slots = np.full(30, -1, np.int32)
    rows, inv = KE.compact_ids(ids, slots)
    np.testing.assert_array_equal(rows[inv], ids)
    assert len(set(rows.tolist())) == rows.size == np.unique(ids).size
    assert (slots == -1).all()
    src = rng.standard_normal((500, 70)).astype(np.float32)
    starts, order = KE.group_rows(inv, rows.size)
    out = np.full((rows.size, 70), np.nan, np.float32)
    KE.sum_rows_grouped(out, src, starts, order, np.zeros(1, np.int64), 2)
    want = np.zeros((rows.size, 70))
    np.add.at(want, inv, src)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
