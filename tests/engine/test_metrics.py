"""Metrics accumulate over batches like Keras's and resolve 'accuracy' from the loss."""
import numpy as np
import pytest

from engine import losses, metrics


def test_accuracy_resolution_follows_the_loss():
    assert isinstance(metrics.get("accuracy", loss=losses.get("binary_crossentropy")),
                      metrics.BinaryAccuracy)
    assert isinstance(metrics.get("accuracy", loss=losses.get("sparse_categorical_crossentropy"),
                                  output_shape=(None, 10)), metrics.SparseCategoricalAccuracy)
    m = metrics.get("accuracy", loss=losses.get("categorical_crossentropy"), output_shape=(None, 3))
    assert isinstance(m, metrics.CategoricalAccuracy) and m.name == "accuracy"


def test_accumulates_over_batches():
    m = metrics.get("sparse_categorical_accuracy")
    m.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]))
    m.update_state(np.array([1]), np.array([[0.1, 0.9]]))
    assert m.result() == pytest.approx(2 / 3)
    m.reset_state()
    assert m.result() == 0.0


def test_precision_recall_f1():
    y = np.array([[1], [0], [1], [1]])
    p = np.array([[0.9], [0.6], [0.2], [0.7]])
    prec, rec = metrics.Precision(), metrics.Recall()
    prec.update_state(y, p)
    rec.update_state(y, p)
    assert prec.result() == pytest.approx(2 / 3) and rec.result() == pytest.approx(2 / 3)
    f1 = metrics.get("f1")
    f1.update_state(np.array([0, 1, 2, 2]), np.eye(3)[[0, 1, 2, 1]])
    # per class F1: 1, 2/3, 2/3 → macro 7/9
    assert f1.result() == pytest.approx(7 / 9)


def test_auc_separable_and_random():
    auc = metrics.AUC()
    auc.update_state(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert auc.result() == pytest.approx(1.0, abs=1e-3)
    r = np.random.default_rng(0)
    auc.reset_state()
    auc.update_state(r.integers(0, 2, 20000), r.uniform(size=20000))
    assert auc.result() == pytest.approx(0.5, abs=0.02)


def test_regression_metrics():
    y, p = np.array([[1.0], [2.0]]), np.array([[2.0], [4.0]])
    for name, want in (("mse", 2.5), ("mae", 1.5), ("rmse", np.sqrt(2.5))):
        m = metrics.get(name)
        m.update_state(y, p)
        assert m.result() == pytest.approx(want)


def test_unknown_metric():
    with pytest.raises(ValueError, match="valid names"):
        metrics.get("acuracy")
