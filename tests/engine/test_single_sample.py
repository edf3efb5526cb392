"""Preparing one new input (a drawing, a picture, a sentence) the way a project's data source
prepares its samples; a model with its own execution lock runs beside a busy one."""
import threading

import numpy as np
import pytest
from PIL import Image

from engine.data import DataError
from engine.data import single_sample as ss
from engine.graph import GraphDocument, build_model
from engine.models import functional


def test_input_forms_follow_the_data_source():
    mnist = {"kind": "bundled", "name": "mnist", "shape": [28, 28, 1]}
    f = ss.input_form((28, 28, 1), "float32", mnist)
    assert (f.kind, f.image_shape, f.digits) == ("image", (28, 28, 1), True)
    assert f.scale == pytest.approx(1 / 255)
    flat = ss.input_form((784,), "float32", {"kind": "keras_dataset", "name": "fashion_mnist"})
    assert flat.image_shape == (28, 28, 1) and flat.input_shape == (784,)
    cifar = ss.input_form((32, 32, 3), "float32", {"kind": "keras_dataset", "name": "cifar10"})
    assert cifar.image_shape == (32, 32, 3) and not cifar.digits
    folder = ss.input_form((64, 64, 1), "float32", {"kind": "image_folder", "path": "x",
                                                    "target_size": [64, 64],
                                                    "color_mode": "grayscale"})
    assert folder.image_shape == (64, 64, 1) and folder.scale is None      # as trained: 0..255
    assert ss.input_form((28, 28), "float32", None).scale == pytest.approx(1 / 255)
    text = ss.input_form((40,), "int32", {"kind": "bundled", "name": "sentences"})
    assert (text.kind, text.maxlen) == ("text", 40)
    table = ss.input_form((4,), "float32", {"kind": "csv", "path": "iris.csv"})
    assert table.kind == "unsupported" and "4 values per sample (4,)" in table.reason
    wrong = ss.input_form((30, 30, 1), "float32", {"kind": "bundled", "name": "mnist"})
    assert wrong.kind == "unsupported"


def test_drawings_are_centred_like_mnist():
    pad = np.zeros((280, 280), np.float32)
    pad[20:120, 200:230] = 255.0                   # a tall stroke in the top-right corner
    out = ss.centre_like_mnist(pad)
    ink = np.argwhere(out > 0)
    assert out.shape == (28, 28) and ink[:, 0].max() - ink[:, 0].min() + 1 <= ss.DIGIT_BOX
    cy, cx = (out.sum(1) * np.arange(28)).sum() / out.sum(), \
        (out.sum(0) * np.arange(28)).sum() / out.sum()
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1
    assert not ss.centre_like_mnist(np.zeros((50, 50))).any()
    form = ss.input_form((28, 28, 1), "float32", {"kind": "bundled", "name": "mnist"})
    x = ss.image_sample(pad.astype(np.uint8), form, drawing=True)
    assert x.shape == (1, 28, 28, 1) and x.dtype == np.float32 and 0.9 < x.max() <= 1.0


def test_pictures_become_the_models_input():
    form = ss.input_form((28, 28), "float32", {"kind": "bundled", "name": "mnist"})
    photo = np.full((300, 200, 3), 240, np.uint8)           # ink on paper: dark on light
    photo[100:200, 90:110] = 20
    x = ss.image_sample(photo, form)
    assert x.shape == (1, 28, 28) and x[0, 0, 0] < 0.1 and x.max() > 0.5      # inverted
    assert ss.image_sample(photo, form, invert=False)[0, 0, 0] > 0.9
    cifar = ss.input_form((32, 32, 3), "float32", {"kind": "keras_dataset", "name": "cifar10"})
    gray = np.arange(64 * 64, dtype=np.float32).reshape(64, 64) % 256
    y = ss.image_sample(gray, cifar)
    assert y.shape == (1, 32, 32, 3) and np.allclose(y[..., 0], y[..., 2])
    with pytest.raises(ValueError, match="does not take pictures"):
        ss.image_sample(photo, ss.input_form((4,), "float32", {"kind": "csv", "path": "a"}))


def test_picture_files_are_checked_before_decoding(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((30, 20, 3), np.uint8)).save(tmp_path / "a.png")
    assert ss.read_image_file(tmp_path / "a.png").shape == (30, 20, 3)
    monkeypatch.setattr(ss, "MAX_PIXELS", 500)
    with pytest.raises(DataError, match=r"is 20×30 pixels; pictures up to"):
        ss.read_image_file(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"not a picture")
    with pytest.raises(DataError, match="is not a picture LayerLoom can read"):
        ss.read_image_file(tmp_path / "b.png")


def test_text_uses_the_sources_vocabulary():
    ctx = ss.source_context({"kind": "bundled", "name": "sentences"})
    assert ctx.class_names == ["negative", "positive"] and ctx.vocabulary[:2] == ["", "[UNK]"]
    ids = ss.text_sample("The food was great, qwzx!", ctx.vocabulary, 40)
    assert ids.shape == (1, 40) and ids.dtype == np.int32
    assert ids[0, 0] == ctx.vocabulary.index("the") and ids[0, 4] == 1 and ids[0, 5] == 0
    assert ss.known_words("The food was great, qwzx!", ctx.vocabulary) == (4, 5)
    assert ss.source_context({"kind": "keras_dataset", "name": "cifar10"}).class_names[0] == \
        "airplane"


def mlp():
    doc = GraphDocument("m")
    a = doc.add_node("InputLayer", {"shape": [8]})
    b = doc.add_node("Dense", {"units": 4, "activation": "softmax"})
    doc.connect(a.id, b.id)
    return build_model(doc)


def test_an_isolated_model_runs_while_the_shared_lock_is_held():
    busy, isolated = mlp(), mlp()
    functional.isolate_execution(isolated)
    assert busy._plan.lock is functional.EXECUTION_LOCK
    assert isolated._plan.lock is not functional.EXECUTION_LOCK
    x = np.ones((1, 8), np.float32)
    held, release = threading.Event(), threading.Event()

    def training_step():                    # holds the shared lock like a long forward pass
        with functional.EXECUTION_LOCK:
            held.set()
            release.wait(10)
    t = threading.Thread(target=training_step)
    t.start()
    held.wait(5)
    done = []
    runner = threading.Thread(target=lambda: done.append(isolated(x).shape))
    runner.start()
    runner.join(5)
    shared = threading.Thread(target=lambda: done.append(busy(x).shape))
    shared.start()
    shared.join(0.3)
    assert done == [(1, 4)] and shared.is_alive()          # the shared one waits
    release.set()
    shared.join(5)
    t.join(5)
    assert done == [(1, 4), (1, 4)]
    with pytest.raises(ValueError, match="is not built yet"):
        functional.isolate_execution(type("M", (), {"_plan": None, "name": "x"})())
