"""Shared layers (one layer object called several times) and models used as layers, in
Functional and subclassed models: per-call state kept with the call, weight gradients summed
over the calls — checked against finite differences."""
import numpy as np
import pytest

import engine as keras
from engine import layers, ops
from tests.modelcheck import check_model

rng = np.random.default_rng(1)


def test_siamese_functional_model_with_a_shared_dense_stack():
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    y = rng.standard_normal((5, 1))

    def make():
        shared1 = layers.Dense(6, activation="tanh")
        shared2 = layers.Dense(3)
        ia, ib = keras.Input((4,)), keras.Input((4,))
        ea, eb = shared2(shared1(ia)), shared2(shared1(ib))
        dist = layers.Subtract()([ea, eb])
        return keras.Model([ia, ib], layers.Dense(1)(layers.Multiply()([dist, dist])))
    model = check_model(make, [a, b], y)
    assert len(model.weights) == 6           # the shared layers' weights once


def test_shared_lstm_and_shared_user_layer():
    class Scale(keras.layers.Layer):
        def build(self, shape):
            self.s = self.add_weight(shape=(shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.s

    a, b = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    y = rng.standard_normal((3, 3))

    def make():
        lstm, scale = layers.LSTM(3), Scale()
        ia, ib = keras.Input((4, 2)), keras.Input((4, 2))
        return keras.Model([ia, ib], layers.Add()([scale(lstm(ia)), scale(lstm(ib))]))
    check_model(make, [a, b], y, rtol=1e-4)


def test_shared_layer_config_round_trip_keeps_the_sharing():
    shared = layers.Dense(2, name="shared")
    ia, ib = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    model = keras.Model([ia, ib], layers.Add()([shared(ia), shared(ib)]))
    x = [rng.standard_normal((2, 3)).astype("float32") for _ in range(2)]
    config = model.get_config()
    entry = next(e for e in config["layers"] if e["name"] == "shared")
    assert len(entry["inbound_nodes"]) == 2
    again = keras.Model.from_config(config)
    again.set_weights(model.get_weights())
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    assert len(again.weights) == 2


def test_layer_input_and_output():
    inp = keras.Input((3,))
    dense = layers.Dense(2)
    out = dense(inp)
    assert dense.input is inp and dense.output is out
    dense(keras.Input((3,)))
    with pytest.raises(AttributeError, match="called 2 times"):
        _ = dense.output
    fresh = layers.Dense(2)
    with pytest.raises(AttributeError, match="never been called"):
        _ = fresh.input


def test_functional_model_nested_in_a_functional_model():
    x = rng.standard_normal((4, 5))
    y = rng.standard_normal((4, 2))

    def make():
        inner_in = keras.Input((3,))
        inner = keras.Model(inner_in, layers.Dense(3, activation="tanh")(inner_in))
        inp = keras.Input((5,))
        h = inner(layers.Dense(3)(inp))
        return keras.Model(inp, layers.Dense(2)(inner(h)))   # and called twice
    check_model(make, x, y)


def test_sequential_nested_and_shared_in_a_siamese_model():
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    y = rng.standard_normal((4, 1))

    def make():
        base = keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="relu"),
                                 layers.Dense(2)])
        ia, ib = keras.Input((3,)), keras.Input((3,))
        d = layers.Subtract()([base(ia), base(ib)])
        return keras.Model([ia, ib], layers.Dense(1)(d))
    check_model(make, [a, b], y)


def test_nested_model_trains_and_predicts_like_its_parts():
    inner_in = keras.Input((4,))
    inner = keras.Model(inner_in, layers.Dense(2)(inner_in), name="inner")
    inp = keras.Input((4,))
    outer = keras.Model(inp, inner(inp))
    x = rng.standard_normal((8, 4)).astype("float32")
    np.testing.assert_allclose(outer.predict(x, verbose=0), inner.predict(x, verbose=0))
    outer.compile("sgd", "mse")
    before = inner.get_weights()[0].copy()
    outer.fit(x, np.zeros((8, 2)), epochs=1, verbose=0)
    assert not np.allclose(inner.get_weights()[0], before)
    assert [lyr.name for lyr in outer.layers][-1] == "inner"


