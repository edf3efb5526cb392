"""Project files (.loom): round trip, atomic save with backup, autosave, and hostile input."""
import json
import zipfile

import numpy as np
import pytest

from engine.graph import GraphDocument
from engine.project import (Project, ProjectError, RunRecord, autosave_project, find_autosave,
                            load_project, save_project)


def _project() -> Project:
    g = GraphDocument("mlp")
    i = g.add_node("InputLayer", {"shape": [8]}, position=(0, 0))
    d1 = g.add_node("Dense", {"units": 4, "activation": "relu"}, name="hidden", position=(200, 0))
    d2 = g.add_node("Dense", {"units": 2, "activation": "softmax"}, name="out", position=(400, 0))
    g.connect(i.id, d1.id)
    g.connect(d1.id, d2.id)
    p = Project(g)
    p.data_source = {"kind": "npz", "path": "data.npz"}
    p.training.epochs = 3
    p.add_run(RunRecord(history={"loss": [1.0, 0.5]}, status="completed", finished=1.0))
    p.store_weights(p.build_model())
    return p


def test_round_trip_keeps_everything(tmp_path):
    p = _project()
    path = save_project(p, tmp_path / "a.loom")
    q = load_project(path)
    assert q.graph.to_dict() == p.graph.to_dict()
    assert q.training == p.training and q.data_source == p.data_source
    assert q.runs[0].history == {"loss": [1.0, 0.5]} and q.runs[0].status == "completed"
    for name, arrays in p.weights.items():
        for a, b in zip(arrays, q.weights[name]):
            np.testing.assert_array_equal(a, b)
    model = q.build_model()
    np.testing.assert_array_equal(model.get_layer("hidden").kernel.value, p.weights["hidden"][0])


def test_save_keeps_one_backup_and_clears_autosave(tmp_path):
    p = _project()
    path = tmp_path / "a.loom"
    save_project(p, path)
    p.training.epochs = 9
    side = autosave_project(p)
    assert side.name == "a.loom.autosave" and find_autosave(path) == side
    assert load_project(side).training.epochs == 9
    save_project(p)
    assert (tmp_path / "a.loom.bak").is_file() and not side.exists()
    assert load_project(tmp_path / "a.loom.bak").training.epochs == 3
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.loom", "a.loom.bak"]


def test_edited_layer_drops_its_stale_weights_on_save(tmp_path):
    p = _project()
    hidden = p.graph.node_by_name("hidden")
    p.graph.set_param(hidden.id, "units", 6)
    q = load_project(save_project(p, tmp_path / "b.loom"))
    assert not q.weights  # both layers changed shape, so no stale weights were written


def _write_zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


@pytest.mark.parametrize("members,message", [
    ({"other.txt": "x"}, "no project.json"),
    ({"project.json": "{"}, "not valid JSON"),
    ({"project.json": "[]"}, "must hold an object"),
    ({"project.json": json.dumps({"schema_version": 99})}, "newer LayerLoom"),
    ({"project.json": json.dumps({"schema_version": 1, "graph": {"nodes": [
        {"id": "n1", "type": "Quantum", "name": "q", "params": {}}], "edges": []}})},
     "unknown layer type 'Quantum'"),
    ({"project.json": json.dumps({"schema_version": 1, "graph": {"nodes": 5, "edges": []}})},
     "must be lists"),
    ({"project.json": json.dumps({"schema_version": 1, "graph": {"nodes": [], "edges": []},
                                  "training": {"epochs": "ten"}})}, "wrong type"),
    ({"project.json": "[" * 100000 + "]" * 100000}, "nested too deeply"),
    ({"../evil.json": "{}", "project.json": "{}"}, "suspicious entry"),
])
def test_bad_files_give_one_clear_error(tmp_path, members, message):
    path = tmp_path / "bad.loom"
    _write_zip(path, members)
    before = sorted(tmp_path.iterdir())
    with pytest.raises(ProjectError, match=message) as err:
        load_project(path)
    assert "\n" not in str(err.value) and str(err.value).startswith("bad.loom: ")
    assert sorted(tmp_path.iterdir()) == before


def test_weights_that_do_not_fit_are_refused(tmp_path):
    import h5py
    p = _project()
    path = save_project(p, tmp_path / "c.loom")
    with zipfile.ZipFile(path) as z:
        js = z.read("project.json")
    import io
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_group("hidden").create_dataset("0", data=np.zeros((3, 3), np.float32))
    _write_zip(path, {"project.json": js, "weights.h5": buf.getvalue()})
    with pytest.raises(ProjectError, match="weights of layer 'hidden' do not fit"):
        load_project(path)


def test_fuzzed_files_never_escape_as_other_errors(tmp_path):
    """Truncations and bit flips of a real project: a ProjectError each time, never a crash."""
    good = save_project(_project(), tmp_path / "good.loom").read_bytes()
    r = np.random.default_rng(0)
    target = tmp_path / "fuzz.loom"
    for trial in range(60):
        data = bytearray(good)
        if trial % 2:
            data = data[: r.integers(0, len(data))]
        else:
            for _ in range(r.integers(1, 20)):
                data[r.integers(0, len(data))] ^= 1 << int(r.integers(0, 8))
        target.write_bytes(bytes(data))
        try:
            load_project(target)
        except ProjectError as e:
            assert "\n" not in str(e)
