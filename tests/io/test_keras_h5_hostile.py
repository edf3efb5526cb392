"""Hostile and damaged .h5 model files: each case of issue 13 is one line of ModelFileError
naming the file and the place, from the engine and from ``layerloom-cli``; weights are never
made up, read from other files, or allocated before their size is checked."""
import copy
import json
import shutil

import h5py
import numpy as np
import pytest

from engine import Input
from engine.cli import main
from engine.io.errors import ModelFileError
from engine.layers import Dense
from engine.models import Model, load_model
from tests import bombs


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("h5") / "good.h5"
    x = Input(shape=(4,), name="x")
    Model(x, Dense(2, name="d")(Dense(3, name="h")(x)), name="m").save(path)
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
    return path, config


def _with_config(good, tmp_path, change=None, raw=None):
    src, config = good
    path = tmp_path / "bad.h5"
    shutil.copy(src, path)
    if raw is None:
        config = copy.deepcopy(config)
        change(config)
        raw = json.dumps(config)
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = raw
    return path


def _history(index):
    def change(c):
        c["config"]["layers"][1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = \
            ["x", 0, index]
    return change


def _args(value):
    def change(c):
        c["config"]["layers"][1]["inbound_nodes"][0]["args"] = value
    return change


def _layer(key, value, i=1):
    def change(c):
        c["config"]["layers"][i][key] = value
    return change


CASES = {
    "config []": (None, "[]", "model_config is a list"),
    "config 1": (None, "1", "model_config is a number"),
    "config null": (None, "null", "attribute 'model_config' is null"),
    "config str": (None, '"str"', "model_config is a string"),
    "layers [1]": (lambda c: c["config"].__setitem__("layers", [1]), None,
                   "layer 0 of model_config is a number"),
    "layer config list": (_layer("config", [1]), None, r"layer 1 \('Dense'\): its 'config'"),
    "layer config true": (_layer("config", True), None, "its 'config' is a boolean"),
    "keras_history 5": (_history(5), None, "layer 'h' takes an output that its source does"),
    "keras_history -7": (_history(-7), None, "layer 'h': an input's tensor index is -7"),
    "args [1, 2]": (_args([1, 2]), None, r"called on no tensor \(its 'args' hold \[1, 2\]\)"),
    "args [{}]": (_args([{}]), None, "layer 'h' is called on no tensor"),
    "output index 1e30": (lambda c: c["config"].__setitem__("output_layers", [["d", 0, 1e30]]),
                          None, "'output_layers' entry 0's tensor index is 1e\\+30"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_model_configs_are_one_line(good, tmp_path, case, capsys):
    change, raw, message = CASES[case]
    path = _with_config(good, tmp_path, change, raw)
    with pytest.raises(ModelFileError, match=message) as e:
        load_model(path)
    assert str(e.value).startswith("bad.h5: ") and "\n" not in str(e.value)
    capsys.readouterr()
    assert main(["info", str(path)]) == 2                   # the CLI: one line, no traceback
    err = capsys.readouterr().err
    assert err.startswith("layerloom-cli: bad.h5: ") and err.count("\n") == 1


def _replace_kernel(good, tmp_path, make):
    path = tmp_path / "w.h5"
    shutil.copy(good[0], path)
    with h5py.File(path, "r+") as f:
        g = f["model_weights/h"]
        name = next(n.decode() for n in g.attrs["weight_names"] if n.endswith(b"kernel"))
        del g[name]
        make(g, name, tmp_path)
    return path


def test_missing_weights_are_an_error_naming_the_layers(good, tmp_path):
    path = tmp_path / "arch.h5"
    shutil.copy(good[0], path)
    with h5py.File(path, "r+") as f:
        del f["model_weights"]
    with pytest.raises(ModelFileError, match="no 'model_weights' group, so the weights of h, d "
                                             "are missing"):
        load_model(path)
    shutil.copy(good[0], path)
    with h5py.File(path, "r+") as f:
        f["model_weights"].attrs["layer_names"] = np.array([b"x", b"h"])
        del f["model_weights/d"]
    with pytest.raises(ModelFileError, match=r"has weights for 1 layers \('h'\), the model has 2 "
                                             r"layers with weights \('h', 'd'\)"):
        load_model(path)


def test_links_to_other_files_and_foreign_storage_are_refused(good, tmp_path):
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f.create_dataset("k", data=np.full((4, 3), 7.0, np.float32))
    cases = {
        "a link to another file": lambda g, n, d: g.__setitem__(n, h5py.ExternalLink(
            str(secret), "/k")),
        "keeps its data in other files": lambda g, n, d: g.create_dataset(
            n, shape=(4, 3), dtype="f4", external=[(str(d / "raw.bin"), 0, 48)]),
        "virtual dataset": lambda g, n, d: g.create_virtual_dataset(n, _virtual(secret)),
        "SoftLink": lambda g, n, d: g.__setitem__(n, h5py.SoftLink("/model_weights/h")),
    }
    (tmp_path / "raw.bin").write_bytes(np.full(12, 7.0, np.float32).tobytes())
    for message, make in cases.items():
        with pytest.raises(ModelFileError, match=message):
            load_model(_replace_kernel(good, tmp_path, make))


def _virtual(source):
    layout = h5py.VirtualLayout(shape=(4, 3), dtype="f4")
    layout[:] = h5py.VirtualSource(str(source), "k", shape=(4, 3))
    return layout


def test_huge_datasets_are_refused_before_reading(good, tmp_path):
    path = _replace_kernel(good, tmp_path, lambda g, n, d: g.create_dataset(
        n, shape=(1 << 40,), dtype="f4", chunks=(1 << 16,)))
    with pytest.raises(ModelFileError, match=r"weight 0 \(1099511627776,\) would take 4\.4 TB"):
        load_model(path)
    path = bombs.h5_fill_value_kernel(tmp_path / "fill.h5")
    with pytest.raises(ModelFileError, match=r"\(16384, 16384\) would take 1\.1 GB, more than "
                                             r"this file can plausibly hold"):
        load_model(path)


def test_weights_of_a_loaded_model_all_come_from_the_file(good):
    model = load_model(good[0])
    with h5py.File(good[0], "r") as f:
        g = f["model_weights/h"]
        kernel = next(g[n.decode()][()] for n in g.attrs["weight_names"]
                      if n.endswith(b"kernel"))
    np.testing.assert_array_equal(model.get_layer("h").get_weights()[0], kernel)
