"""Scores behind the evaluation view, and the dashboard's buffer (no Qt needed)."""
import numpy as np
import pytest

from app.training.run_buffer import RunBuffer, Series
from app.training.scoring import (
    class_indices,
    confusion_matrix,
    per_class_scores,
    score_predictions,
)


def test_confusion_matrix_and_per_class_scores_by_hand():
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 2])
    cm = confusion_matrix(y_true, y_pred, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 1], [0, 0, 1]])
    p, r, f1, support = per_class_scores(cm)
    np.testing.assert_allclose(p, [1.0, 2 / 3, 0.5])
    np.testing.assert_allclose(r, [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(f1, [2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_array_equal(support, [2, 3, 1])


def test_class_with_no_predictions_scores_zero_not_nan():
    p, r, f1, _ = per_class_scores(confusion_matrix(np.array([0, 1]), np.array([0, 0]), 2))
    assert p[1] == 0 and r[1] == 0 and f1[1] == 0 and np.isfinite(p).all()


@pytest.mark.parametrize("y", [np.array([2, 0, 1]), np.array([[2], [0], [1]]),
                               np.eye(3, dtype=np.float32)[[2, 0, 1]]])
def test_labels_sparse_column_or_one_hot(y):
    np.testing.assert_array_equal(class_indices(y, 3), [2, 0, 1])


def test_class_indices_refuses_values_that_are_not_labels():
    assert class_indices(np.array([0.5, 1.0]), 3) is None
    assert class_indices(np.array([0, 7]), 3) is None


def test_multiclass_scores_and_worst_first():
    pred = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.95, 0.05]], dtype=np.float32)
    y = np.array([0, 0, 1, 1])
    r = score_predictions(pred, y, {"loss": 0.5}, x=np.zeros((4, 2)), class_names=["cat", "dog"])
    assert r.kind == "multiclass" and r.class_names == ["cat", "dog"]
    np.testing.assert_array_equal(r.y_pred, [0, 1, 1, 0])
    np.testing.assert_array_equal(r.confusion, [[1, 1], [1, 1]])
    # both wrong samples are listed, the more confident mistake (sample 3: 0.05 on the truth) first
    np.testing.assert_array_equal(r.worst, [3, 1])
    np.testing.assert_allclose(r.confidence, [0.9, 0.6, 0.8, 0.95], rtol=1e-6)


def test_binary_sigmoid_output():
    r = score_predictions(np.array([[0.9], [0.2], [0.7]]), np.array([1, 1, 0]))
    assert r.kind == "binary"
    np.testing.assert_array_equal(r.y_pred, [1, 0, 1])
    np.testing.assert_array_equal(r.confusion, [[0, 1], [1, 1]])
    assert list(r.worst) == [1, 2]


def test_regression_scatter_values_and_largest_error_first():
    r = score_predictions(np.array([[1.0], [2.5], [2.9]]), np.array([1.0, 2.0, 4.0]))
    assert r.kind == "regression" and r.confusion is None
    np.testing.assert_allclose(r.y_pred, [1.0, 2.5, 2.9])
    assert list(r.worst) == [2, 1, 0]


def test_series_grows_and_reads_nearest_value():
    s = Series(capacity=2)
    for i in range(10):
        s.append(i * 0.1, i)
    assert len(s) == 10 and s.x[-1] == pytest.approx(0.9)
    assert s.value_at(0.34) == 3 and s.value_at(5.0) == 9 and s.value_at(-1) == 0


def test_run_buffer_places_batches_and_epochs_on_an_epoch_axis():
    from app.training.worker import BatchPoint
    buf = RunBuffer()
    pts = [BatchPoint(0, s, 4, {}, {"loss": 1.0 / s, "accuracy": 0.1 * s}, 0.01, s * 0.1)
           for s in range(1, 5)]
    buf.add_batches(pts)
    buf.add_epoch(0, {"loss": 0.5, "accuracy": 0.3, "val_loss": 0.6, "val_accuracy": 0.25})
    loss = buf.metrics["loss"]
    np.testing.assert_allclose(loss.batch_raw.x, [0.25, 0.5, 0.75, 1.0])
    assert loss.batch_smooth.y[0] == pytest.approx(1.0)     # debiased: starts at the first value
    assert loss.epoch_train.y.tolist() == [0.5] and loss.epoch_val.y.tolist() == [0.6]
    assert buf.names() == ["loss", "accuracy"] and len(buf.lr) == 4
    v = buf.version
    buf.add_batches([])
    assert buf.version == v
