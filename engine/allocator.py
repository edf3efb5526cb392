"""The engine's memory policy: freed arrays stay in the process while a model trains.

A training step allocates and frees the same large arrays every time (layer outputs, their
gradients; 4 MB each for a (32, 32, 32, 32) float32 activation). With glibc's defaults, on the
main thread, much of that memory goes back to the kernel when it is freed (arrays above the
mmap threshold are unmapped; the top of the heap is trimmed once more than the trim threshold
is free there) and comes back one page fault per 4 KB page on the next step. The residual-block
workload (bench/workloads/resblock.py, fit on the main thread, 2026-12-05): 1,578-1,747 minor
page faults and 5-6 ms of system time per step of ~20 ms. The seed CIFAR-10 CNN: 457 faults
and 1.1-1.3 ms per step in one process, none in another (glibc's own thresholds move with the
sizes freed so far, so it depends on the order of the frees). Worker threads (the app's
training thread) already kept theirs: 0 faults per step measured there.

So at import, on glibc, the engine sets (``mallopt``) the mmap threshold to MMAP_THRESHOLD
(arrays up to 32 MB, glibc's largest allowed value, come from the heap) and the trim threshold
to TRIM_THRESHOLD (up to 256 MB of free heap top is kept); and :func:`release` hands the free
memory back (``malloc_trim``) when ``fit`` ends (also when it is interrupted), and when
``evaluate`` or ``predict`` of more than one batch ends having grown the resident memory by at
least RELEASE_MIN_GROWTH (:func:`release_if_grown`; a one-batch call, the app's live prediction
on every stroke, keeps its memory for the next). The seed MNIST CNN after ``fit``, then
``predict`` and ``evaluate`` of 10,000 images at batch 1,024: 274 MB resident without the
release, 236 MB with it; one ``malloc_trim`` took 0.4-1.3 ms (2026-12-05). Measured (idle
machine, 2026-12-05, three 1-epoch fits per process on the main thread): residual block
1,292-1,357 → 1,510-1,563 samples/s with 0 faults per step (21 per step counting the first step
after each fit's release), peak RSS 253 → 251 MB; `bench/under_load.py resblock --no-peers`
1,370 / 1,415 → 1,554 / 1,619. The seed MLP and MNIST CNN fault on nothing per step either way.
Peak RSS of the 150×150×3 CNN (`bench/memory.py cnn150`) 395 → 424 MB; its arrays above 32 MB
are mapped and unmapped as before.

A user's own glibc settings win: with MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_,
MALLOC_TOP_PAD_ or a ``malloc.`` entry in GLIBC_TUNABLES in the environment, nothing is changed.
Elsewhere (macOS, Windows, musl) this module does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

MMAP_THRESHOLD = 32 << 20      # glibc's maximum (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 256 << 20
RELEASE_MIN_GROWTH = 32 << 20  # release_if_grown: what evaluate / predict must have kept
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3          # malloc.h
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def _glibc():
    """The C library when it is glibc, else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _user_settings(env) -> bool:
    return any(name in env for name in _USER_SETTINGS) or \
        "malloc." in env.get("GLIBC_TUNABLES", "")


def _apply() -> bool:
    """Set the thresholds; whether they were set."""
    if _libc is None or _user_settings(os.environ):
        return False
    # mallopt returns 1 on success; setting either value also turns off glibc's dynamic
    # thresholds (which would raise the mmap threshold only after a large array is freed)
    return bool(_libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(_libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def release() -> bool:
    """Give the process's free heap memory back to the system (after training); whether the
    C library did (False where this policy is not applied)."""
    if not APPLIED:
        return False
    return bool(_libc.malloc_trim(0))


def resident() -> int:
    """The process's resident memory in bytes (/proc/self/statm, ~10 µs); 0 where this policy
    is not applied or it cannot be read."""
    if not APPLIED:
        return 0
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def release_if_grown(since: int) -> bool:
    """:func:`release` when the resident memory grew by at least RELEASE_MIN_GROWTH since
    ``since`` (a :func:`resident` reading): after evaluate and predict, whose batches may have
    left their freed activations in the heap. A pass that kept little skips the trim (0.4 – 0.9
    ms; the seed MLP predicts 10,240 samples in ~16 ms)."""
    if not APPLIED or resident() - since < RELEASE_MIN_GROWTH:
        return False
    return release()


def describe() -> dict:
    """The policy in force, for benchmark headers and bug reports."""
    if not APPLIED:
        return {"malloc": "C library defaults"}
    return {"malloc": f"glibc, mmap threshold {MMAP_THRESHOLD >> 20} MB, "
                      f"trim threshold {TRIM_THRESHOLD >> 20} MB"}


_libc = _glibc()
APPLIED = _apply()
