"""Losses: Keras's values and TensorFlow's gradients on golden fixtures, gradients vs finite
differences, sample weights, sparse label forms, fused output gradients, names and configs."""
from pathlib import Path

import numpy as np
import pytest

from engine import activations, losses

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
FIX = FIXTURES / "losses.npz"
EXTRAS = FIXTURES / "engine_core.npz"

KERAS_CASES = {
    "mse_sw": losses.MeanSquaredError, "mse_3d_sw": losses.MeanSquaredError,
    "mae_3d": losses.MeanAbsoluteError, "huber": losses.Huber,
    "huber_delta": lambda: losses.Huber(0.3), "bce": losses.BinaryCrossentropy,
    "bce_edge": losses.BinaryCrossentropy,
    "bce_smooth": lambda: losses.BinaryCrossentropy(label_smoothing=0.1),
    "bce_logits": lambda: losses.BinaryCrossentropy(from_logits=True),
    "bce_3d": losses.BinaryCrossentropy, "cce": losses.CategoricalCrossentropy,
    "cce_soft_unnormalized": losses.CategoricalCrossentropy,
    "cce_edge": losses.CategoricalCrossentropy,
    "cce_smooth": lambda: losses.CategoricalCrossentropy(label_smoothing=0.2),
    "cce_logits": lambda: losses.CategoricalCrossentropy(from_logits=True),
    "cce_logits_smooth": lambda: losses.CategoricalCrossentropy(from_logits=True,
                                                                label_smoothing=0.1),
    "scce": losses.SparseCategoricalCrossentropy,
    "scce_column_float": losses.SparseCategoricalCrossentropy,
    "scce_logits": lambda: losses.SparseCategoricalCrossentropy(from_logits=True),
    "kld": losses.KLDivergence, "cosine": losses.CosineSimilarity,
}


@pytest.mark.parametrize("name", ["mse", "mae", "categorical_crossentropy",
                                  "binary_crossentropy", "kl_divergence", "cosine_similarity"])
def test_matches_keras(name):
    d = np.load(FIX)
    y_true = d["y_true_binary"] if name == "binary_crossentropy" else d["y_true"]
    assert abs(losses.get(name)(y_true, d["y_pred"]) - float(d[name])) < 1e-5


@pytest.mark.parametrize("case", KERAS_CASES)
def test_value_and_gradient_match_keras_and_tensorflow(case):
    """Includes probabilities at 0, 1 and below 1e-7, where Keras clips (zero gradient)."""
    if not EXTRAS.exists():
        pytest.skip("tests/fixtures/keras/engine_core.npz missing")
    d = np.load(EXTRAS)
    yt, yp = d[f"loss__{case}__yt"], d[f"loss__{case}__yp"]
    sw = d[f"loss__{case}__sw"] if f"loss__{case}__sw" in d.files else None
    loss = KERAS_CASES[case]()
    assert loss(yt, yp, sw) == pytest.approx(float(d[f"loss__{case}"]), rel=1e-5, abs=1e-6)
    g = loss.gradient(yt, yp, sw)
    assert g.dtype == np.float32 and g.shape == yp.shape
    want = d[f"loss__{case}__grad"]
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(want).max()))


def _case(name, r, shape=(3, 4)):
    p = r.uniform(0.05, 0.95, shape)
    y = r.uniform(0, 1, shape)
    if "sparse" in name:
        y = r.integers(0, shape[-1], shape[:-1])
    return y, p


def _numeric_gradient(loss, y, p, sw):
    num = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        pp, pm = p.copy(), p.copy()
        pp[i] += 1e-6
        pm[i] -= 1e-6
        num[i] = (loss(y, pp, sw) - loss(y, pm, sw)) / 2e-6
    return num


@pytest.mark.parametrize("loss", [*losses.NAMES,
                                  losses.CategoricalCrossentropy(from_logits=True),
                                  losses.BinaryCrossentropy(from_logits=True),
                                  losses.BinaryCrossentropy(label_smoothing=0.2),
                                  losses.CategoricalCrossentropy(label_smoothing=0.1),
                                  losses.SparseCategoricalCrossentropy(from_logits=True),
                                  losses.Huber(delta=0.3)])
