"""Embedding: lookups, the row-sparse gradient, mask_zero, and errors for bad token ids."""
import numpy as np
import pytest

from engine import Input
from engine.layers import LSTM, Dense, Embedding
from engine.models import Sequential
from tests.gradcheck import check_layer

r = np.random.default_rng(0)


def dense_grad(ids, dy, shape):
    g = np.zeros(shape)
    np.add.at(g, ids.reshape(-1), dy.reshape(-1, shape[1]))
    return g


def test_gradient_and_lookup():
    check_layer(Embedding(7, 3), r.integers(0, 7, (4, 5)))
    check_layer(Embedding(6, 2), r.integers(0, 6, (3, 2, 4)))   # any rank of ids
    layer = Embedding(5, 2)
    ids = np.array([[1, 4], [0, 1]])
    out = layer(ids)
    np.testing.assert_array_equal(out, layer.embeddings.value[ids])


def test_backward_clears_the_rows_of_the_previous_batch():
    """Only touched rows are zeroed and re-filled; the result equals the dense gradient."""
    layer = Embedding(50, 4)
    layer.maybe_build((None, 6))
    for _ in range(3):
        ids = r.integers(0, 50, (5, 6))
        dy = r.standard_normal((5, 6, 4)).astype(np.float32)
        layer.forward(ids)
        layer.backward(dy)
        np.testing.assert_allclose(layer.embeddings.grad, dense_grad(ids, dy, (50, 4)),
                                   rtol=1e-6, atol=1e-6)


def test_backward_clears_everything_when_someone_else_wrote_the_grad():
    layer = Embedding(20, 3, embeddings_regularizer="l2")
    layer.maybe_build((None, 4))
    ids = np.array([[1, 2, 3, 4]])
    dy = np.ones((1, 4, 3), np.float32)
    layer.forward(ids)
    layer.backward(dy)
    layer.embeddings.grad += 1.0             # what training does with a regularizer
    layer.forward(ids)
    layer.backward(dy)
    np.testing.assert_array_equal(layer.embeddings.grad, dense_grad(ids, dy, (20, 3)))
    plain = Embedding(20, 3)
    plain.maybe_build((None, 4))
    plain.forward(ids)
    plain.backward(dy)
    plain.embeddings.grad = np.full((20, 3), 5.0, np.float32)   # a model rebinding buffers
    plain.forward(ids)
    plain.backward(dy)
    np.testing.assert_array_equal(plain.embeddings.grad, dense_grad(ids, dy, (20, 3)))


def test_mask_zero_and_shapes():
    layer = Embedding(10, 4, mask_zero=True)
    ids = np.array([[0, 0, 3, 4], [5, 0, 0, 0]])
    np.testing.assert_array_equal(layer.compute_mask(ids, None), ids != 0)
    assert Embedding(10, 4).compute_mask(ids, None) is None
    assert layer.compute_output_shape((None, 4)) == (None, 4, 4)


