"""The engine's threading policy: who owns the cores, how many threads each pool uses, and when.

**numba owns the cores.** Every parallel kernel runs on its OpenMP pool: one thread per core
this process may run on (``os.sched_getaffinity``) while the machine is otherwise idle, twice
as many while other programs keep those cores busy (measured every PROBE_SECONDS; see "how
many threads, and when" below). **BLAS gets one thread**:
OpenBLAS is set to a single thread (threadpoolctl) as soon as the engine is imported, and the
products worth two cores run on numba's threads instead — :func:`engine.kernels.gemm.matmul`
cuts the output into tiles and each numba thread calls the single-threaded sgemm on the tiles it
takes from a shared counter. So there is one pool of worker threads in the process, never two
pools spinning against each other, and no product is split statically between threads.

Why, measured on this 2-core machine (AMD EPYC, numpy's OpenBLAS 0.3.31 'SkylakeX' kernels):

- OpenBLAS's own two threads split a product statically and wait for each other by spinning and
  ``sched_yield``. While other programs used the cores (load average 2), the seed CNN's
  (128, 5408) @ (5408, 128) took 1.1-9.6 ms median per call with two OpenBLAS threads against
  2.1-2.4 ms with one, and single calls stalled for 50-171 ms (one thread: at most 15 ms). In
  a process that also runs numba's pool the median reached 112 ms: the "x @ W 5-85x slower for
  a whole process" of issue 16. With one BLAS thread there is nothing to stall on. The seed
  MLP in fresh processes (bench/launch_spread.py, load average 16-17, 8 runs each): with
  OpenBLAS's own two threads (the former policy) an epoch took 33-54 s and 5.4-10.5 CPU-s (its
  threads spin and yield while they wait for each other); with this policy 0.22-3.5 s and
  0.22-0.53 CPU-s.
- numba's workers sleep right after each parallel region (``GOMP_SPINCOUNT=0``, SPIN_COUNT).
  Waking a sleeping worker costs 76 µs median on this KVM machine when it is idle (an empty
  2-thread region; with the workers polling, ``GOMP_SPINCOUNT=10000``, 2 µs), and letting them
  poll was measured both ways (2026-12-03). Gains in one training process: seed CNN ×1.07
  (30,000 polls) to ×1.10 (100,000), paired runs, and products from 4 MFLOP win in tiles (see
  gemm.py), which made MLP predict at batch 256 1.16× PyTorch instead of 0.86×. Costs: the
  seed MLP in 20 fresh processes (bench/launch_spread.py) spread to slowest/fastest 0.39
  (30,000) and 0.34 (3,000) against 0.65-0.70 without polling (not explained; one guess, not
  verified: a polling worker placed on the main thread's core for a whole process). In the app
  (bench/ui_latency.py --try-it, one run each) the event loop's p99 was 52.6 ms with polling
  and 39.8 ms without; app/headless was 1.13 and 1.12, no difference there. So the default is no
  polling; ``spinning()`` tells the kernels when a user has turned it on (a dedicated training
  machine: ``GOMP_SPINCOUNT=30000``). While other programs load the cores the pool has more
  threads than cores and GNU OpenMP throttles any polling to ~100 polls by itself
  (measured with the main thread asleep between regions: process CPU/wall 1.0 with 2 threads
  and 30,000 polls, 0.05 with 4). Earlier, at load average ~16 with two threads: default spin
  2,760 samples/s on the seed CNN, 100,000: 3,290, 10,000: 5,110, 0: 6,880.
- Work is shared dynamically: a parallel kernel runs one loop per worker, and each worker takes
  chunks from an atomic counter (:func:`engine.kernels.parallel.fetch_add`) until none are left.
  numba's ``prange`` splits its range statically, so one thread that the OS deschedules for a
  time slice (a few ms on a busy machine) holds up the whole step; with chunks the other thread
  takes its share. Chunks are a few times more than the threads, none smaller than
  ``MIN_CHUNK_FLOPS`` of work.
- One exception to "no polling", bounded in time: while ``Model.predict`` / ``evaluate`` run,
  products of 4-100 MFLOP, and a Dense layer's listed product with a mostly-zero input, may be
  shared with a *partner* thread that polls for at most 2 ms after its last product and then
  sleeps (engine/kernels/partner.py, ``partnered``); it is never
  used in training steps (fit's validation passes are evaluate's), nor while other programs
  load the cores. The seed MLP's predict at
  batch 256 went from 0.59x PyTorch to 1.03x, 1.05x and 1.18x in three runs
  (bench/inference.py, PyTorch in the same runs).
- Small work stays on the calling thread: below ``PARALLEL_MIN_FLOPS`` waking the second thread
  costs more than it saves (dropout on 16k elements: 36 µs parallel, 6 µs serial).

Environment variables are only defaults: a user's own ``NUMBA_NUM_THREADS``, ``GOMP_SPINCOUNT``
or ``LAYERLOOM_BLAS_THREADS`` win. The variables this module set are listed in ``ENV_APPLIED``,
so that benchmarks can start peer frameworks without them (``peer_environment``).
"""
from __future__ import annotations