def test_clone_model_keeps_the_architecture_and_sharing_with_fresh_weights():
    shared = layers.Dense(3, name="shared")
    ia, ib = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    inner_in = keras.Input((3,))
    inner = keras.Model(inner_in, layers.Dense(2)(inner_in), name="inner")
    model = keras.Model([ia, ib], inner(layers.Add()([shared(ia), shared(ib)])))
    for recursive in (False, True):
        clone = keras.models.clone_model(model, recursive=recursive)
        assert [type(lyr).__name__ for lyr in clone.layers] == \
            [type(lyr).__name__ for lyr in model.layers]
        assert len(clone.weights) == len(model.weights) == 4
        assert all(a is not b for a, b in zip(clone.weights, model.weights))
        clone.set_weights(model.get_weights())
        x = [rng.standard_normal((2, 4)).astype("float32") for _ in range(2)]
        np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0),
                                   rtol=1e-6)
    seq = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    seq_clone = keras.models.clone_model(seq, clone_function=lambda lyr: type(lyr).from_config(
        {**lyr.get_config(), "name": lyr.name + "_c"}))
    assert seq_clone.layers[0].name.endswith("_c")


def test_feature_extractor_from_model_input_and_a_layer_output():
    inp = keras.Input((4,))
    hidden = layers.Dense(3, name="hidden")(inp)
    model = keras.Model(inp, layers.Dense(2)(hidden))
    assert model.input is inp and model.output.shape == (None, 2)
    features = keras.Model(inputs=model.input, outputs=model.get_layer("hidden").output)
    x = rng.standard_normal((2, 4)).astype("float32")
    np.testing.assert_allclose(features.predict(x, verbose=0),
                               x @ model.get_layer("hidden").kernel.value
                               + model.get_layer("hidden").bias.value, rtol=1e-5)


def test_layers_behind_only_weightless_layers_skip_their_input_gradient():
    """Flatten → Dense and Rescaling → Conv2D: nothing trainable lies before the Dense or the
    Conv2D, so they do not compute dx; a model used as a layer still passes its gradient on."""
    x = rng.standard_normal((4, 3, 2))
    y = rng.standard_normal((4, 2))

    def make():
        inp = keras.Input((3, 2))
        return keras.Model(inp, layers.Dense(2)(layers.Dense(5, activation="tanh")(
            layers.Flatten()(layers.Reshape((2, 3))(inp)))))
    model = make()
    assert [getattr(lyr, "need_dx", None) for lyr in model.layers] == \
        [None, None, None, False, True]
    conv = layers.Conv2D(2, 3)
    img = keras.Input((5, 5, 1))
    keras.Model(img, conv(layers.Rescaling(1 / 255)(img)))
    assert conv.need_dx is False
    check_model(make, x, y)

    def nested():
        inner_in = keras.Input((3, 2))
        inner = keras.Model(inner_in, layers.Dense(2)(layers.Flatten()(inner_in)))
        inp = keras.Input((3, 2))
        return keras.Model(inp, inner(layers.Dense(2, activation="tanh")(inp)))
    check_model(nested, x, y)


def test_gradients_of_a_tensor_read_by_several_layers_are_summed_without_corrupting_them():
    """A tensor read by a convolution, a Dense, an Add (which hands one gradient to both its
    inputs) and itself twice: its gradient is summed in place into arrays that backward owns
    (a layer's fresh input gradient, an earlier sum), never into one shared with another slot."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6, 6, 3))
    y = rng.standard_normal((4, 6, 6, 4))

    def make():
        inp = keras.Input((6, 6, 3))
        a = layers.Conv2D(4, 3, padding="same", activation="tanh")(inp)
        b = layers.Conv2D(4, 3, padding="same")(a)             # fresh dx into a
        c = layers.Dense(4, activation="tanh")(a)              # fresh dx into a
        d = layers.Add()([a, a])                               # the same gradient twice
        s = layers.Add()([b, c, d, a])
        return keras.Model(inp, layers.Multiply()([s, layers.Dense(4)(s)]))
    model = check_model(make, x, y)
    # backward leaves the arrays it was given as they were
    out_grad = rng.standard_normal((4, 6, 6, 4))
    kept = out_grad.copy()
    model._plan.forward([x], training=True)
    model._plan.backward([out_grad])
    np.testing.assert_array_equal(out_grad, kept)
