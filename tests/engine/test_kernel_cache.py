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