def test_gradient_matches_finite_differences(loss):
    name = loss if isinstance(loss, str) else loss.name
    loss = losses.get(loss)
    r = np.random.default_rng(0)
    y, p = _case(name, r)
    for weights in (None, r.uniform(0.5, 2, 3), r.uniform(0.5, 2, (3, 1))):
        np.testing.assert_allclose(loss.gradient(y, p, weights),
                                   _numeric_gradient(loss, y, p, weights),
                                   rtol=1e-4, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("name", ["mse", "binary_crossentropy", "categorical_crossentropy",
                                  "sparse_categorical_crossentropy"])
def test_sequences_with_per_timestep_weights(name):
    """(N, T, K) outputs: values per (sample, step), weights of shape (N, T) or (N,)."""
    loss = losses.get(name)
    r = np.random.default_rng(3)
    y, p = _case(name, r, (2, 3, 4))
    for weights in (None, r.uniform(0.5, 2, (2, 3)), r.uniform(0.5, 2, 2)):
        np.testing.assert_allclose(loss.gradient(y, p, weights),
                                   _numeric_gradient(loss, y, p, weights),
                                   rtol=1e-4, atol=1e-8, err_msg=name)
    per_value = loss.per_sample(loss._targets(y, p), p)
    w = r.uniform(0.5, 2, (2, 3))
    assert loss(y, p, w) == pytest.approx(float(np.sum(per_value * w) / 6))


def test_sample_weight_shape_error_is_readable():
    with pytest.raises(ValueError, match=r"sample_weight of shape \(4,\)"):
        losses.get("mse")(np.zeros((3, 2)), np.ones((3, 2)), np.ones(4))


def test_sparse_labels_in_every_form_agree():
    r = np.random.default_rng(4)
    p = r.dirichlet(np.ones(5), 6).astype(np.float32)
    labels = r.integers(0, 5, 6)
    loss = losses.get("sparse_categorical_crossentropy")
    want = losses.get("categorical_crossentropy")(np.eye(5)[labels], p)
    for form in (labels, labels.astype(np.int32), labels[:, None], labels.astype(np.float32),
                 labels[:, None].astype(np.float64)):
        assert loss(form, p) == pytest.approx(want, rel=1e-6)
        np.testing.assert_allclose(loss.fused_gradient(form, p, "softmax"),
                                   (p - np.eye(5)[labels]) / 6, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss", [losses.SparseCategoricalCrossentropy(),
                                  losses.SparseCategoricalCrossentropy(from_logits=True)])
def test_invalid_class_numbers_are_named(loss):
    p = np.full((3, 4), 0.25, dtype=np.float32)
    for bad in (np.array([0, 7, 1]), np.array([0, -1, 1])):
        with pytest.raises(ValueError, match=f"class number {bad[1]} .*row 1.*0..3"):
            loss(bad, p)
        with pytest.raises(ValueError, match="class number"):
            loss.gradient(bad, p)
    with pytest.raises(ValueError, match="one class number per row"):
        loss(np.array([0, 1]), p)


@pytest.mark.parametrize("loss,act", [("categorical_crossentropy", "softmax"),
                                      ("sparse_categorical_crossentropy", "softmax"),
                                      ("binary_crossentropy", "sigmoid")])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3)])
def test_fused_gradient_equals_chain_rule(loss, act, shape):
    r = np.random.default_rng(2)
    z = r.standard_normal(shape)
    a = activations.get(act)
    p = a.forward(z)
    y = {"categorical_crossentropy": np.eye(3)[r.integers(0, 3, shape[:-1])],
         "sparse_categorical_crossentropy": r.integers(0, 3, shape[:-1]),
         "binary_crossentropy": r.integers(0, 2, shape).astype(float)}[loss]
    lo = losses.get(loss)
    sw = r.uniform(0.5, 2, shape[0])
    for weights in (None, sw):
        chain = a.backward(z, p, lo.gradient(y, p, weights))
        np.testing.assert_allclose(lo.fused_gradient(y, p, act, weights), chain, rtol=1e-6,
                                   atol=1e-9)
    assert lo.fused_gradient(y, p, "relu") is None
    g32 = lo.fused_gradient(y, p.astype(np.float32), act)
    assert g32.dtype == np.float32


def test_no_fused_form_with_logits():
    p = np.full((2, 3), 1 / 3)
    assert losses.CategoricalCrossentropy(from_logits=True).fused_gradient(
        np.eye(3)[:2], p, "softmax") is None
    assert losses.get("mse").fused_gradient(p, p, "linear") is None


def test_wrong_target_shapes_explain_the_fix():
    out_shape = (None, 10)
    with pytest.raises(ValueError, match="to_categorical.*sparse_categorical_crossentropy"):
        losses.get("categorical_crossentropy").check_targets(np.arange(4), out_shape, "out")
    with pytest.raises(ValueError, match="one-hot, so use loss='categorical_crossentropy'"):
        losses.get("sparse_categorical_crossentropy").check_targets(np.eye(10)[:4], out_shape,
                                                                    "out")
    with pytest.raises(ValueError, match="found class 12.*10 units"):
        losses.get("sparse_categorical_crossentropy").check_targets(np.array([1, 12]), out_shape,
                                                                    "o")
    with pytest.raises(ValueError, match=r"labels in \[0, 1\]"):
        losses.get("binary_crossentropy").check_targets(np.array([[2.0]]), (None, 1), "o")
    with pytest.raises(ValueError, match=r"y_true has shape \(3,\), y_pred has shape \(3, 2\)"):
        losses.get("mse")(np.zeros(3), np.zeros((3, 2)))


