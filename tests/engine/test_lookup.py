"""StringLookup / IntegerLookup against real Keras 3 (tests/fixtures/keras/
make_lookup_fixtures.py): the adapted vocabulary and its order, OOV and mask indices, the
vector output modes with tf-idf, inversion; configs keep the vocabulary; a string-input model
trains and its .h5 is read back by us and by real Keras."""
import json
from pathlib import Path

import numpy as np
import pytest

import engine as keras
from engine import layers as L

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras" / "lookup.json"
CASES = json.loads(FIX.read_text())


@pytest.mark.parametrize("name", CASES)
def test_matches_keras(name):
    case = CASES[name]
    layer = getattr(L, case["cls"])(**case["kwargs"])
    layer.adapt(np.array(case["data"]))
    assert layer.get_vocabulary() == case["vocabulary"]
    np.testing.assert_allclose(layer(np.array(case["query"])), case["output"], rtol=1e-6)
    if "inverted" in case:
        kept = {k: v for k, v in case["kwargs"].items() if k in ("mask_token", "num_oov_indices")}
        inv = getattr(L, case["cls"])(vocabulary=layer.get_vocabulary(False), invert=True,
                                      **kept)
        assert inv(layer(np.array(case["query"]))).tolist() == case["inverted"]


def test_given_vocabulary_shapes_configs_and_errors():
    s = L.StringLookup(vocabulary=["[UNK]", "a", "b"], name="s")   # Keras's leading OOV token
    assert s.get_vocabulary() == ["[UNK]", "a", "b"] and s.vocabulary_size() == 3
    assert s(np.array([b"a", b"q"])).tolist() == [1, 0]               # bytes decoded
    assert s.compute_output_shape((None, 4)) == (None, 4)
    hot = L.StringLookup(vocabulary=["a", "b"], output_mode="multi_hot")
    assert hot.compute_output_shape((None, 5)) == (None, 3)
    cfg = s.get_config()
    assert cfg["vocabulary"] == ["a", "b"]
    assert L.StringLookup.from_config(cfg).get_vocabulary() == s.get_vocabulary()
    with pytest.raises(ValueError, match="'q' is not in the vocabulary and num_oov_indices=0"):
        L.StringLookup(vocabulary=["a"], num_oov_indices=0)(np.array(["q"]))
    with pytest.raises(ValueError, match="has 'a' more than once"):
        L.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="invert=True needs output_mode='int'"):
        L.StringLookup(invert=True, output_mode="count")
    with pytest.raises(ValueError, match="tf_idf' with a given vocabulary needs idf_weights"):
        L.StringLookup(vocabulary=["a"], output_mode="tf_idf")


def test_string_model_trains_and_h5_round_trips(tmp_path):
    from tests.real_keras import run_real_keras
    words = np.array([["good", "film"], ["bad", "film"], ["good", "plot"], ["bad", "plot"]] * 8)
    y = np.array([1, 0, 1, 0] * 8, dtype=np.float32)
    lookup = L.StringLookup(name="words")
    lookup.adapt(words)
    inp = keras.Input((2,), dtype="string")
    x = L.Flatten()(L.Embedding(lookup.vocabulary_size(), 4)(lookup(inp)))
    model = keras.Model(inp, L.Dense(1, activation="sigmoid")(x))
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.fit(words, y, epochs=60, verbose=0)
    assert model.evaluate(words, y, verbose=0, return_dict=True)["accuracy"] == 1.0
    want = model.predict(words[:4], verbose=0)
    model.save(tmp_path / "words.h5")
    again = keras.models.load_model(tmp_path / "words.h5")
    assert again.get_layer("words").get_vocabulary() == lookup.get_vocabulary()
    np.testing.assert_allclose(again.predict(words[:4], verbose=0), want, rtol=1e-6)
    np.save(tmp_path / "want.npy", want)
    out = run_real_keras(
        "import numpy as np, keras\n"
        "m = keras.models.load_model('words.h5')\n"
        "x = np.array([['good', 'film'], ['bad', 'film'], ['good', 'plot'], ['bad', 'plot']])\n"
        "import tensorflow as tf\n"
        "np.testing.assert_allclose(m.predict(tf.constant(x), verbose=0), np.load('want.npy'),"
        " rtol=1e-5,"
        " atol=1e-6)\n"
        "print('ok', m.get_layer('words').get_vocabulary())\n", tmp_path)
    assert "ok" in out
