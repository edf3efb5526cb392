"""Atomic file replacement: write a temp file in the target folder, fsync, ``os.replace``.

A crash or a full disk at any moment leaves either the old file or the new one, never a mix.
The new file keeps what the user set up around the old one: its permission bits (and group,
where allowed), and a symlink stays a symlink — the file it points to is replaced. Temp files
are named ``.<target name>.<8 random characters>.tmp``; ones that a killed process left behind
are removed by the next save of the same target.
"""
from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

STALE_SECONDS = 60   # an older temp file of ours is a crash's leftover, not a save under way


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, overwrite: bool = True,
                mode_from: str | os.PathLike | None = None) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success it replaces ``target`` atomically.

    The caller writes (and closes) the temp file inside the ``with`` block. The result has
    the mode of the file it replaces (or of ``mode_from``, or the umask's default for a new
    file); when ``target`` is a symlink, the file it points to is replaced.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target}: exists and overwrite=False")
    real = Path(os.path.realpath(target)) if target.is_symlink() else target
    folder = real.parent if str(real.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"{target}: the folder {folder} does not exist")
    remove_stale_temps(real)
    fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            f.flush()
            os.fsync(f.fileno())
        _copy_mode(Path(mode_from) if mode_from is not None else real, tmp_path)
        os.replace(tmp_path, real)
        _fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def remove_stale_temps(target: Path, older_than: float = STALE_SECONDS) -> list[Path]:
    """Delete the temp files of ``target`` that an earlier, killed save left behind (ours
    only: ``.<name>.<8 characters>.tmp``, older than ``older_than`` seconds)."""
    pattern = re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}\.tmp\Z")
    removed = []
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent if str(target.parent) else "."):
            if not pattern.match(entry.name):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(info.st_mode) and now - info.st_mtime > older_than:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _copy_mode(source: Path, tmp: Path) -> None:
    """Give ``tmp`` the permission bits (and group) of ``source``, or the default mode of a
    new file when ``source`` does not exist (mkstemp makes 0600)."""
    try:
        info = os.stat(source)
    except OSError:
        os.chmod(tmp, 0o666 & ~_umask())
        return
    os.chmod(tmp, stat.S_IMODE(info.st_mode))
    with contextlib.suppress(OSError, AttributeError):
        if info.st_gid != os.stat(tmp).st_gid:
            os.chown(tmp, -1, info.st_gid)


def _umask() -> int:
    """The process umask, read without changing it where the system allows."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where directories cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
