"""MeanAbsolutePercentageError (loss and metric) and the confusion counts TruePositives,
FalsePositives, TrueNegatives, FalseNegatives — and Precision/Recall with several thresholds
or a class_id — against real Keras 3 (tests/fixtures/keras/make_metric_fixtures.py)."""
from pathlib import Path

import numpy as np
import pytest

from engine import layers, losses, metrics, models

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras" / "metrics_more.npz"
CASES = {
    "mape": metrics.MeanAbsolutePercentageError,
    "mape_sw": metrics.MeanAbsolutePercentageError,
    "tp": metrics.TruePositives,
    "fp_sw": metrics.FalsePositives,
    "tn_list": lambda: metrics.TrueNegatives(thresholds=[0.1, 0.5, 0.9]),
    "fn_list_sw": lambda: metrics.FalseNegatives(thresholds=[0.0, 0.3, 1.0]),
    "precision_list": lambda: metrics.Precision(thresholds=[0.2, 0.6]),
    "recall_class_id": lambda: metrics.Recall(class_id=2),
    "precision_class_id_list": lambda: metrics.Precision(thresholds=[0.3, 0.7], class_id=1),
}


@pytest.mark.parametrize("case", CASES)
def test_two_batches_match_keras(case):
    d = np.load(FIX)
    m = CASES[case]()
    for i in range(2):
        sw = d[f"{case}__sw{i}"] if f"{case}__sw{i}" in d.files else None
        m.update_state(d[f"{case}__yt{i}"], d[f"{case}__yp{i}"], sw)
    want = d[case]
    got = m.result()
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


def test_mape_loss_value_and_gradient_match_keras():
    d = np.load(FIX)
    y, p = d["mape__yt0"], d["mape__yp0"]
    loss = losses.get("mape")
    assert isinstance(loss, losses.MeanAbsolutePercentageError)
    assert loss(y, p) == pytest.approx(float(d["loss__mape"]), rel=1e-6)
    assert loss(y, p, d["loss__mape_sw__sw"]) == pytest.approx(float(d["loss__mape_sw"]),
                                                               rel=1e-6)
    np.testing.assert_allclose(loss.gradient(y, p), d["loss__mape__grad"], rtol=1e-5,
                               atol=1e-9)


def test_names_configs_and_errors():
    for name, cls in (("mape", metrics.MeanAbsolutePercentageError),
                      ("true_positives", metrics.TruePositives),
                      ("false_negatives", metrics.FalseNegatives)):
        m = metrics.get(name)
        assert type(m) is cls and m.name == name
    tp = metrics.TruePositives(thresholds=[0.2, 0.8], name="tp")
    cfg = tp.get_config()
    assert cfg["thresholds"] == [0.2, 0.8] and cfg["name"] == "tp"
    again = metrics.get({"class_name": "TruePositives", "config": cfg})
    assert again.thresholds == [0.2, 0.8] and again.name == "tp"
    with pytest.raises(ValueError, match=r"TruePositives: thresholds must be in \[0, 1\]"):
        metrics.TruePositives(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="Precision: thresholds must be a number"):
        metrics.Precision(thresholds="high")


def test_in_fit_logs_with_several_thresholds():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (40, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    model = models.Sequential([layers.Input((3,)), layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy",
                  metrics=[metrics.TruePositives(thresholds=[0.3, 0.7]), "mape",
                           metrics.FalseNegatives()])
    hist = model.fit(x, y, epochs=1, verbose=0)
    assert np.shape(hist.history["true_positives"][0]) == (2,)
    assert isinstance(hist.history["false_negatives"][0], float)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    p, pos = model.predict(x, verbose=0), y > 0.5
    np.testing.assert_array_equal(logs["true_positives"],
                                  [np.sum((p > 0.3) & pos), np.sum((p > 0.7) & pos)])
    assert logs["false_negatives"] == np.sum((p <= 0.5) & pos)