def test_names_classes_and_configs():
    assert isinstance(losses.get("kld"), losses.KLDivergence)
    assert isinstance(losses.get("kullback_leibler_divergence"), losses.KLDivergence)
    assert isinstance(losses.get("Huber"), losses.Huber)
    assert isinstance(losses.get(losses.MeanAbsoluteError), losses.MeanAbsoluteError)
    bce = losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1)
    cfg = bce.get_config_dict()
    assert cfg["config"]["from_logits"] is True and cfg["config"]["label_smoothing"] == 0.1
    again = losses.get({"module": "keras.losses", **cfg, "registered_name": None})
    assert again.from_logits and again.label_smoothing == 0.1
    assert losses.get({"class_name": "Huber", "config": {"delta": 2.0, "reduction": "sum"}}
                      ).delta == 2.0
    assert losses.get({"class_name": "mean_squared_error", "config": "mean_squared_error"}
                      ).name == "mean_squared_error"


def test_unknown_losses_say_what_to_use_and_functions_become_losses():
    with pytest.raises(ValueError, match="valid names:.*categorical_crossentropy"):
        losses.get("categorical_crosentropy")
    fn = losses.get(lambda y, p: ((y - p) ** 2).mean(axis=-1))   # differentiated on a tape
    y, p = np.array([[0.0, 1.0]]), np.array([[0.5, 0.0]])
    assert float(fn(y, p)) == pytest.approx(0.625)
    np.testing.assert_allclose(fn.gradient(y, p), [[0.5, -1.0]])


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy",
                                  losses.CategoricalCrossentropy(label_smoothing=0.1),
                                  "binary_crossentropy"])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3)])
def test_fused_value_and_gradient_equal_the_two_calls(loss, shape):
    """A training step's loss and fused gradient from one kernel: the loss's own value and
    fused_gradient, in float32 and float64; bad class numbers named as by the loss."""
    lo = losses.get(loss)
    act = "sigmoid" if lo.name == "binary_crossentropy" else "softmax"
    r = np.random.default_rng(5)
    y = {"categorical_crossentropy": np.eye(3)[r.integers(0, 3, shape[:-1])],
         "sparse_categorical_crossentropy": r.integers(0, 3, shape[:-1]),
         "binary_crossentropy": r.integers(0, 2, shape).astype(float)}[lo.name]
    for dtype in (np.float32, np.float64):
        p = activations.get(act).forward(r.standard_normal(shape)).astype(dtype)
        p.flat[0] = 1.0 if act == "softmax" else 1e-9      # a clipped probability
        value, g = lo.fused_value_and_gradient(y, p, act)
        assert value == pytest.approx(lo(y, p), rel=1e-6, abs=1e-9)
        assert g.dtype == dtype
        np.testing.assert_array_equal(g, lo.fused_gradient(y, p, act))
        assert lo.fused_value_and_gradient(y, p, "relu") is None
    if "sparse" in lo.name:
        bad = y.copy()
        bad.flat[1] = 3
        with pytest.raises(ValueError, match="class number 3 .*row 1"):
            lo.fused_value_and_gradient(bad, p, "softmax")


class _Twice(losses.CategoricalCrossentropy):
    """A subclass that builds its call() on the built-in's."""

    def call(self, y_true, y_pred):
        return super().call(y_true, y_pred) * 2.0


def test_subclass_calling_super_call_gets_its_own_gradient():
    """A subclass of a built-in loss with its own call() (super().call() times 2): its gradient
    matches finite differences of its value, and fit trains a softmax output with it, not with
    the built-in's fused gradient (that was twice too small)."""
    from engine.layers import Dense
    from engine.models import Sequential
    r = np.random.default_rng(6)
    y, p = np.eye(4)[r.integers(0, 4, 3)], r.dirichlet(np.ones(4), 3)
    twice = _Twice()
    np.testing.assert_allclose(twice.gradient(y, p), _numeric_gradient(twice, y, p, None),
                               rtol=1e-4, atol=1e-8)
    x = r.standard_normal((8, 3)).astype(np.float32)
    y8 = np.eye(4, dtype=np.float32)[r.integers(0, 4, 8)]
    w0 = r.standard_normal((3, 4)).astype(np.float32)
    steps = []
    for loss in (losses.CategoricalCrossentropy(), _Twice()):
        m = Sequential([Dense(4, activation="softmax", input_shape=(3,))])
        m.compile(optimizer="sgd", loss=loss)
        m.layers[0].set_weights([w0, np.zeros(4, np.float32)])
        m.fit(x, y8, batch_size=8, epochs=1, verbose=0, shuffle=False)
        steps.append(m.layers[0].get_weights()[0] - w0)
    np.testing.assert_allclose(steps[1], 2 * steps[0], rtol=1e-4, atol=1e-6)