def test_trains_in_a_model_with_masking():
    """Embedding(mask_zero) → LSTM → Dense learns to tell which token a padded sequence holds."""
    x = np.zeros((64, 8), np.int32)
    y = np.zeros(64, np.float32)
    for i in range(64):
        n = 1 + i % 7
        x[i, -n:] = 1 + (i % 2)
        y[i] = i % 2
    model = Sequential([Embedding(3, 4, mask_zero=True), LSTM(4), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["accuracy"][-1] == 1.0


def test_keyword_and_keras2_arguments():
    layer = Embedding(input_dim=100, output_dim=8, input_length=12)
    assert layer.input_dim == 100 and layer._batch_input_shape == (None, 12)
    model = Sequential([layer, LSTM(2)])
    assert model.layers[0].input_shape == (None, 12)
    assert "input_length" not in layer.get_config()
    assert Embedding.from_config(layer.get_config()).input_dim == 100


def test_bad_token_ids_get_clear_errors():
    layer = Embedding(100, 4, name="emb")
    layer.maybe_build((None, 3))
    with pytest.raises(ValueError, match=r"Embedding 'emb': token id 250 \(the largest in the "
                                         r"batch, at position \(1, 2\)\) is out of range: "
                                         r"input_dim=100 allows ids 0\.\.99"):
        layer(np.array([[1, 2, 3], [4, 5, 250]]))
    with pytest.raises(ValueError, match=r"token id 300 \(the largest in the batch, at position "
                                         r"\(0, 1\)\)"):
        layer(np.array([[120, 300, 3], [4, 250, 100]]))
    with pytest.raises(ValueError, match="negative token id -1"):
        layer(np.array([[1, -1, 3]]))
    with pytest.raises(ValueError, match=r"token ids must be integers, got the value 1\.5 at "
                                         r"position \(0, 1\)"):
        layer(np.array([[1.0, 1.5, 2.0]]))
    np.testing.assert_array_equal(layer(np.array([[1.0, 2.0]])),
                                  layer(np.array([[1, 2]])))   # whole-number floats are ids
    with pytest.raises(ValueError, match="ragged.*pad_sequences"):
        layer([[1, 2, 3], [4, 5]])
    with pytest.raises(ValueError, match="empty sequences"):
        layer(np.zeros((2, 0), np.int32))
    with pytest.raises(ValueError, match="integers, got dtype <U1"):
        layer(np.array([["a", "b"]]))


def test_fit_names_the_problem_with_ragged_or_out_of_range_data():
    model = Sequential([Input((3,), dtype="int32"), Embedding(10, 2, name="emb"), LSTM(2),
                        Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="pad_sequences"):
        model.fit([[1, 2, 3], [1, 2]], np.zeros(2), verbose=0)
    with pytest.raises(ValueError, match="token id 12 .* input_dim=10"):
        model.fit(np.array([[1, 2, 12]]), np.zeros(1), verbose=0)


def test_sequential_without_input_takes_lists_of_ids_and_names_bad_ones():
    """Sequential([Embedding, ...]) builds from the data: a list of lists is the data (not a
    list of inputs), ragged lists and text get errors that name the first layer."""
    def model():
        m = Sequential([Embedding(20, 3, name="emb"), LSTM(2), Dense(1, activation="sigmoid")])
        m.compile(optimizer="adam", loss="binary_crossentropy")
        return m
    m = model()
    m.fit([[1, 2, 3], [4, 5, 6]], np.array([0.0, 1.0]), verbose=0)
    assert m.predict([[1, 2, 3]], verbose=0).shape == (1, 1)
    with pytest.raises(ValueError, match=r"Embedding 'emb': .*ragged.*pad_sequences"):
        model().fit([[1, 2, 3], [4, 5]], np.array([0.0, 1.0]), verbose=0)
    with pytest.raises(ValueError, match=r"Embedding 'emb': .*ragged.*pad_sequences"):
        model().predict([np.array([1, 2, 3]), np.array([4, 5])], verbose=0)
    with pytest.raises(ValueError, match=r"Embedding 'emb': expects numbers, got text.*Tokenizer"):
        model().fit(np.array([["a", "b"], ["c", "d"]]), np.array([0.0, 1.0]), verbose=0)
    with pytest.raises(ValueError, match=r"Embedding 'emb': got empty sequences"):
        model().fit([[], []], np.array([0.0, 1.0]), verbose=0)
    with pytest.raises(ValueError, match=r"Embedding 'emb': token ids must be integers, got the "
                                         r"value 2\.5"):
        model().fit(np.array([[1.0, 2.5], [3.0, 4.0]]), np.array([0.0, 1.0]), verbose=0)
    with pytest.raises(ValueError, match=r"Embedding 'emb': token id 45 \(the largest"):
        model().fit(np.array([[1, 21], [45, 4]]), np.array([0.0, 1.0]), verbose=0)