import os
import threading
import time

# ---------------------------------------------------------------- before numpy and numba load
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

SPIN_COUNT = 0        # GNU OpenMP's polls before an idle worker sleeps (see above)
_ENV_DEFAULTS = {
    # the pool: twice the cores this process may use (numba counts all the machine's cores);
    # kernels use one thread per core, all of them while other programs load the cores
    "NUMBA_NUM_THREADS": str(2 * CORES),
    "GOMP_SPINCOUNT": str(SPIN_COUNT),  # read when libgomp loads (numba's first parallel kernel)
}
ENV_APPLIED: dict[str, str] = {}
for _name, _value in _ENV_DEFAULTS.items():
    if _name not in os.environ:
        os.environ[_name] = _value
        ENV_APPLIED[_name] = _value

import numpy as np  # noqa: E402  (after the variables above)

# ---------------------------------------------------------------- decisions, with their figures
# Below this many floating-point operations a product or kernel runs on the calling thread.
# Waking numba's second thread and joining it costs 6-13 µs here (an empty parallel region:
# min 6 µs, median 9 µs at load average 5); cutting a (32, 784) @ (784, 128) product (6.4 MFLOP,
# 75 µs on one thread) into two tiles costs 1.2-1.4x its CPU time, so it gains ~15 µs at best.
PARALLEL_MIN_FLOPS = 4_000_000
# The smallest chunk a worker takes from the counter: smaller chunks cost more in per-chunk
# overhead (re-packed operands, counter traffic) than they save in balance.
MIN_CHUNK_FLOPS = 2_000_000
# Chunks per thread in a parallel kernel: enough that a descheduled thread's unfinished chunk is
# a small part of the step, few enough that per-chunk overhead stays small.
CHUNKS_PER_THREAD = 4


def blas_threads_wanted() -> int:
    """BLAS threads: 1 (see the module docstring), or LAYERLOOM_BLAS_THREADS."""
    value = os.environ.get("LAYERLOOM_BLAS_THREADS", "1")
    try:
        return max(1, int(value))
    except ValueError:
        raise ValueError(f"LAYERLOOM_BLAS_THREADS: expected a whole number of threads, "
                         f"found {value!r}") from None


# ---------------------------------------------------------------- how many threads, and when
# While the machine is otherwise idle, a parallel kernel uses one thread per core. While other
# programs keep the cores busy it uses the whole pool (twice the cores): the OS shares the cores
# between runnable threads, so two threads against two busy processes get one core between
# them, four get 1.3. With work taken from a counter the extra threads cost little (each takes
# chunks while it runs). Measured on the seed CNN at load average ~18 (other people's
# programs), samples/s: 2 threads 1,603 / 1,746 / 993 / 2,599, 4 threads 3,560 / 3,320 /
# 2,827 / 4,774; per CPU-second both ~5,700 (no work wasted). "Busy" is measured, at most
# every PROBE_SECONDS, as the CPU time of the cores this process may use minus its own.
CONTENDED_CORES = 0.3       # others using more than this (cores' worth): use the whole pool
PROBE_SECONDS = 0.5
_local = threading.local()
_probe_lock = threading.Lock()
_max_threads: int | None = None     # set_max_threads


class _LoadProbe:
    """Other programs' CPU use on this process's cores, from /proc/stat (Linux)."""

    def __init__(self):
        self.at: float | None = None
        self.busy = self.own = 0.0
        self.contended = False
        self.others = 0.0               # cores' worth, over the last probe interval
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _busy_seconds(self) -> float | None:
        cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        try:
            with open("/proc/stat") as f:
                total = 0
                for line in f:
                    if not line.startswith("cpu") or line.startswith("cpu "):
                        continue
                    name, *fields = line.split()
                    if not name[3:].isdigit():
                        break
                    if cpus is not None and int(name[3:]) not in cpus:
                        continue
                    v = [int(x) for x in fields[:8]]
                    total += sum(v) - v[3] - v[4]          # all but idle and iowait
        except OSError:
            return None
        return total / self.tick

    def update(self, now: float) -> None:
        busy, own = self._busy_seconds(), time.process_time()
        if busy is None:
            self.at = now
            return
        if self.at is not None and now > self.at:
            self.others = max(0.0, ((busy - self.busy) - (own - self.own)) / (now - self.at))
            # hysteresis: back to one thread per core only once the others are well below
            limit = CONTENDED_CORES / 2 if self.contended else CONTENDED_CORES
            self.contended = self.others > limit
        self.at, self.busy, self.own = now, busy, own


_load = _LoadProbe()


def pool_size() -> int:
    """Threads in numba's pool (NUMBA_NUM_THREADS)."""
    import numba
    return int(numba.config.NUMBA_NUM_THREADS)


