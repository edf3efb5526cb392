"""Metrics accumulate over batches like Keras's (golden fixture, sample weights included) and
resolve 'accuracy' from the loss."""
from pathlib import Path

import numpy as np
import pytest

from engine import losses, metrics

EXTRAS = Path(__file__).resolve().parents[1] / "fixtures" / "keras" / "engine_core.npz"

KERAS_CASES = {
    "precision": metrics.Precision, "recall_weighted": metrics.Recall, "auc_roc": metrics.AUC,
    "auc_roc_multilabel_weighted": metrics.AUC, "auc_pr": lambda: metrics.AUC(curve="PR"),
    "auc_roc_coarse": lambda: metrics.AUC(num_thresholds=7),
    "f1_macro": lambda: metrics.F1Score("macro"),
    "f1_micro_threshold": lambda: metrics.F1Score("micro", threshold=0.3),
    "f1_weighted": lambda: metrics.F1Score("weighted"),
    "binary_accuracy": metrics.BinaryAccuracy,
    "categorical_accuracy_weighted": metrics.CategoricalAccuracy,
    "top3": lambda: metrics.TopKCategoricalAccuracy(3), "rmse": metrics.RootMeanSquaredError,
    "mae_weighted": metrics.MeanAbsoluteError,
}


@pytest.mark.parametrize("case", KERAS_CASES)
def test_two_batches_match_keras(case):
    if not EXTRAS.exists():
        pytest.skip("tests/fixtures/keras/engine_core.npz missing")
    d = np.load(EXTRAS)
    m = KERAS_CASES[case]()
    for i in range(2):
        sw = d[f"metric__{case}__sw{i}"] if f"metric__{case}__sw{i}" in d.files else None
        m.update_state(d[f"metric__{case}__yt{i}"], d[f"metric__{case}__yp{i}"], sw)
    # Keras adds 1e-7 to F1's denominators; everything else is exact
    assert m.result() == pytest.approx(float(d[f"metric__{case}"]), rel=2e-6, abs=1e-7)


def test_accuracy_resolution_follows_the_loss():
    assert isinstance(metrics.get("accuracy", loss=losses.get("binary_crossentropy")),
                      metrics.BinaryAccuracy)
    assert isinstance(metrics.get("accuracy", loss=losses.get("mse"), output_shape=(None, 1)),
                      metrics.BinaryAccuracy)
    assert isinstance(metrics.get("accuracy", loss=losses.get("sparse_categorical_crossentropy"),
                                  output_shape=(None, 10)), metrics.SparseCategoricalAccuracy)
    m = metrics.get("acc", loss=losses.get("categorical_crossentropy"), output_shape=(None, 3))
    assert isinstance(m, metrics.CategoricalAccuracy) and m.name == "acc"


def test_accumulates_over_batches():
    m = metrics.get("sparse_categorical_accuracy")
    m.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]))
    m.update_state(np.array([[1]]), np.array([[0.1, 0.9]]))
    assert m.result() == pytest.approx(2 / 3)
    m.reset_state()
    assert m.result() == 0.0


def test_sample_weights_weigh_samples():
    m = metrics.CategoricalAccuracy()
    y, p = np.eye(2)[[0, 1, 1]], np.eye(2)[[0, 0, 1]]
    m.update_state(y, p, sample_weight=np.array([1.0, 3.0, 0.0]))
    assert m.result() == pytest.approx(0.25)
    mean = metrics.Mean()
    mean.update_state([1.0, 2.0, 4.0], sample_weight=[1.0, 1.0, 2.0])
    assert mean.result() == pytest.approx(11 / 4)


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
    binary = metrics.F1Score()  # one unit: threshold 0.5, not argmax
    binary.update_state(y, p)
    assert binary.result() == pytest.approx(2 / 3)
    assert metrics.Precision().result() == 0.0  # nothing seen: 0, not NaN


def test_sparse_targets_for_confusion_metrics():
    p = np.array([[0.7, 0.3], [0.2, 0.8]])
    a, b = metrics.Recall(), metrics.Recall()
    a.update_state(np.array([0, 0]), p)
    b.update_state(np.eye(2)[[0, 0]], p)
    assert a.result() == b.result() == pytest.approx(0.5)


