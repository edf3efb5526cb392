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
Folders of other engine versions are left alone (another version may be running).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

ENGINE = Path(__file__).resolve().parent


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


def apply() -> str | None:
    """Sets NUMBA_CACHE_DIR (unless the user did); returns the folder, or None."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    folder = cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            return None
    except OSError:
        return None
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    return str(folder)


APPLIED = apply()
