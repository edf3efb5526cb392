"""The Try it panel: draw, drop a picture or type a sentence and see the class probabilities,
from the current weights — also while training runs, from snapshots the worker takes between
batches, on the panel's own copy of the network."""
import itertools

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.training.run_setup import DataArrays
from engine.datasets import bundled
from engine.graph import GraphDocument
from engine.models.functional import EXECUTION_LOCK
from engine.project import Project
from tests.app.test_training_controller import Harness, blobs_graph

N = 3000


def mnist_project(epochs=1) -> Project:
    doc = GraphDocument("digits")
    nodes = [doc.add_node("InputLayer", {"shape": [28, 28]}, "input", (0, 0)),
             doc.add_node("Flatten", {}, "flatten", (200, 0)),
             doc.add_node("Dense", {"units": 64, "activation": "relu"}, "hidden", (400, 0)),
             doc.add_node("Dense", {"units": 10, "activation": "softmax"}, "digit", (600, 0))]
    for a, b in itertools.pairwise(nodes):
        doc.connect(a.id, b.id)
    p = Project(doc)
    p.data_source = {"kind": "bundled", "name": "mnist"}
    t = p.training
    t.loss, t.metrics, t.epochs, t.batch_size, t.validation_split, t.seed = \
        "sparse_categorical_crossentropy", ["accuracy"], epochs, 32, 0.0, 1
    return p


@pytest.fixture(scope="module")
def digits():
    (x, y), (xt, yt) = bundled.mnist_subset()
    return x[:N].astype(np.float32) / 255, y[:N].astype(np.int64), xt[:50], yt[:50]


@pytest.fixture
def harness(qtbot, digits):
    h = Harness(qtbot, mnist_project())
    x, y, _, _ = digits
    h.controller.use_data(DataArrays(x, y, class_names=[str(i) for i in range(10)]))
    dock = h.controller.docks["try_it"]
    dock.show()
    dock.raise_()
    QApplication.processEvents()
    yield h
    h.controller.stop_and_wait()


def draw_a_stroke(pad):
    side = min(pad.width(), pad.height())
    x0, y0 = (pad.width() - side) // 2, (pad.height() - side) // 2
    pts = [QPoint(x0 + side // 2, y0 + side * k // 10) for k in range(2, 9)]
    QTest.mousePress(pad, Qt.LeftButton, Qt.NoModifier, pts[0])
    for p in pts[1:]:
        QTest.mouseMove(pad, p)
    QTest.mouseRelease(pad, Qt.LeftButton, Qt.NoModifier, pts[-1])


def test_drawing_gives_probabilities_on_every_stroke(harness, qtbot):
    panel = harness.controller.try_it
    qtbot.waitUntil(lambda: panel.snapshot is not None)
    assert "Untrained network" in panel.status.text()
    assert "28×28 grayscale, values scaled to [0, 1]" in panel.status.text()
    draw_a_stroke(panel.pad)
    qtbot.waitUntil(lambda: panel.last_scores is not None)
    scores = panel.last_scores
    assert [label for label, _ in scores.pairs] == [str(i) for i in range(10)]
    assert scores.probabilities and sum(v for _, v in scores.pairs) == pytest.approx(1, abs=1e-4)
    assert panel.bars.shown_labels() == [str(i) for i in range(10)]
    n = len(panel.predict_times)
    panel.pad.add_point(QPointF(200, 200))                   # one more segment: predicted again
    qtbot.waitUntil(lambda: len(panel.predict_times) > n)
    assert panel.preview.pixmap() is not None and not panel.preview.pixmap().isNull()
    panel.pad.setFocus()
    QTest.keyClick(panel.pad, Qt.Key_Backspace)              # keyboard: clear
    assert panel.pad.is_empty()
    qtbot.waitUntil(lambda: panel.bars.top.text() == "—")


def test_predictions_follow_the_trained_weights_on_a_private_copy(harness, qtbot, digits,
                                                                  tmp_path):
    c, panel = harness.controller, harness.controller.try_it
    harness.train_and_wait()
    qtbot.waitUntil(lambda: "trained for 1 epoch" in panel.status.text())
    assert panel.snapshot.model is not c.session.model          # never the training model
    assert panel.snapshot.model._plan.lock is not EXECUTION_LOCK
    assert c.session.model._plan.lock is EXECUTION_LOCK
    _, _, xt, yt = digits
    agree = 0
    for k in range(5):
        Image.fromarray(xt[k]).save(tmp_path / f"d{k}.png")
        assert panel.load_picture(tmp_path / f"d{k}.png")
        panel.flush()
        label = panel.last_scores.ranked()[0][0]
        want = int(np.argmax(c.session.model.predict(xt[k:k + 1] / 255.0, verbose=0)))
        assert label == str(want)                # the panel shows the trained model's answer
        agree += label == str(yt[k])
    assert agree >= 3 and panel.tabs.currentIndex() == 1


def test_live_snapshots_while_training_never_block_it(qtbot, digits, monkeypatch):
    import time

    from app.training.worker import TrainingWorker
    real_batch_end = TrainingWorker._on_batch_end

    def slow_batch_end(self, *args):           # ≥ 282 batches × 4 ms: the run spans several
        time.sleep(0.004)                      # snapshot intervals however fast the machine
        return real_batch_end(self, *args)
    monkeypatch.setattr(TrainingWorker, "_on_batch_end", slow_batch_end)
    h = Harness(qtbot, mnist_project(epochs=3))
    x, y, _, _ = digits
    h.controller.use_data(DataArrays(x, y))
    c, panel = h.controller, h.controller.try_it
    c.docks["try_it"].show()
    c.docks["try_it"].raise_()
    QApplication.processEvents()
    qtbot.waitUntil(lambda: panel.snapshot is not None)
    panel.pad.add_point(QPointF(140, 60), new_stroke=True)
    panel.pad.add_point(QPointF(140, 220))
    seen = []
    assert c.train()
    while c.is_running:
        qtbot.wait(50)
        if "live from training" in panel.status.text():
            seen.append(panel.status.text())
            panel.pad.add_point(QPointF(140 + len(seen) % 7, 200))   # keep drawing meanwhile
    h.controller.stop_and_wait()
    assert seen, "no weight snapshot arrived while training ran"
    assert h.outcomes[-1].status == "completed"
    assert "trained for 3 epochs" in panel.status.text()


def test_dropped_pictures_are_read_off_the_gui_thread(harness, qtbot, tmp_path, digits):
    panel = harness.controller.try_it
    qtbot.waitUntil(lambda: panel.snapshot is not None)
    Image.fromarray(255 - digits[2][0]).convert("RGB").save(tmp_path / "ink.jpg")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "ink.jpg"))])
    drop = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    panel.dropEvent(drop)
    panel.flush()
    assert panel.tabs.currentIndex() == 1 and panel.last_scores is not None
    seen = panel.preview.pixmap().toImage()
    assert seen.pixelColor(2, 2).lightness() < 60        # dark-on-light ink was inverted
    (tmp_path / "bad.png").write_bytes(b"nope")
    assert not panel.load_picture(tmp_path / "bad.png")
    assert "is not a picture LayerLoom can read" in panel.picture_label.text()


