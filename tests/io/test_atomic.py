"""Saves keep the target's mode and symlinks, and clean up the temp files of killed saves."""
import os
import stat
import time
from pathlib import Path

import pytest

from engine.graph import GraphDocument
from engine.io.atomic import STALE_SECONDS, atomic_path
from engine.project import Project, load_project, save_project


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _project() -> Project:
    g = GraphDocument("m")
    i = g.add_node("InputLayer", {"shape": [3]})
    d = g.add_node("Dense", {"units": 2})
    g.connect(i.id, d.id)
    p = Project(g)
    p.store_weights(p.build_model())
    return p


def test_save_keeps_the_mode_of_the_file_and_its_backup(tmp_path):
    path = save_project(_project(), tmp_path / "p.loom")
    os.chmod(path, 0o640)
    save_project(_project(), path)
    assert _mode(path) == 0o640
    assert _mode(tmp_path / "p.loom.bak") == 0o640     # the backup has the file's mode
    os.chmod(path, 0o604)
    save_project(_project(), path)
    assert _mode(path) == 0o604 and _mode(tmp_path / "p.loom.bak") == 0o604


def test_new_files_get_the_umask_default_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_project(_project(), tmp_path / "new.loom")
        h5 = tmp_path / "m.h5"
        _project().build_model().save(h5)
    finally:
        os.umask(old)
    assert _mode(path) == 0o644 and _mode(h5) == 0o644
    os.chmod(h5, 0o664)
    _project().build_model().save(h5)                   # an exported .h5 keeps its mode too
    assert _mode(h5) == 0o664


def test_saving_through_a_symlink_writes_the_file_it_points_to(tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real = save_project(_project(), real_dir / "p.loom")
    link = tmp_path / "link.loom"
    link.symlink_to(real)
    p = load_project(link)
    p.graph.name = "through the link"
    save_project(p, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert load_project(real).graph.name == "through the link"
    assert not list(tmp_path.glob(".link.loom.*")) and not list(real_dir.glob(".p.loom.*"))


def test_stale_temp_files_of_killed_saves_are_removed(tmp_path):
    path = save_project(_project(), tmp_path / "p.loom")
    old = time.time() - 2 * STALE_SECONDS
    stale = [tmp_path / ".p.loom.abcd1234.tmp", tmp_path / ".p.loom.z_9y8x7w.tmp"]
    fresh = tmp_path / ".p.loom.qwer5678.tmp"         # maybe another save under way
    others = [tmp_path / ".p.loom.notes.tmp", tmp_path / ".q.loom.abcd1234.tmp",
              tmp_path / "p.loom.abcd1234.tmp"]        # not names our writer makes
    for f in stale + [fresh] + others:
        f.write_bytes(b"x" * 100)
        if f is not fresh:
            os.utime(f, (old, old))
    save_project(_project(), path)
    assert not any(f.exists() for f in stale)
    assert fresh.exists() and all(f.exists() for f in others)


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and _mode(target) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]
