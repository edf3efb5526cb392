"""Keras 3 ``.keras`` archives: written as Keras writes them, read back with the same
predictions, compile settings and optimizer state, and refused — without executing anything and
without unbounded memory — when hostile. (Real Keras reading and writing them:
test_keras_interop.py.)"""
import io
import json
import zipfile

import h5py
import numpy as np
import pytest

from engine import layers as L
from engine.io.keras_format import MAX_CONFIG_BYTES, keras3_model_config
from engine.io.keras_h5 import ModelFileError
from engine.models import Sequential
from engine.saving import load_model, save_model
from tests.model_zoo import every_layer_inputs, every_layer_model, trained_mlp

X = every_layer_inputs()


def test_archive_has_keras3_members_and_config(tmp_path):
    model = every_layer_model()
    model.compile(optimizer="adam", loss=["mse", "mse"], metrics=[["mae"], ["mae"]])
    model.save(tmp_path / "zoo.keras")
    with zipfile.ZipFile(tmp_path / "zoo.keras") as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        assert json.loads(zf.read("metadata.json"))["keras_version"].startswith("3.")
        cfg = json.loads(zf.read("config.json"))
        weights = h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
    assert (cfg["module"], cfg["class_name"]) == ("keras.src.models.functional", "Functional")
    assert all(e["module"] == "keras.layers" for e in cfg["config"]["layers"])
    assert cfg["compile_config"]["loss"] == ["mean_squared_error", "mean_squared_error"]
    assert cfg["compile_config"]["metrics"] == [["mae"], ["mae"]]
    with weights:
        assert weights["vars"].attrs["name"] == "zoo"
        assert weights["layers/bidirectional/forward_layer/cell/vars/1"].shape == (3, 12)
        assert weights["layers/time_distributed/layer/vars/0"].shape == (4, 2)
        dense = {weights[f"layers/{k}/vars"].attrs["name"] for k in weights["layers"]
                 if k.startswith("dense")}
    assert dense == {lyr.name for lyr in model.layers if type(lyr).__name__ == "Dense"}


def test_engine_round_trip_keeps_predictions_compile_and_optimizer_state(tmp_path):
    model, x, y = trained_mlp()
    model.save(tmp_path / "m.keras")
    back = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    assert back.compiled and type(back.optimizer).__name__ == "Adam"
    # the optimizer continues where it was: one more step gives the same weights on both
    assert back.optimizer.iterations == model.optimizer.iterations == 8
    model.train_on_batch(x[:8], y[:8])
    back.train_on_batch(x[:8], y[:8])
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_every_layer_round_trips_through_the_archive(tmp_path):
    model = every_layer_model()
    save_model(model, tmp_path / "zoo.keras")
    back = load_model(tmp_path / "zoo.keras", compile=False)
    for a, b in zip(model.predict(X, verbose=0), back.predict(X, verbose=0)):
        np.testing.assert_array_equal(a, b)


def test_legacy_hdf5_under_a_keras_name_still_opens(tmp_path):
    model, x, _ = trained_mlp()
    model.save(tmp_path / "m.h5")
    (tmp_path / "m.h5").rename(tmp_path / "old.keras")
    np.testing.assert_array_equal(load_model(tmp_path / "old.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))


# ------------------------------------------------------------------ hostile archives
def _archive(path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _valid_members(tmp_path) -> dict[str, bytes]:
    model, _, _ = trained_mlp()
    model.save(tmp_path / "ok.keras")
    with zipfile.ZipFile(tmp_path / "ok.keras") as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _one_line_error(path, match: str):
    with pytest.raises(ModelFileError, match=match) as info:
        load_model(path)
    assert "\n" not in str(info.value)


def test_not_a_zip_and_missing_config_are_named(tmp_path):
    (tmp_path / "junk.keras").write_bytes(b"PK\x03\x04 not really a zip")
    _one_line_error(tmp_path / "junk.keras", "junk.keras")
    _one_line_error(_archive(tmp_path / "empty.keras", {"metadata.json": b"{}"}),
                    "no config.json")


def test_lambda_and_unknown_classes_are_refused_and_nothing_runs(tmp_path):
    members = _valid_members(tmp_path)
    cfg = json.loads(members["config.json"])
    marker = tmp_path / "pwned"
    code = f"__import__('pathlib').Path({str(marker)!r}).write_text('x')"
    cfg["config"]["layers"][1] = {
        "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
        "config": {"name": "hidden", "function": {"class_name": "__lambda__", "config": {
            "code": code, "defaults": None, "closure": None}}}}
    _one_line_error(_archive(tmp_path / "lambda.keras", {**members, "config.json":
                                                         json.dumps(cfg).encode()}), "Lambda")
    cfg["config"]["layers"][1] = {"module": "evil", "class_name": "Exploit",
                                  "registered_name": "Custom>Exploit", "config": {"name": "x"}}
    _one_line_error(_archive(tmp_path / "custom.keras", {**members, "config.json":
                                                         json.dumps(cfg).encode()}), "Exploit")
    assert not marker.exists()


def test_config_bomb_is_refused_by_its_real_size(tmp_path):
    members = _valid_members(tmp_path)
    bomb = b"{" + b" " * (MAX_CONFIG_BYTES + 10) + b"}"
    path = _archive(tmp_path / "bomb.keras", {**members, "config.json": bomb})
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("config.json").compress_size < 1 << 20
    _one_line_error(path, "inflates to more than")


def test_weights_bomb_is_refused_before_it_fills_memory(tmp_path):
    members = _valid_members(tmp_path)
    path = _archive(tmp_path / "wbomb.keras",
                    {**members, "model.weights.h5": b"\0" * (40 << 20)})
    _one_line_error(path, "model.weights.h5 inflates to more than")


def test_wrong_weight_shapes_and_damaged_archives_are_named(tmp_path):
    members = _valid_members(tmp_path)
    cfg = json.loads(members["config.json"])
    cfg["config"]["layers"][1]["config"]["units"] = 6
    _one_line_error(_archive(tmp_path / "shape.keras", {**members, "config.json":
                                                        json.dumps(cfg).encode()}),
                    "'hidden'.*shape")
    raw = (tmp_path / "ok.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(raw[: len(raw) // 2])
    _one_line_error(tmp_path / "cut.keras", "cut.keras")


def test_config_of_a_sequential_model_is_keras_shaped():
    model = Sequential([L.Input((3,)), L.Dense(2)], name="s")
    cfg = keras3_model_config(model)
    assert cfg["class_name"] == "Sequential" and cfg["build_config"] == {"input_shape":
                                                                          [None, 3]}
    assert "compile_config" not in cfg


@pytest.mark.filterwarnings("ignore")
def test_randomly_damaged_archives_raise_only_the_named_error(tmp_path):
    """Stored and deflated archives with flipped bytes and cut ends: every failure is a
    ModelFileError (zlib, zip-version and HDF5 errors included)."""
    import random
    members = _valid_members(tmp_path)
    rng = random.Random(0)
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raw = _archive(tmp_path / "base.keras", members, compression).read_bytes()
        for _ in range(120):
            damaged = bytearray(raw)
            for _ in range(rng.randint(1, 12)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            if rng.random() < 0.2:
                damaged = damaged[:rng.randrange(len(damaged))]
            (tmp_path / "d.keras").write_bytes(bytes(damaged))
            try:
                load_model(tmp_path / "d.keras")
            except ModelFileError as e:
                assert "\n" not in str(e)
