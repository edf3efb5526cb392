"""Keras 3's weights layout (``*.weights.h5``, the inside of ``.keras``): layer order and group
names as Keras computes them, both directions, the legacy layout kept for other names, and
files that do not fit named before anything is read."""
import h5py
import numpy as np
import pytest

from engine import layers as L
from engine.io.keras3_weights import keras_layer_order, keras_snake_case, layer_group_names
from engine.io.errors import ModelFileError
from engine.models import Model, Sequential
from tests.model_zoo import every_layer_inputs, every_layer_model, perturb


def _branches() -> Model:
    """Input feeds a chain of three Dense and one more Dense; their sum is the output."""
    inp = L.Input((3,), name="inp")
    d = L.Dense(2, name="d1")(inp)
    d = L.Dense(2, name="d2")(d)
    d = L.Dense(2, name="d3")(d)
    e = L.Dense(2, name="e1")(inp)
    return Model(inp, L.Add(name="add")([d, e]), name="branches")


def test_layers_are_ordered_by_depth_then_by_first_visit_as_keras_does():
    assert [lyr.name for lyr in keras_layer_order(_branches())] == \
        ["inp", "d1", "d2", "d3", "e1", "add"]


def test_group_names_count_per_class():
    assert keras_snake_case("Conv2DTranspose") == "conv2d_transpose"
    assert keras_snake_case("ReLU") == "re_lu" and keras_snake_case("SimpleRNN") == "simple_rnn"
    assert layer_group_names(keras_layer_order(_branches())) == \
        ["input_layer", "dense", "dense_1", "dense_2", "dense_3", "add"]


def test_weights_h5_names_write_keras3_layout_and_read_back(tmp_path):
    model = _branches()
    perturb(model)
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "r") as f:
        assert "layer_names" not in f.attrs
        assert f["layers/dense_3/vars"].attrs["name"] == "e1"
        np.testing.assert_array_equal(f["layers/dense_3/vars/0"][()],
                                      model.get_layer("e1").kernel.value)
        assert sorted(f["layers/input_layer/vars"].keys()) == []
    other = _branches()
    other.load_weights(tmp_path / "m.weights.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_other_names_keep_the_legacy_layout_and_both_load(tmp_path):
    model = every_layer_model()
    model.save_weights(tmp_path / "legacy.h5")
    with h5py.File(tmp_path / "legacy.h5", "r") as f:
        assert "layer_names" in f.attrs
    x = every_layer_inputs()
    for name in ("legacy.h5", "new.weights.h5"):
        model.save_weights(tmp_path / name)
        other = every_layer_model()
        perturb(other, seed=5)
        other.load_weights(tmp_path / name)
        for a, b in zip(model.predict(x, verbose=0), other.predict(x, verbose=0)):
            np.testing.assert_array_equal(a, b)


def test_a_file_for_another_model_is_named_and_changes_nothing(tmp_path):
    small = Sequential([L.Input((3,)), L.Dense(4, name="a"), L.Dense(2, name="b")], name="s")
    small.save_weights(tmp_path / "s.weights.h5")
    wider = Sequential([L.Input((3,)), L.Dense(4, name="a"), L.Dense(5, name="b")], name="s")
    before = wider.get_weights()
    with pytest.raises(ModelFileError, match=r"layer 'b'.*\(4, 5\).*\(4, 2\)"):
        wider.load_weights(tmp_path / "s.weights.h5")
    for a, b in zip(before, wider.get_weights()):
        np.testing.assert_array_equal(a, b)
    wider.load_weights(tmp_path / "s.weights.h5", skip_mismatch=True)
    np.testing.assert_array_equal(wider.get_layer("a").kernel.value,
                                  small.get_layer("a").kernel.value)


def test_huge_or_external_datasets_are_refused_before_reading(tmp_path):
    model = Sequential([L.Input((3,)), L.Dense(2, name="a")], name="s")
    with h5py.File(tmp_path / "huge.weights.h5", "w") as f:
        f.create_group("vars")
        g = f.create_group("layers/dense/vars")
        g.create_dataset("0", shape=(1 << 20, 1 << 12), dtype="f4")   # never written: sparse
        g.create_dataset("1", data=np.zeros(2, np.float32))
    with pytest.raises(ModelFileError, match=r"shape \(3, 2\), the file has \(1048576, 4096\)"):
        model.load_weights(tmp_path / "huge.weights.h5")
    (tmp_path / "secret.bin").write_bytes(np.arange(6, dtype=np.float32).tobytes())
    with h5py.File(tmp_path / "ext.weights.h5", "w") as f:
        f.create_group("vars")
        g = f.create_group("layers/dense/vars")
        g.create_dataset("0", shape=(3, 2), dtype="f4",
                         external=[(str(tmp_path / "secret.bin"), 0, 24)])
        g.create_dataset("1", data=np.zeros(2, np.float32))
    with pytest.raises(ModelFileError, match="not a plain numeric dataset"):
        model.load_weights(tmp_path / "ext.weights.h5")
