"""Where numba keeps the engine's compiled kernels: a folder named after the engine's source.

numba recompiles a cached kernel when the kernel's *own* file changes, but not when a function it
calls from another file does: the LSTM kernels in kernels/recurrent.py inline the products of
kernels/rnn_math.py, and after rnn_math.py changed, a checkout whose recurrent.py was untouched
kept running the old products from its ``__pycache__`` (measured 2026-12-03: the seed LSTM at
461 samples/s in that checkout against 683 in a fresh one with the same code). So the engine
points ``NUMBA_CACHE_DIR`` at ``<user cache>/layerloom/numba-<hash of every engine source
file>``: any change to the engine compiles afresh, the same code shares one cache. Set before
numba is imported (engine/__init__.py imports this module first); a user's own
``NUMBA_CACHE_DIR`` wins, and an unwritable cache folder leaves numba's default in place.

Each folder holds 15-90 MB of compiled kernels (measured: 65-87 MB after the test suite), so
the folders of other engine versions are pruned: each import stamps its own folder as used
(``.last-used``), and a background thread removes the folders of other versions not used for
KEEP_DAYS days, or for a day when KEEP_OTHERS more recently used ones remain. Another version
still running from a removed folder loses nothing it has loaded; a kernel it compiles later is
written to a new folder of the same name. (The day keeps a folder that a long-running process
of another version may still be writing to out of reach while versions change quickly, as in
development.)
"""
from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from pathlib import Path

ENGINE = Path(__file__).resolve().parent
STAMP = ".last-used"
KEEP_DAYS = 14
KEEP_OTHERS = 4
DAY = 86400.0


def source_hash(root: Path = ENGINE) -> str:
    """Hash of the path and contents of every .py file under ``root``."""
    h = hashlib.sha1()
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "layerloom" / f"numba-{source_hash()}"


def _last_used(folder: Path) -> float:
    """When an engine last used ``folder`` (its stamp's time, else the folder's own)."""
    for p in (folder / STAMP, folder):
        try:
            return p.stat().st_mtime
        except OSError:
            continue
    return 0.0


def stale_folders(current: Path, now: float | None = None) -> list[Path]:
    """The other versions' folders next to ``current`` that prune() removes: not used for
    KEEP_DAYS days, or for a day and not among the KEEP_OTHERS most recently used."""
    now = time.time() if now is None else now
    try:
        others = [p for p in current.parent.iterdir()
                  if p.name.startswith("numba-") and p.name != current.name and p.is_dir()
                  and not p.is_symlink()]
    except OSError:
        return []
    used = sorted(((_last_used(p), p) for p in others), key=lambda tp: tp[0], reverse=True)
    return [p for i, (t, p) in enumerate(used)
            if now - t > (DAY if i >= KEEP_OTHERS else KEEP_DAYS * DAY)]


def prune(current: Path) -> None:
    """Removes stale_folders(current); errors (a folder in use, gone already) are ignored."""
    for p in stale_folders(current):
        shutil.rmtree(p, ignore_errors=True)


def apply() -> str | None:
    """Sets NUMBA_CACHE_DIR (unless the user did); returns the folder, or None. Stamps the
    folder as used and prunes other versions' folders in a background thread."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    folder = cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            return None
    except OSError:
        return None
    try:
        (folder / STAMP).touch()
    except OSError:
        pass
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    threading.Thread(target=prune, args=(folder,), name="layerloom-cache-prune",
                     daemon=True).start()
    return str(folder)


APPLIED = apply()