def test_text_models_take_sentences(qtbot):
    doc = GraphDocument("reviews")
    nodes = [doc.add_node("InputLayer", {"shape": [40], "dtype": "int32"}, "ids", (0, 0)),
             doc.add_node("Embedding", {"input_dim": 10000, "output_dim": 8}, "emb", (200, 0)),
             doc.add_node("GlobalAveragePooling1D", {}, "pool", (400, 0)),
             doc.add_node("Dense", {"units": 1, "activation": "sigmoid"}, "pos", (600, 0))]
    for a, b in itertools.pairwise(nodes):
        doc.connect(a.id, b.id)
    p = Project(doc)
    p.data_source = {"kind": "bundled", "name": "sentences"}
    h = Harness(qtbot, p)
    panel = h.controller.try_it
    h.controller.docks["try_it"].show()
    h.controller.docks["try_it"].raise_()
    QApplication.processEvents()
    qtbot.waitUntil(lambda: panel.snapshot is not None)
    assert panel.tabs.currentIndex() == 2 and not panel.tabs.isTabEnabled(0)
    panel.wait_context()
    panel.text_edit.setFocus()
    QTest.keyClicks(panel.text_edit, "The staff were friendly qwzx")
    qtbot.waitUntil(lambda: panel.last_scores is not None)
    assert [label for label, _ in panel.last_scores.pairs] == ["negative", "positive"]
    assert panel.words_label.text().startswith("4 of 5 words are in the vocabulary")


def test_networks_it_cannot_feed_say_why(qtbot):
    p = Project(blobs_graph())
    h = Harness(qtbot, p)
    panel = h.controller.try_it
    h.controller.docks["try_it"].show()
    h.controller.docks["try_it"].raise_()
    qtbot.waitUntil(lambda: "Try it cannot feed this network" in panel.status.text())
    assert "4 values per sample" in panel.status.text() and not panel.tabs.isEnabled()


def test_an_edited_graph_is_rebuilt_before_the_next_prediction(harness, qtbot):
    panel = harness.controller.try_it
    harness.train_and_wait()
    qtbot.waitUntil(lambda: "trained for 1 epoch" in panel.status.text())
    graph = harness.project.graph
    graph.set_param(graph.node_by_name("hidden").id, "units", 32)
    draw_a_stroke(panel.pad)
    qtbot.waitUntil(lambda: panel.snapshot.model.get_layer("hidden").units == 32)
    qtbot.waitUntil(lambda: "its trained weights no longer fit any layer" in
                    panel.status.text())
    qtbot.waitUntil(lambda: panel.last_scores is not None)
    assert len(panel.last_scores.pairs) == 10


def test_slow_predictions_thin_out_and_never_run_in_the_window(harness, qtbot,
                                                                monkeypatch):
    import threading
    import time

    from app.training import prediction_service
    panel = harness.controller.try_it
    qtbot.waitUntil(lambda: panel.snapshot is not None)
    panel.pad.add_point(QPointF(140, 60), new_stroke=True)
    panel.flush()                               # first-time costs (imports) out of the way
    real, threads = panel.snapshot.predict, []

    def slow(x, names=None):                    # a busy machine: 40 ms per prediction
        threads.append(threading.current_thread().name)
        time.sleep(0.04)
        return real(x, names)
    monkeypatch.setattr(panel.snapshot, "predict", slow)
    t = time.perf_counter()
    for k in range(20):                         # 20 pen segments in a burst
        panel.pad.add_point(QPointF(140, 60 + 5 * k))
    burst = time.perf_counter() - t
    panel.flush()
    assert set(threads) == {"try-it-predictions"}          # never on the window's thread
    # the newest input wins: one prediction per (40 ms + 4 × 40 ms rest), not one per segment
    assert len(threads) <= 2 + burst / 0.2 < 20
    rest = panel.service.rests[-1]              # then it rests 4× the prediction's time
    assert 0.04 * prediction_service.PREDICT_BUDGET <= rest <= prediction_service.MAX_REST_S
