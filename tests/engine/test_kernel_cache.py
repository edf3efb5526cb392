"""engine.kernel_cache: numba's cache folder follows the engine's source."""
import os
import subprocess
import sys
from pathlib import Path

from engine import kernel_cache

ROOT = Path(__file__).resolve().parents[2]


def test_any_source_change_gives_another_folder(tmp_path):
    (tmp_path / "kernels").mkdir()
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "kernels" / "b.py").write_text("def f():\n    return 1\n")
    first = kernel_cache.source_hash(tmp_path)
    assert kernel_cache.source_hash(tmp_path) == first
    (tmp_path / "kernels" / "b.py").write_text("def f():\n    return 2\n")
    assert kernel_cache.source_hash(tmp_path) != first
    (tmp_path / "kernels" / "b.py").write_text("def f():\n    return 1\n")
    assert kernel_cache.source_hash(tmp_path) == first
    (tmp_path / "c.py").write_text("")
    assert kernel_cache.source_hash(tmp_path) != first


def _cache_dir_of_a_fresh_process(env):
    code = "import os, engine; print(os.environ.get('NUMBA_CACHE_DIR'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_engine_sets_the_folder_unless_the_user_did(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    got = _cache_dir_of_a_fresh_process(env)
    assert got == str(tmp_path / "layerloom" / f"numba-{kernel_cache.source_hash()}")
    assert Path(got).is_dir()
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    assert _cache_dir_of_a_fresh_process(env) == str(tmp_path / "mine")


def _folder(root, name, age_days, now, stamp=True):
    p = root / name
    p.mkdir()
    (p / "kernel.nbi").write_bytes(b"x")
    t = now - age_days * kernel_cache.DAY
    if stamp:
        (p / kernel_cache.STAMP).touch()
        os.utime(p / kernel_cache.STAMP, (t, t))
    os.utime(p, (t, t))
    return p


def test_other_versions_folders_are_pruned_by_last_use(tmp_path):
    """Other versions' folders go after KEEP_DAYS unused, or after a day when KEEP_OTHERS more
    recently used ones remain; the current folder, recent ones, symlinks and other names stay."""
    import time
    now = time.time()
    root = tmp_path / "layerloom"
    root.mkdir()
    current = _folder(root, "numba-current", 30, now)       # old stamp, but it is ours
    recent = [_folder(root, f"numba-recent{i}", 0.1 * i, now) for i in range(6)]
    week = _folder(root, "numba-week", 7, now)
    old = _folder(root, "numba-old", 20, now)
    unstamped = _folder(root, "numba-unstamped", 40, now, stamp=False)
    other = _folder(root, "notes", 100, now)
    link = root / "numba-link"
    link.symlink_to(old)
    stale = set(kernel_cache.stale_folders(current, now))
    # the 4 most recent stay; recent4, recent5 are within a day: they stay too
    assert stale == {week, old, unstamped}
    kernel_cache.prune(current)
    left = {p.name for p in root.iterdir()}
    assert left == {"numba-current", "notes", "numba-link"} | {p.name for p in recent}
    assert other.is_dir() and current.is_dir()


def test_import_stamps_its_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    got = Path(_cache_dir_of_a_fresh_process(env))
    assert (got / kernel_cache.STAMP).is_file()
