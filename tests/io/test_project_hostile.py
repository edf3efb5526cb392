"""Hostile and damaged .loom files: one line of ProjectError naming the file, from the engine
and from ``layerloom-cli``; weights a file claims but lacks are an error, weights of layers
edited since training are dropped as documented."""
import io
import json
import zipfile

import h5py
import numpy as np
import pytest

from engine.cli import main
from engine.graph import GraphDocument
from engine.project import Project, ProjectError, load_project, save_project
from engine.project.file import MAX_NODES
from tests import bombs


def _project() -> Project:
    g = GraphDocument("mlp")
    i = g.add_node("InputLayer", {"shape": [8]})
    h = g.add_node("Dense", {"units": 4, "activation": "relu"}, name="hidden")
    o = g.add_node("Dense", {"units": 2, "activation": "softmax"}, name="out")
    g.connect(i.id, h.id)
    g.connect(h.id, o.id)
    p = Project(g)
    p.store_weights(p.build_model())
    return p


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _rezip(path, members) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def _one_line_from_engine_and_cli(path, message, capsys):
    with pytest.raises(ProjectError, match=message) as e:
        load_project(path)
    assert str(e.value).startswith(f"{path.name}: ") and "\n" not in str(e.value)
    capsys.readouterr()
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"layerloom-cli: {path.name}: ") and err.count("\n") == 1


def test_huge_numbers_in_project_json(tmp_path, capsys):
    text = bombs.small_project_json().decode()
    path = tmp_path / "digits.loom"
    _rezip(path, {"project.json": text.replace('"units": 8', '"units": 1' + "0" * 5000)})
    _one_line_from_engine_and_cli(path, "project.json is not valid JSON", capsys)
    # 1 and 400 zeros is a valid number: the project opens and the node shows the problem
    _rezip(path, {"project.json": text.replace('"units": 8', '"units": 1' + "0" * 400)})
    problems = load_project(path).graph.problems()
    assert problems and "too large" in problems[0][1]


def test_weights_the_file_claims_but_lacks_are_an_error(tmp_path, capsys):
    path = save_project(_project(), tmp_path / "p.loom")
    members = _members(path)
    assert json.loads(members["project.json"])["stored_weights"] == ["hidden", "out"]
    buf = io.BytesIO()
    with h5py.File(io.BytesIO(members["weights.h5"]), "r") as src, h5py.File(buf, "w") as dst:
        src.copy("hidden", dst)
    _rezip(path, {"project.json": members["project.json"], "weights.h5": buf.getvalue()})
    _one_line_from_engine_and_cli(path, "weights.h5 lacks the trained weights of 'out', which "
                                        "project.json lists", capsys)
    _rezip(path, {"project.json": members["project.json"]})
    _one_line_from_engine_and_cli(path, "lists the trained weights of 'hidden', 'out', but the "
                                        "file has no weights.h5", capsys)


def test_layers_edited_since_training_start_fresh_without_an_error(tmp_path):
    p = _project()
    out = p.graph.node_by_name("out")
    p.graph.set_param(out.id, "units", 3)          # 'out' no longer fits its stored weights
    q = load_project(save_project(p, tmp_path / "edited.loom"))
    assert set(q.weights) == {"hidden"}
    np.testing.assert_array_equal(q.weights["hidden"][0], p.weights["hidden"][0])


def test_weights_are_checked_against_the_graph_before_reading(tmp_path, capsys):
    path = save_project(_project(), tmp_path / "w.loom")
    members = _members(path)
    for make, message in (
            (lambda g: g.create_dataset("0", shape=(1 << 30,), dtype="f4", chunks=(4096,)),
             (r"layer 'hidden' weight 0 has shape \(1073741824,\), the graph's layer needs "
              r"\(8, 4\)")),
            (lambda g: g.__setitem__("0", h5py.ExternalLink("/etc/hostname", "/x")),
             "is a link to another file"),
            (lambda g: g.create_dataset("0", data=np.zeros((8, 4), np.int32)),
             "weight 0 is missing or not floating point")):
        buf = io.BytesIO()
        with h5py.File(io.BytesIO(members["weights.h5"]), "r") as src, \
                h5py.File(buf, "w") as dst:
            src.copy("out", dst)
            g = dst.create_group("hidden")
            make(g)
            g.create_dataset("1", data=np.zeros(4, np.float32))
        _rezip(path, {"project.json": members["project.json"], "weights.h5": buf.getvalue()})
        _one_line_from_engine_and_cli(path, message, capsys)


def test_bombs_and_oversized_members(tmp_path, capsys):
    _one_line_from_engine_and_cli(bombs.loom_weights_bomb(tmp_path / "wb.loom", 400 * bombs.MB),
                                  "weights.h5 inflates to more than", capsys)
    _one_line_from_engine_and_cli(bombs.loom_json_bomb(tmp_path / "jb.loom", 100 * bombs.MB),
                                  "project.json inflates to more than 33.6 MB", capsys)
    _one_line_from_engine_and_cli(bombs.loom_json_objects(tmp_path / "jo.loom", 20),
                                  "project.json holds too many values", capsys)
    nodes = [{"id": f"n{k}", "type": "Dropout", "name": f"d{k}", "params": {}}
             for k in range(MAX_NODES + 1)]
    path = tmp_path / "many.loom"
    _rezip(path, {"project.json": json.dumps({"schema_version": 1, "graph": {
        "nodes": nodes, "edges": []}})})
    _one_line_from_engine_and_cli(path, f"the graph has {MAX_NODES + 1:,} layers", capsys)