def test_auc_separable_and_random():
    auc = metrics.AUC()
    auc.update_state(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert auc.result() == pytest.approx(1.0, abs=1e-3)
    r = np.random.default_rng(0)
    auc.reset_state()
    auc.update_state(r.integers(0, 2, 20000), r.uniform(size=20000))
    assert auc.result() == pytest.approx(0.5, abs=0.02)
    pr = metrics.AUC(curve="PR")
    pr.update_state(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert pr.result() == pytest.approx(1.0, abs=1e-3)


def test_regression_metrics():
    y, p = np.array([[1.0], [2.0]]), np.array([[2.0], [4.0]])
    for name, want in (("mse", 2.5), ("mae", 1.5), ("rmse", np.sqrt(2.5))):
        m = metrics.get(name)
        m.update_state(y, p)
        assert m.result() == pytest.approx(want) and m.name == name
    m = metrics.get("mse")
    m.update_state(np.array([1.0, 2.0]), p)  # (N,) targets against (N, 1) outputs
    assert m.result() == pytest.approx(2.5)


def test_top_k_with_one_hot_or_class_numbers():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    for y in (np.array([1, 0]), np.eye(3)[[1, 0]]):
        m = metrics.TopKCategoricalAccuracy(k=2)
        m.update_state(y, p)
        assert m.result() == pytest.approx(0.5)
    big_k = metrics.TopKCategoricalAccuracy(k=5)
    big_k.update_state(np.array([2, 0]), p)
    assert big_k.result() == 1.0


def test_names_classes_and_configs():
    assert isinstance(metrics.get("AUC"), metrics.AUC)
    assert isinstance(metrics.get(metrics.Recall), metrics.Recall)
    inst = metrics.Precision()
    assert metrics.get(inst) is inst
    m = metrics.get({"class_name": "AUC", "config": {"num_thresholds": 50, "curve": "PR",
                                                     "name": "pr_auc", "dtype": "float32"}})
    assert m.num_thresholds == 50 and m.curve == "PR" and m.name == "pr_auc"
    assert metrics.get("f1").get_config()["average"] == "macro"


def test_unknown_metric():
    with pytest.raises(ValueError, match="valid names.*accuracy"):
        metrics.get("acuracy")
    with pytest.raises(ValueError, match="average must be"):
        metrics.F1Score(average="samples")
    with pytest.raises(ValueError, match="curve must be"):
        metrics.AUC(curve="PRGAIN")


class _EveryOther(metrics.SparseCategoricalAccuracy):
    """A subclass with its own values(): the one-pass update must not bypass it."""

    def values(self, y_true, y_pred):
        return np.arange(len(y_pred)) % 2 == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 4), (3, 5, 4)])
def test_accuracies_counted_in_one_pass_equal_values(dtype, shape):
    """Sparse and one-hot accuracy's one-pass count (without sample weights) gives what their
    values() give, ties (the first largest wins) and NaN (the first NaN wins) included."""
    r = np.random.default_rng(7)
    p = r.integers(0, 3, shape).astype(dtype)       # many ties
    p.reshape(-1, shape[-1])[1, 2] = np.nan
    p.reshape(-1, shape[-1])[2, :] = np.nan
    labels = r.integers(0, shape[-1], shape[:-1])
    onehot = np.eye(shape[-1], dtype=dtype)[r.integers(0, shape[-1], shape[:-1])]
    onehot.reshape(-1, shape[-1])[0, 0] = np.nan
    for m, y in ((metrics.SparseCategoricalAccuracy(), labels),
                 (metrics.SparseCategoricalAccuracy(), labels[..., None].astype(np.float32)),
                 (metrics.CategoricalAccuracy(), onehot)):
        want = np.asarray(m.values(y, p), dtype=np.float64)
        for _ in range(2):
            m.update_state(y, p)
        assert m.count == 2 * want.size
        assert m.result() == pytest.approx(want.mean(), abs=0)
    m = _EveryOther()
    m.update_state(labels, p)
    assert m.result() == pytest.approx(np.mean(np.arange(shape[0]) % 2 == 0))
