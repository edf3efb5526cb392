"""Subclassed models (``class M(keras.Model)`` with ``call``): fit / evaluate / predict /
save_weights / load_weights / summary, trained on a tape — gradients checked against finite
differences, shared layers and nested models inside; and a built-in-only model never touches
the tape."""
import numpy as np
import pytest

import engine as keras
from engine import layers, ops
from engine.ops import tape as tape_module
from tests.modelcheck import check_model

rng = np.random.default_rng(2)


class MLP(keras.Model):
    def __init__(self, hidden=8, out=2, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(hidden, activation="relu")
        self.out = layers.Dense(out)

    def call(self, inputs, training=False):
        return self.out(self.hidden(inputs))


class Siamese(keras.Model):
    """One encoder called on both inputs; written with ops and built-in layers mixed."""

    def __init__(self):
        super().__init__()
        self.encoder = layers.Dense(4, activation="tanh")
        self.head = layers.Dense(1)

    def call(self, inputs):
        a, b = inputs["left"], inputs["right"]
        d = self.encoder(a) - self.encoder(b)
        return self.head(ops.square(d))


def test_subclassed_model_fits_evaluates_predicts():
    x = rng.standard_normal((64, 5)).astype("float32")
    y = (x[:, :2] * 2).astype("float32")
    model = MLP(16, 2)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] * 0.5
    loss, mae = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(history.history["loss"][-1], rel=0.5)
    assert model.predict(x[:3], verbose=0).shape == (3, 2)
    assert len(model.layers) == 2 and len(model.weights) == 4
    lines = []
    model.summary(print_fn=lines.append)
    assert "(Dense)" in lines[0] and "Total params: 130" in lines[0]


def test_subclassed_model_gradients():
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    check_model(lambda: MLP(4, 2), x, y)


def test_shared_layer_in_a_subclassed_model_gradients_and_dict_inputs():
    x = {"left": rng.standard_normal((5, 3)), "right": rng.standard_normal((5, 3))}
    y = rng.standard_normal((5, 1))
    check_model(Siamese, x, y)


def test_models_nested_in_a_subclassed_model_and_back():
    class Wrapper(keras.Model):
        def __init__(self):
            super().__init__()
            inp = keras.Input((3,))
            self.inner = keras.Model(inp, layers.Dense(3, activation="sigmoid")(inp))
            self.mlp = MLP(4, 2)

        def call(self, x):
            return self.mlp(self.inner(self.inner(x)))

    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    check_model(Wrapper, x, y)

    def functional_around_subclassed():
        inp = keras.Input((3,))
        return keras.Model(inp, layers.Dense(2)(MLP(4, 3)(layers.Dense(3)(inp))))
    check_model(functional_around_subclassed, x, y)


def test_add_loss_in_a_subclassed_model_is_trained():
    class Reg(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(3)

        def call(self, x):
            h = self.dense(x)
            self.add_loss(0.3 * ops.mean(ops.square(h)))
            return h

    x, y = rng.standard_normal((4, 2)), rng.standard_normal((4, 3))
    check_model(Reg, x, y)


def test_save_and_load_weights(tmp_path):
    x = rng.standard_normal((4, 5)).astype("float32")
    model = MLP(6, 2)
    model.predict(x, verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    again = MLP(6, 2)
    again.predict(x, verbose=0)
    again.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_build_with_an_input_shape():
    model = MLP(3, 1)
    model.build((None, 7))
    assert model.built and model.count_params() == 7 * 3 + 3 + 3 + 1


def test_model_without_call_or_graph_is_refused():
    with pytest.raises(ValueError, match="subclass Model and define call"):
        keras.Model()


def test_a_builtin_only_model_records_nothing_on_a_tape(monkeypatch):
    made = []
    real_init = tape_module.Tape.__init__

    def counting_init(self):
        made.append(self)
        real_init(self)
    monkeypatch.setattr(tape_module.Tape, "__init__", counting_init)
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"),
                              layers.Dropout(0.2), layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(rng.standard_normal((32, 6)), rng.integers(0, 3, 32), epochs=2, verbose=0)
    model.predict(rng.standard_normal((4, 6)), verbose=0)
    assert made == [] and not model._plan.runs_calls and not model._plan.has_shared
    MLP(2, 1)(np.ones((1, 2), np.float32))
    assert made == []                  # (eager calls of user code do not record either)


# ---------------------------------------------------------------------- user losses
class ScaledMSE(keras.losses.Loss):
    def __init__(self, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * ops.mean(ops.square(y_pred - y_true), axis=-1)


def log_cosh(y_true, y_pred):
    d = y_pred - y_true
    return ops.mean(d + ops.softplus(-2.0 * d) - np.log(2.0), axis=-1)


@pytest.mark.parametrize("loss", [ScaledMSE(), log_cosh, ScaledMSE(reduction="sum")],
                         ids=["subclass", "function", "sum_reduction"])
def test_user_losses_train_with_their_tape_gradients(loss):
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))

    def make():
        inp = keras.Input((3,))
        return keras.Model(inp, layers.Dense(2)(layers.Dense(4, activation="tanh")(inp)))
    check_model(make, x, y, loss=loss)


def test_user_loss_value_and_sample_weights_match_keras_semantics():
    y, p = np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[1.5, 2.0], [2.0, 4.0]])
    loss = ScaledMSE(scale=1.0)
    assert float(loss(y, p)) == pytest.approx((0.125 + 1.0) / 2)
    assert float(loss(y, p, sample_weight=np.array([2.0, 0.0]))) == pytest.approx(0.125)
    assert loss.name == "scaled_mse" and keras.losses.get(log_cosh).name == "log_cosh"
    builtin = keras.losses.MeanSquaredError()
    value, grad = builtin.value_and_gradient(y, p)
    assert value == pytest.approx(float(ScaledMSE(scale=1.0)(y, p)))


def test_saving_a_subclassed_model_as_h5_says_what_to_do(tmp_path):
    model = MLP(2, 1)
    model.predict(np.ones((1, 3), np.float32), verbose=0)
    with pytest.raises(ValueError, match="subclassed model.*save_weights"):
        model.save(tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()
