"""Downloading published data sets: a cache folder, checksums, resumable transfers.

``fetch(fname, origin, file_hash)`` returns the path of a verified copy: from LayerLoom's cache
(``$LAYERLOOM_DATA_DIR``, else the user's data folder: ``$XDG_DATA_HOME/layerloom/datasets`` or
``~/.local/share/layerloom/datasets`` on Linux, ``~/Library/Application Support/LayerLoom/
datasets`` on macOS, ``%LOCALAPPDATA%\\LayerLoom\\datasets`` on Windows), else from Keras's
cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``, read only) when it already holds the
same file, else downloaded. A download goes to ``<name>.part`` — an interrupted one resumes
from there with an HTTP range request — and is checked (sha256, or md5 where only that is
published) before ``os.replace`` gives it its real name, so the cache never holds a partial
or wrong file under the real name. The progress callback may raise :class:`DownloadCancelled`
to stop a download (the app's Cancel button): the partial file is kept, and the next call
resumes it.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ENV_DIR = "LAYERLOOM_DATA_DIR"
CHUNK = 1 << 20
TIMEOUT = 30.0
Progress = Callable[[int, "int | None"], None]

# the opener, a module attribute so tests can serve files without a network
urlopen = urllib.request.urlopen


class DownloadError(OSError):
    """A data set could not be downloaded or failed its checksum; ``url`` and ``path`` say
    which."""

    def __init__(self, message: str, url: str | None = None, path: Path | None = None):
        super().__init__(message)
        self.url, self.path = url, path

    def __str__(self) -> str:
        return self.args[0]


class DownloadCancelled(Exception):
    """Raised by a progress callback to stop a download; it propagates out of ``fetch``."""


class DatasetUnavailableError(DownloadError):
    """No network (or the server cannot be reached): the message says what to use offline."""


def data_dir() -> Path:
    """LayerLoom's data set cache folder (created on first download)."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "LayerLoom"
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support" / "LayerLoom"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "layerloom"
    return base / "datasets"


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded data sets (``$KERAS_HOME/datasets``, ``~/.keras/datasets``)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "datasets"


def file_hash(path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _algorithm(expected: str) -> str:
    return "md5" if len(expected) == 32 else "sha256"


def hash_matches(path, expected: str) -> bool:
    """True when the file's sha256 (64 hex digits) or md5 (32) is ``expected``."""
    return file_hash(path, _algorithm(expected)) == expected.lower()


def terminal_progress(name: str, stream=None, interval: float = 0.5) -> Progress:
    """A progress callback printing ``name: 12.3 / 170.5 MB`` at most every ``interval`` s."""
    stream = stream or sys.stderr
    last = [0.0]

    def report(done: int, total: int | None) -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if now - last[0] < interval and not finished:
            return
        last[0] = now
        size = f"{done / 1e6:.1f} / {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        stream.write(f"\r{name}: {size}" + ("\n" if finished else ""))
        stream.flush()
    return report


def fetch(fname: str, origin: str, file_hash: str, cache_subdir: str = "",
          progress: Progress | None = None, offline_hint: str = "",
          timeout: float = TIMEOUT) -> Path:
    """A verified local copy of ``origin`` saved as ``fname`` (see the module docstring).

    ``progress(done_bytes, total_bytes_or_None)`` is called while downloading (default: a
    line on stderr). Raises :class:`DatasetUnavailableError` (with ``offline_hint``) when the
    server cannot be reached, :class:`DownloadError` for a cut-off transfer (the partial
    file is kept; the next call resumes) or a checksum mismatch (the bad file is removed).
    """
    target = data_dir() / cache_subdir / fname
    if target.is_file() and hash_matches(target, file_hash):
        return target
    keras_copy = keras_cache_dir() / cache_subdir / fname
    if keras_copy.is_file() and hash_matches(keras_copy, file_hash):
        return keras_copy
    _download(origin, target, file_hash, progress or terminal_progress(fname), offline_hint,
              timeout)
    return target


def _open(origin: str, offset: int, target: Path, hint: str, timeout: float):
    """(response or None when the partial file is already complete, resumed?)."""
    headers = {"User-Agent": "LayerLoom"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        resp = urlopen(urllib.request.Request(origin, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:          # nothing left to send: the part is complete
            return None, True
        raise DownloadError(f"cannot download {target.name}: {origin} answered {e.code} "
                            f"{e.reason}", origin, target) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise DatasetUnavailableError(
            f"cannot download {target.name} from {origin} ({reason}); are you offline? "
            f"{hint}".strip(), origin, target) from None
    status = getattr(resp, "status", None) or resp.getcode()
    return resp, bool(offset) and status == 206


def _download(origin: str, target: Path, expected: str, progress: Progress, hint: str,
              timeout: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    resp, resumed = _open(origin, have, target, hint, timeout)
    if resp is not None:
        with resp:
            length = resp.headers.get("Content-Length")
            done = have if resumed else 0
            total = done + int(length) if length and length.isdigit() else None
            progress(done, total)               # the size is known: say so (or cancel)
            try:
                with open(part, "ab" if resumed else "wb") as f:
                    while chunk := resp.read(CHUNK):
                        f.write(chunk)
                        done += len(chunk)
                        progress(done, total)
                    f.flush()
                    os.fsync(f.fileno())
            except (OSError, http.client.HTTPException) as e:
                raise DownloadError(
                    f"the download of {target.name} was interrupted after {done:,} bytes "
                    f"({type(e).__name__}: {e}); run again to resume", origin, target) from None
        if total is not None and done < total:
            raise DownloadError(f"the download of {target.name} was cut off: {done:,} of "
                                f"{total:,} bytes; the partial file is kept and the next "
                                f"attempt resumes", origin, target)
    actual = file_hash(part, _algorithm(expected))
    if actual != expected.lower():
        part.unlink()
        raise DownloadError(f"{target.name} from {origin} failed its checksum: expected "
                            f"{_algorithm(expected)} {expected}, got {actual}; the file was "
                            f"removed (a damaged transfer or a changed file on the server)",
                            origin, target)
    os.replace(part, target)
