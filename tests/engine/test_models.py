"""Sequential and Functional models: building, fit/evaluate/predict, config, errors."""
import json

import h5py
import numpy as np
import pytest

from engine import Input, backend
from engine.layers import Add, Concatenate, Dense, Dropout, Flatten, InputLayer
from engine.models import Model, Sequential, model_from_json
from engine.optimizers import SGD, Adam
from engine.utils import Sequence, to_categorical

FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "keras"


def _blobs(n=600, seed=0):
    """Three separable Gaussian blobs in 4-D."""
    r = np.random.default_rng(seed)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=np.float32)
    y = r.integers(0, 3, n)
    x = centers[y] + 0.4 * r.standard_normal((n, 4)).astype(np.float32)
    return x, y


def test_seed_tutorial_code_runs_unchanged():
    x, y = _blobs()
    y1 = to_categorical(y, 3)
    model = Sequential()
    model.add(Dense(units=16, activation="relu", input_dim=4))
    model.add(Dense(units=3, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y1, epochs=40, batch_size=32, validation_split=0.2, verbose=0)
    loss, acc = model.evaluate(x, y1, verbose=0)
    assert acc > 0.95
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 40
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_sparse_labels_and_predict_shapes():
    x, y = _blobs()
    model = Sequential([Input(shape=(4,)), Dense(8, activation="tanh"), Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=25, verbose=0)
    p = model.predict(x[:7], verbose=0)
    assert p.shape == (7, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert model.evaluate(x, y, verbose=0)[1] > 0.9


def test_deferred_build_learns_input_shape_from_data():
    x, y = _blobs(64)
    model = Sequential([Dense(4, activation="relu"), Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert model.layers[0].kernel.shape == (4, 4)


def test_functional_two_inputs_two_outputs_trains():
    a, b = Input(shape=(5,), name="a"), Input(shape=(3,), name="b")
    h = Concatenate()([Dense(4, activation="relu")(a), Dense(4, activation="relu")(b)])
    cls = Dense(2, activation="softmax", name="cls")(h)
    reg = Dense(1, name="reg")(h)
    model = Model([a, b], [cls, reg])
    model.compile(Adam(0.01), loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  metrics={"cls": ["accuracy"]}, loss_weights=[1.0, 0.5])
    r = np.random.default_rng(1)
    xa, xb = r.standard_normal((64, 5)), r.standard_normal((64, 3))
    yc, yr = (xa[:, 0] > 0).astype(int), xb[:, :1] * 2
    h = model.fit({"a": xa, "b": xb}, {"cls": yc, "reg": yr}, epochs=30, batch_size=16, verbose=0)
    assert {"loss", "cls_loss", "reg_loss", "cls_accuracy"} <= set(h.history)
    assert h.history["loss"][-1] < h.history["loss"][0] * 0.7
    out = model.predict([xa, xb], verbose=0)
    assert [o.shape for o in out] == [(64, 2), (64, 1)]


def test_keras_fixture_seed_mlp_forward_matches():
    model = Sequential([Input(shape=(100,)), Dense(64, activation="relu", name="dense"),
                        Dense(10, activation="softmax", name="dense_1")])
    with h5py.File(FIXTURES / "seed_mlp.h5", "r") as f:
        from engine.io.weights import read_weights_group
        read_weights_group(f["model_weights"], model)
    io = np.load(FIXTURES / "seed_mlp_io.npz")
    np.testing.assert_allclose(model.predict(io["x0"], verbose=0), io["y0"], atol=1e-5)


def test_keras_fixture_functional_forward_matches():
    a, b = Input(shape=(12,), name="a"), Input(shape=(6,), name="b")
    d5 = Dense(8, activation="tanh", name="dense_5")(a)
    d6 = Dense(8, activation="sigmoid", name="dense_6")(b)
    c = Concatenate(name="concatenate")([Add(name="add")([d5, d6]), d6])
    model = Model([a, b], [Dense(3, activation="softmax", name="cls")(c),
                           Dense(1, name="reg")(c)])
    with h5py.File(FIXTURES / "functional_two_in_two_out.h5", "r") as f:
        from engine.io.weights import read_weights_group
        read_weights_group(f["model_weights"], model)
    io = np.load(FIXTURES / "functional_two_in_two_out_io.npz")
    y0, y1 = model.predict([io["x0"], io["x1"]], verbose=0)
    np.testing.assert_allclose(y0, io["y0"], atol=1e-5)
    np.testing.assert_allclose(y1, io["y1"], atol=1e-5)


def test_model_gradient_matches_finite_differences():
    """End to end: loss gradient through a small functional graph (float64)."""
    with backend.floatx_scope("float64"):
        a, b = Input(shape=(3,)), Input(shape=(3,))
        h = Add()([Dense(4, activation="tanh")(a), Dense(4, activation="sigmoid")(b)])
        out = Dense(2, activation="softmax")(Concatenate()([h, Dense(2)(a)]))
        model = Model([a, b], out)
        model.compile("sgd", "categorical_crossentropy")
        r = np.random.default_rng(3)
        xs = [r.standard_normal((5, 3)), r.standard_normal((5, 3))]
        y = to_categorical(r.integers(0, 2, 5), 2)
        model._resolve_compile()
        model._bind_parameters()
        loss, _, grads = model._compute_loss_and_grads(xs, [y], None)
        model._plan.backward(grads)
        analytic = model._grads.copy()
        params = model._params
        for i in range(0, len(params), 3):
            old = params[i]
            params[i] = old + 1e-6
            lp = model._compute_loss_and_grads(xs, [y], None, training=False)[0]
            params[i] = old - 1e-6
            lm = model._compute_loss_and_grads(xs, [y], None, training=False)[0]
            params[i] = old
            assert abs((lp - lm) / 2e-6 - analytic[i]) < 1e-6


def test_frozen_layer_keeps_its_weights():
    x, y = _blobs(128)
    base = Dense(8, activation="relu", input_dim=4)
    model = Sequential([base, Dense(3, activation="softmax")])
    base.trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")
    before = base.kernel.value.copy()
    head_before = model.layers[1].kernel.value.copy()
    model.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(base.kernel.value, before)
    assert not np.allclose(model.layers[1].kernel.value, head_before)
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2


def test_regularizer_adds_to_loss_and_constraint_holds():
    x, y = _blobs(64)
    model = Sequential([Dense(3, activation="softmax", input_dim=4, kernel_regularizer="l2",
                              kernel_constraint="max_norm")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.layers[0].kernel.value[...] = 3.0
    reg_loss = model.evaluate(x, y, verbose=0)
    model.layers[0].kernel_regularizer = None
    model.fit(x, y, epochs=3, verbose=0)
    norms = np.sqrt((model.layers[0].kernel.value ** 2).sum(axis=0))
    assert np.all(norms <= 2.0 + 1e-5)
    assert reg_loss > 0.01 * 9 * 12  # l2 default 0.01 × Σ w² (12 weights of 3.0)


def test_sequence_and_generator_inputs():
    x, y = _blobs(96)

    class Batches(Sequence):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return x[i * 32:(i + 1) * 32], y[i * 32:(i + 1) * 32]

    model = Sequential([Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(Batches(), epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2

    def gen():
        while True:
            yield x[:32], y[:32]
    h = model.fit_generator(gen(), steps_per_epoch=2, epochs=1, verbose=0)
    assert len(h.history["loss"]) == 1


def test_stop_training_after_current_batch():
    from engine.callbacks import Callback
    x, y = _blobs(320)
    seen = []

    class Stopper(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)
            if batch == 2:
                self.model.stop_training = True

    model = Sequential([Dense(3, activation="softmax", input_dim=4)])
    model.compile("adam", "sparse_categorical_crossentropy")
    h = model.fit(x, y, epochs=5, callbacks=[Stopper()], verbose=0)
    assert seen == [0, 1, 2] and len(h.history["loss"]) == 1


def test_nan_stops_training_and_names_the_layer():
    x, y = _blobs(64)
    model = Sequential([Dense(8, activation="relu", input_dim=4, name="hidden"),
                        Dense(3, activation="softmax", name="out")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.layers[0].kernel.value[0, 0] = np.inf
    with pytest.warns(RuntimeWarning, match="Dense 'hidden'"):
        h = model.fit(x, y, epochs=3, verbose=0)
    assert "Dense 'hidden'" in str(model.training_error)
    assert model.training_error.layer is model.layers[0]
    assert h.history.get("loss", []) == []


def test_json_round_trip_keeps_predictions():
    a = Input(shape=(4,), name="x")
    out = Dense(2, activation="softmax")(Dropout(0.2)(Dense(5, activation="relu")(a)))
    model = Model(a, out)
    clone = model_from_json(model.to_json())
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    seq = Sequential([Input(shape=(4,)), Dense(3), Flatten()])
    assert json.loads(model_from_json(seq.to_json()).to_json())["class_name"] == "Sequential"


def test_save_and_load_weights(tmp_path):
    model = Sequential([Dense(3, input_dim=4), Dense(2)])
    path = tmp_path / "w.h5"
    model.save_weights(path)
    other = Sequential([Dense(3, input_dim=4), Dense(2)])
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    wrong = Sequential([Dense(5, input_dim=4), Dense(2)])
    with pytest.raises(ValueError, match="has shape"):
        wrong.load_weights(path)


def test_summary_lists_layers_and_totals(capsys):
    model = Sequential([Dense(64, activation="relu", input_dim=100, name="dense"),
                        Dense(10, activation="softmax", name="out")])
    model.summary()
    text = capsys.readouterr().out
    assert "dense (Dense)" in text and "(None, 64)" in text and "6464" in text
    assert "Total params: 7,114" in text


def test_misuse_gets_clear_errors():
    model = Sequential([Dense(3, activation="softmax", input_dim=4, name="d")])
    x, y = _blobs(10)
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y)
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"expects samples of shape \(4,\).*\(10, 5\)"):
        model.fit(np.zeros((10, 5)), y, verbose=0)
    with pytest.raises(ValueError, match="x has 10 samples but y"):
        model.fit(x, y[:9], verbose=0)
    with pytest.raises(ValueError, match="valid"):
        model.compile("adamm", "mse")
    with pytest.raises(ValueError, match="valid"):
        model.compile("adam", "msee")
    orphan = Input(shape=(2,), name="orphan")
    a = Input(shape=(3,), name="a")
    with pytest.raises(ValueError, match="Input 'orphan'.*not among"):
        Model(a, Add()([Dense(2)(a), orphan]))


def test_missing_channel_axis_suggests_expand_dims():
    model = Sequential([InputLayer(shape=(28, 28, 1)), Flatten(), Dense(2)])
    with pytest.raises(ValueError, match="channel axis is missing.*expand_dims"):
        model.predict(np.zeros((3, 28, 28)), verbose=0)


def test_a_weight_the_optimizer_step_makes_inf_stops_training_and_is_named():
    """The loss of the step is finite; the update overflows a weight (checked after each step
    over the flat parameter buffer)."""
    x, y = _blobs(64)
    model = Sequential([Dense(3, activation="softmax", input_dim=4, name="out")])
    model.compile(SGD(learning_rate=1e30), "sparse_categorical_crossentropy")
    with pytest.warns(RuntimeWarning, match="weight 'kernel' of layer 'out' became (inf|NaN) "
                                            "in the optimizer step"):
        h = model.fit(x * np.float32(1e9), y, epochs=2, batch_size=64, verbose=0)
    assert model.training_error.layer is model.layers[0]
    assert h.history.get("loss", []) == []
