"""The ``layerloom`` entry point: --open, --screenshot, --theme, and bad files."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from app.main import parse_args
from tests.app.conftest import small_graph

ROOT = Path(__file__).resolve().parents[2]


def run_app(args, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    return subprocess.run([sys.executable, "-m", "app.main", *args], cwd=ROOT, env=env, check=False,
                          capture_output=True, text=True, timeout=120)


def test_parse_args():
    a = parse_args(["--open", "m.loom", "--screenshot", "o.png", "--theme", "dark"])
    assert (a.open, a.screenshot, a.theme, a.size) == ("m.loom", "o.png", "dark", "1600x1000")


def test_screenshot_flag_renders_the_loaded_project_and_exits(tmp_path):
    project = pytest.importorskip("engine.project")
    path = tmp_path / "small.loom"
    project.save_project(project.Project(graph=small_graph()), path)
    out = tmp_path / "shot.png"
    done = run_app(["--open", str(path), "--screenshot", str(out), "--size", "1600x1000",
                    "--select", "dense", "--theme", "dark"], tmp_path)
    assert done.returncode == 0, done.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1600, 1000)
    colours = {image.pixel(x, y) for x in range(0, 1600, 7) for y in range(0, 1000, 7)}
    assert len(colours) > 100                       # a drawn window, not a blank image
    dark = QImage(str(out)).pixelColor(600, 400).lightness() < 128
    assert dark                                      # --theme dark reached the canvas
    assert not (tmp_path / "config" / "LayerLoom" / "LayerLoom.conf").exists() or \
        "last_project" not in (tmp_path / "config" / "LayerLoom" / "LayerLoom.conf").read_text()


def test_a_bad_file_gives_one_line_not_a_traceback(tmp_path):
    pytest.importorskip("engine.project")
    bad = tmp_path / "broken.loom"
    bad.write_text("garbage")
    done = run_app(["--open", str(bad), "--screenshot", str(tmp_path / "x.png")], tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("layerloom: broken.loom:")
    assert not (tmp_path / "x.png").exists()
