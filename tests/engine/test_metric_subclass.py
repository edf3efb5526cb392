"""keras.metrics.Metric subclasses as Keras 3 writes them: state made with add_variable in
__init__, update_state with keras.ops, result, reset_state — alone and inside fit/evaluate;
MeanMetricWrapper and metric functions; names, configs and errors."""
import numpy as np
import pytest

import engine as keras
from engine import layers, metrics, ops, saving


class BinaryTruePositives(keras.metrics.Metric):          # Keras 3's docstring example
    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros",
                                                name="true_positives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "bool")
        y_pred = ops.cast(y_pred, "bool")
        values = ops.logical_and(ops.equal(y_true, True), ops.equal(y_pred, True))
        values = ops.cast(values, self.dtype)
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, self.dtype)
            sample_weight = ops.broadcast_to(sample_weight, ops.shape(values))
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign(self.true_positives + ops.sum(values))

    def result(self):
        return self.true_positives


class CategoricalTruePositives(keras.metrics.Metric):     # the training guide's metric
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            values = ops.multiply(values, ops.cast(sample_weight, "float32"))
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0)


def test_subclass_state_update_result_reset():
    m = BinaryTruePositives()
    assert [v.name for v in m.variables] == ["true_positives"] and m.name == \
        "binary_true_positives"
    assert float(m([1, 1, 0, 1], [1, 0, 1, 1])) == 2.0
    m.update_state([1, 1], [1, 1], sample_weight=[0.5, 2.0])
    assert float(m.result()) == pytest.approx(4.5)
    m.reset_state()                                     # the default: every variable to 0
    assert float(m.result()) == 0.0
    assert m.get_config() == {"name": "binary_true_positives", "dtype": "float32"}
    again = BinaryTruePositives.from_config(m.get_config())
    assert again.name == m.name and float(again.result()) == 0.0


class Unnamed(keras.metrics.Metric):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.total = self.add_weight(name="total")
        self.hist = self.add_weight(shape=(3,), initializer="ones", name="hist")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.total.assign_add(ops.sum(ops.abs(y_true - y_pred)))

    def result(self):
        return self.total


def test_names_weights_and_nested_metrics():
    m = Unnamed()
    assert m.name == "unnamed" and m.dtype == "float32"
    np.testing.assert_array_equal(m.hist.numpy(), [1, 1, 1])
    m.reset_state()
    np.testing.assert_array_equal(m.hist.numpy(), [0, 0, 0])

    class Holder(keras.metrics.Metric):
        def __init__(self):
            super().__init__(name="holder")
            self.inner = Unnamed()
            self.count = self.add_variable((), name="count")
    h = Holder()
    assert [v.name for v in h.variables] == ["count", "total", "hist"]


def test_missing_super_init_is_named():
    class Broken(keras.metrics.Metric):
        def __init__(self):
            self.v = self.add_variable(shape=())
    with pytest.raises(RuntimeError, match=r"Broken: call super\(\).__init__\(\)"):
        Broken()


def _model():
    keras.backend.clear_session()
    inp = keras.Input((6,))
    out = layers.Dense(3, activation="softmax")(layers.Dense(8, activation="relu")(inp))
    return keras.Model(inp, out)


def test_in_fit_and_evaluate_reset_each_epoch():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (50, 6)).astype(np.float32)
    y = rng.integers(0, 3, 50).astype(np.float32)
    model = _model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=[CategoricalTruePositives()])
    hist = model.fit(x, y, batch_size=10, epochs=3, verbose=0, shuffle=False)
    ctp = hist.history["categorical_true_positives"]
    assert len(ctp) == 3 and all(isinstance(v, float) for v in ctp)
    # what Keras computes: y (N,) against argmax (N, 1) broadcast per batch
    res = model.evaluate(x, y, batch_size=10, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    want = sum(float(np.sum(y[i:i + 10] == p[i:i + 10].argmax(1).reshape(-1, 1)))
               for i in range(0, 50, 10))
    assert res["categorical_true_positives"] == pytest.approx(want)


def test_metric_functions_and_wrapper():
    def mean_abs_diff(y_true, y_pred):
        return ops.mean(ops.abs(y_true - y_pred), axis=-1)

    m = metrics.get(mean_abs_diff)
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "mean_abs_diff"
    m.update_state(np.zeros((2, 2)), np.ones((2, 2)))
    m.update_state(np.zeros((2, 2)), np.full((2, 2), 3.0), sample_weight=[1, 0])
    assert m.result() == pytest.approx((1 + 1 + 3) / 3)
    w = metrics.MeanMetricWrapper(mean_abs_diff, name="mad")
    assert w.name == "mad" and float(w(np.zeros((1, 2)), np.full((1, 2), 2.0))) == 2.0
    s = metrics.Sum()
    s.update_state([1, 2, 3])
    assert s.result() == 6 and metrics.Mean()([1, 2, 3]) == 2


def test_registered_metric_by_name_and_config():
    saving.register_keras_serializable("tests")(BinaryTruePositives)
    try:
        m = metrics.get("tests>BinaryTruePositives")
        assert isinstance(m, BinaryTruePositives)
        cfg = saving.serialize_keras_object(m)
        assert cfg["registered_name"] == "tests>BinaryTruePositives"
        assert isinstance(metrics.get(cfg), BinaryTruePositives)
    finally:
        from engine.saving import object_registration
        object_registration.GLOBAL_CUSTOM_OBJECTS.pop("tests>BinaryTruePositives", None)
        object_registration.GLOBAL_CUSTOM_NAMES.pop(BinaryTruePositives, None)
