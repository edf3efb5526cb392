"""Losses: Keras's values on the golden fixture, gradients vs finite differences, fused forms."""
from pathlib import Path

import numpy as np
import pytest

from engine import losses

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras" / "losses.npz"


@pytest.mark.parametrize("name", ["mse", "mae", "categorical_crossentropy",
                                  "binary_crossentropy", "kl_divergence", "cosine_similarity"])
def test_matches_keras(name):
    d = np.load(FIX)
    y_true = d["y_true_binary"] if name == "binary_crossentropy" else d["y_true"]
    assert abs(losses.get(name)(y_true, d["y_pred"]) - float(d[name])) < 1e-5


def _case(name, r):
    p = r.uniform(0.05, 0.95, (3, 4))
    y = r.uniform(0, 1, (3, 4))
    if "sparse" in name:
        y = r.integers(0, 4, 3)
    return y, p


@pytest.mark.parametrize("loss", [*losses.NAMES,
                                  losses.CategoricalCrossentropy(from_logits=True),
                                  losses.BinaryCrossentropy(from_logits=True),
                                  losses.CategoricalCrossentropy(label_smoothing=0.1),
                                  losses.SparseCategoricalCrossentropy(from_logits=True),
                                  losses.Huber(delta=0.3)])
def test_gradient_matches_finite_differences(loss):
    name = loss if isinstance(loss, str) else loss.name
    loss = losses.get(loss)
    r = np.random.default_rng(0)
    y, p = _case(name, r)
    sw = r.uniform(0.5, 2, 3)
    for weights in (None, sw):
        g = loss.gradient(y, p, weights)
        num = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            pp, pm = p.copy(), p.copy()
            pp[i] += 1e-6
            pm[i] -= 1e-6
            num[i] = (loss(y, pp, weights) - loss(y, pm, weights)) / 2e-6
        np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("loss,act", [("categorical_crossentropy", "softmax"),
                                      ("sparse_categorical_crossentropy", "softmax"),
                                      ("binary_crossentropy", "sigmoid")])
def test_fused_gradient_equals_chain_rule(loss, act):
    from engine import activations
    r = np.random.default_rng(2)
    z = r.standard_normal((5, 3))
    a = activations.get(act)
    p = a.forward(z)
    y = {"categorical_crossentropy": np.eye(3)[r.integers(0, 3, 5)],
         "sparse_categorical_crossentropy": r.integers(0, 3, 5),
         "binary_crossentropy": r.integers(0, 2, (5, 3)).astype(float)}[loss]
    lo = losses.get(loss)
    chain = a.backward(z, p, lo.gradient(y, p))
    np.testing.assert_allclose(lo.fused_gradient(y, p, act), chain, rtol=1e-6, atol=1e-9)
    assert lo.fused_gradient(y, p, "relu") is None


def test_wrong_target_shapes_explain_the_fix():
    out_shape = (None, 10)
    with pytest.raises(ValueError, match="to_categorical.*sparse_categorical_crossentropy"):
        losses.get("categorical_crossentropy").check_targets(np.arange(4), out_shape, "out")
    with pytest.raises(ValueError, match="one-hot, so use loss='categorical_crossentropy'"):
        losses.get("sparse_categorical_crossentropy").check_targets(np.eye(10)[:4], out_shape, "out")
    with pytest.raises(ValueError, match="found class 12.*10 units"):
        losses.get("sparse_categorical_crossentropy").check_targets(np.array([1, 12]), out_shape, "o")
    with pytest.raises(ValueError, match=r"labels in \[0, 1\]"):
        losses.get("binary_crossentropy").check_targets(np.array([[2.0]]), (None, 1), "o")


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match="valid names:.*categorical_crossentropy"):
        losses.get("categorical_crosentropy")
