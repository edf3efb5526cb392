"""Evaluation view (scores, confusion matrix, sample grids, regression) and activation preview."""
import numpy as np
import pytest

from app.training.activations import ActivationPreview, layer_output, tile_feature_maps
from app.training.evaluation import EvaluationView
from app.training.sample_grid import is_image, to_qimage
from app.training.scoring import score_predictions
from engine import Input
from engine.layers import Dense, Flatten, Reshape
from engine.models import Model


@pytest.fixture
def view(qtbot):
    v = EvaluationView()
    qtbot.addWidget(v)
    return v


def _classified(n=40, c=3, seed=0):
    r = np.random.default_rng(seed)
    y = r.integers(0, c, n)
    p = r.random((n, c)).astype(np.float32)
    p[np.arange(n), y] += 0.6 * (r.random(n) > 0.3)      # mostly right
    p /= p.sum(axis=1, keepdims=True)
    x = r.random((n, 8, 8)).astype(np.float32)
    return score_predictions(p, y, {"loss": 0.4, "accuracy": 0.7}, x, ["cat", "dog", "owl"])


def test_classification_fills_every_view(view):
    r = _classified()
    view.show_result(r, "the test set")
    assert "40 samples of the test set" in view.header.text()
    assert view.scores_table.rowCount() == 2
    assert view.scores_table.item(0, 0).text() == "loss"
    assert view.class_table.rowCount() == 3 and view.class_table.item(2, 0).text() == "owl"
    assert view.class_table.item(0, 4).text() == str(int(r.support[0]))
    labels = [t.toPlainText() for t in view.confusion.labels]
    assert len(labels) == 9 and sum(map(int, labels)) == 40
    assert view.confusion.image.image.shape == (3, 3)
    assert len(view.samples.tiles) == 32
    assert len(view.worst.tiles) == len(r.worst[:32]) > 0
    first_worst = view.worst.tiles[0]
    assert "true:" in first_worst.caption.text() and first_worst.picture.pixmap() is not None
    visible = [view.tabs.tabText(i) for i in range(view.tabs.count()) if view.tabs.isTabVisible(i)]
    assert visible == ["Scores", "Confusion matrix", "Predictions", "Worst classified"]


def test_regression_shows_scatter_and_largest_errors(view):
    y = np.linspace(0, 1, 30).astype(np.float32)
    pred = (y + np.linspace(-0.1, 0.1, 30)).reshape(-1, 1)
    r = score_predictions(pred, y, {"loss": 0.01}, x=np.zeros((30, 5), np.float32))
    view.show_result(r)
    assert len(view.scatter.scatter.data) == 30
    visible = [view.tabs.tabText(i) for i in range(view.tabs.count()) if view.tabs.isTabVisible(i)]
    assert visible == ["Scores", "Largest errors", "Predicted vs true"]
    assert "[0, 0, 0, 0, 0]" in view.samples.tiles[0].picture.text()
    view.show_result(_classified())                 # back to classification: tab renamed back
    assert view.tabs.tabText(view.tabs.indexOf(view.samples)) == "Predictions"


def test_clear_hides_result_tabs(view):
    view.show_result(_classified())
    view.clear()
    assert view.scores_table.rowCount() == 0 and view.result is None
    assert [i for i in range(view.tabs.count()) if view.tabs.isTabVisible(i)] == [0]


def test_images_detected_and_converted():
    assert is_image(np.zeros((28, 28))) and is_image(np.zeros((32, 32, 3)))
    assert not is_image(np.zeros(10)) and not is_image(np.zeros((28, 28, 5)))
    img = to_qimage(np.array([[0.0, 1.0], [0.5, 0.25]] * 2).reshape(4, 2)[:, [0, 1]])
    assert (img.width(), img.height()) == (2, 4)
    assert img.pixelColor(0, 0).value() == 0 and img.pixelColor(1, 0).value() == 255


def test_feature_map_mosaic_scales_each_channel():
    maps = np.stack([np.full((3, 3), 5.0), np.arange(9.0).reshape(3, 3) * 100,
                     np.zeros((3, 3))], axis=-1)
    mosaic, cols = tile_feature_maps(maps)
    assert cols == 2 and mosaic.shape == (7, 7)
    assert np.nanmax(mosaic[0:3, 4:7]) == 1.0 and np.nanmin(mosaic[0:3, 4:7]) == 0.0
    assert np.isnan(mosaic[3]).all()                 # the gap row


def _tiny_model():
    inp = Input(shape=(6, 6), name="image")
    h = Dense(8, activation="relu", name="hidden")(Flatten(name="flat")(inp))
    maps = Reshape((2, 2, 2), name="maps")(h)
    out = Dense(3, activation="softmax", name="probs")(Flatten(name="flat2")(maps))
    return Model(inp, out)


def test_layer_output_stops_at_the_layer():
    model = _tiny_model()
    x = np.random.default_rng(0).random((2, 6, 6)).astype(np.float32)
    h = layer_output(model, [x], "hidden")
    assert h.shape == (2, 8)
    np.testing.assert_allclose(layer_output(model, [x], "maps"), h.reshape(2, 2, 2, 2))
    np.testing.assert_array_equal(layer_output(model, [x], "image"), x)


def test_activation_preview_maps_bars_and_blocking(qtbot):
    model = _tiny_model()
    x = np.random.default_rng(1).random((5, 6, 6)).astype(np.float32)
    prev = ActivationPreview()
    qtbot.addWidget(prev)
    prev.set_model(model)
    prev.set_data(x, np.array([0, 1, 2, 0, 1]), ["a", "b", "c"])
    assert prev.sample_box.maximum() == 4
    prev.select_layer("maps")
    assert prev.stack.currentWidget() is prev.image_plot
    assert prev.image_item.image.shape == (2, 5)      # 2 channels of 2x2 side by side + gap
    assert "2 feature maps" in prev.info.text()
    prev.select_layer("probs")
    prev.sample_box.setValue(2)
    assert prev.stack.currentWidget() is prev.bar_plot
    np.testing.assert_allclose(prev.bars.opts["height"], model.predict(x[2:3], verbose=0)[0],
                               rtol=1e-5)
    assert "true label c" in prev.info.text()
    prev.set_blocked("busy training")
    assert prev.info.text() == "busy training"
    prev.select_layer("no_such_layer")               # ignored
    assert prev.layer_box.currentText() == "probs"
