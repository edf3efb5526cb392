"""layerloom-cli end to end on a small project: info, train, evaluate, export, import, errors."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.graph import GraphDocument
from engine.project import Project, TrainingConfig, load_project, save_project

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path) -> Path:
    r = np.random.default_rng(0)
    x = r.standard_normal((200, 4)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=(x[:, 0] > 0).astype(np.int64),
             x_test=x[:50], y_test=(x[:50, 0] > 0).astype(np.int64))
    g = GraphDocument("tiny")
    i = g.add_node("InputLayer", {"shape": [4]})
    h = g.add_node("Dense", {"units": 8, "activation": "relu"})
    o = g.add_node("Dense", {"units": 2, "activation": "softmax"})
    g.connect(i.id, h.id)
    g.connect(h.id, o.id)
    p = Project(g)
    p.data_source = {"kind": "npz", "path": str(tmp_path / "d.npz")}
    p.training = TrainingConfig(loss="sparse_categorical_crossentropy", epochs=2, batch_size=16,
                                optimizer_args={"learning_rate": 0.01})
    return save_project(p, tmp_path / "tiny.loom")


def test_train_evaluate_export_import(project, tmp_path, capsys):
    assert main(["info", str(project)]) == 0
    assert "dense (Dense)" not in capsys.readouterr().out  # table form, not summary()
    assert main(["train", str(project), "--epochs", "12"]) == 0
    p = load_project(project)
    assert p.runs[-1].status == "completed" and len(p.runs[-1].history["loss"]) == 12
    assert p.weights and (tmp_path / "tiny.loom.bak").exists()
    capsys.readouterr()
    assert main(["evaluate", str(project)]) == 0
    out = capsys.readouterr().out
    assert "test set (50 samples)" in out and float(out.split("accuracy ")[1]) > 0.8
    assert main(["export", str(project), str(tmp_path / "m.h5")]) == 0
    assert main(["import", str(tmp_path / "m.h5"), str(tmp_path / "back.loom")]) == 0
    back = load_project(tmp_path / "back.loom")
    np.testing.assert_array_equal(back.weights["dense"][0], p.weights["dense"][0])
    assert main(["info", str(tmp_path / "m.h5")]) == 0


def test_exported_scripts(project, tmp_path):
    for flavour in ("keras", "engine"):
        out = tmp_path / f"exported_{flavour}.py"
        assert main(["export", str(project), str(out), "--flavour", flavour]) == 0
        compile(out.read_text(), str(out), "exec")
    run = subprocess.run([sys.executable, str(tmp_path / "exported_engine.py")], capture_output=True,
                         text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "test:" in run.stdout


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.loom")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("layerloom-cli: ")
    (tmp_path / "x.loom").write_text("garbage")
    assert main(["train", str(tmp_path / "x.loom")]) == 2
    assert "not a LayerLoom project" in capsys.readouterr().err


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "engine.cli", "--help"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0 and "train" in out.stdout