def threads() -> int:
    """numba threads the calling thread's parallel kernels use now (see above), applied to
    numba (its setting is per calling thread); 1 in a background thread."""
    if getattr(_local, "background", False):
        return 1
    now = time.monotonic()
    if _load.at is None or now - _load.at >= PROBE_SECONDS:
        with _probe_lock:
            if _load.at is None or now - _load.at >= PROBE_SECONDS:
                _load.update(now)
    pool = pool_size()
    n = pool if _load.contended else min(CORES, pool)
    if _max_threads is not None:
        n = min(n, _max_threads)
    if getattr(_local, "applied", None) != n:
        import numba
        numba.set_num_threads(n)
        _local.applied = n
    return n


def set_max_threads(n: int | None) -> None:
    """At most ``n`` numba threads for the engine's kernels from now on, loaded or idle (None:
    the policy above decides alone). For comparisons at a fixed thread count
    (``bench/throughput.py --threads N``) and for leaving cores to other work. BLAS stays at
    its single thread either way: the products run on these numba threads (gemm.py)."""
    global _max_threads
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError(f"set_max_threads: expected a whole number >= 1 or None, got {n!r}")
    _max_threads = n


def _spin_setting() -> int:
    """GOMP_SPINCOUNT as GNU OpenMP reads it (unset: its default 300,000; 'infinite': forever)."""
    value = os.environ.get("GOMP_SPINCOUNT", "300000").strip().lower()
    if value in ("infinite", "infinity"):
        return 1 << 62
    try:
        return max(0, int(value))
    except ValueError:
        return 300000


SPINS = _spin_setting()


def spinning() -> bool:
    """Whether numba's workers are polling between parallel regions now (a region then starts
    in ~2 µs): spin count > 0 and no more threads than cores (with more, GNU OpenMP throttles
    its spin to ~100 polls; see the module docstring)."""
    return SPINS > 0 and threads() <= CORES


def background_thread() -> None:
    """Call at the start of a helper thread (data prefetch, decoding): its numba kernels run on
    that thread alone. numba's thread count is per calling thread, and a parallel kernel called
    from a second thread starts a second OpenMP team: with a training step running at the same
    time that is twice as many busy threads as cores."""
    import numba
    numba.set_num_threads(1)
    _local.background = True
    _local.applied = 1


def workers(flops: float, items: int | None = None) -> int:
    """How many threads a kernel with ``flops`` of work (over ``items`` independent items, when
    it cannot be cut finer) should use: 1 below PARALLEL_MIN_FLOPS, else up to every thread."""
    if flops < PARALLEL_MIN_FLOPS:
        return 1
    n = threads()
    if items is not None:
        n = min(n, items)
    return max(1, n)


def chunks(flops: float, items: int, nworkers: int) -> int:
    """How many chunks to cut ``items`` into for ``nworkers`` threads: CHUNKS_PER_THREAD per
    thread, none much below MIN_CHUNK_FLOPS, a multiple of ``nworkers``, never more than
    ``items``."""
    if nworkers <= 1:
        return 1
    want = nworkers * CHUNKS_PER_THREAD
    by_size = max(1, int(flops // MIN_CHUNK_FLOPS))
    n = min(want, max(by_size, nworkers))
    n = -(-n // nworkers) * nworkers         # a whole number per thread: 3 chunks on 2 threads
    return max(1, min(items, n))             # would take 2/3 of the time, 4 take 1/2


# ---------------------------------------------------------------- BLAS, through threadpoolctl
_blas = None          # the OpenBLAS controller, when numpy uses OpenBLAS


def blas_controller():
    """threadpoolctl's controller of numpy's OpenBLAS, or None (other BLAS, or none found)."""
    return _blas


def _limit_blas() -> None:
    global _blas
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:               # an install without it: BLAS keeps its own threads
        return
    found = [lib for lib in ThreadpoolController().lib_controllers
             if lib.internal_api == "openblas"]
    # numpy's own copy first (other packages may load another OpenBLAS)
    found.sort(key=lambda lib: "numpy" not in (lib.filepath or ""))
    _blas = found[0] if found else None
    if _blas is not None:
        _blas.set_num_threads(blas_threads_wanted())


_limit_blas()


def describe() -> dict:
    """The policy in force, for benchmark headers and bug reports."""
    import numba
    info = {"cores": CORES, "numba_threads": threads(), "numba_pool": pool_size(),
            "others_busy_cores": round(_load.others, 2),
            "numba_layer": os.environ.get("NUMBA_THREADING_LAYER", "default"),
            "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
            "numba": numba.__version__, "numpy": np.__version__}
    if _blas is not None:
        info.update(blas=f"OpenBLAS {_blas.version} {_blas.architecture}",
                    blas_threads=_blas.get_num_threads())
    else:
        info.update(blas="not controlled (not OpenBLAS, or threadpoolctl missing)")
    from engine import allocator
    info.update(allocator.describe())
    return info


def peer_environment(base: dict | None = None) -> dict:
    """``base`` (default os.environ) without the defaults this module applied: what another
    framework started from this process (a benchmark peer) would have seen without the engine."""
    env = dict(os.environ if base is None else base)
    for name in ENV_APPLIED:
        env.pop(name, None)
    return env
