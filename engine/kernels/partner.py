"""A polling partner thread for the products of Model.predict and evaluate (``partnered()``).

numba's workers sleep between parallel regions (threading_policy: GOMP_SPINCOUNT=0), and waking
one costs more than a mid-sized product gains from a second core: (256, 784) @ (784, 128), the
seed MLP's product at predict's batch 256, took 512 µs as one sgemm and 442 µs in two tiles on
numba's threads (median of 60, idle, 2026-12-03), while PyTorch's polling threads predict the
whole batch in ~440 µs. During predict / evaluate the products come one after another, so a
partner thread that polls *only then* removes the wake-up: products of gemm.PARTNER_MIN_FLOPS up
to gemm.GEMM_PARALLEL_MIN_FLOPS are cut into tiles that the calling thread and the partner take
from a counter (a partner that is descheduled leaves its tiles to the caller; the caller waits
only for a tile the partner already took). The partner polls for PARTNER_POLL_SECONDS after its
last tile, then sleeps; when the caller finds it asleep it runs the product alone and wakes it
for the next one (the wake-up is never waited for). It is used only while ``partnered()`` is
active on the calling thread (Model.predict and evaluate), only when no other program loads the
cores (policy.threads() == CORES) and never in training steps (fit's validation passes are
evaluate's): polling workers were measured to spread fresh training processes
(threading_policy's docstring), and the partner in the seed MLP's training steps was slower (4
paired runs, median x0.90).

gemm.matmul decides which products go to the partner and how they are cut (_partner_range,
_partner_plan, _partner_matmul); the tiles are gemm's (_tile_count, _param_tile). The other
kind of work it shares is a Dense layer's product with a mostly-zero input outside training
(:func:`listed_product`, sparse_rows.SparseRows.product): chunks of rows, each listed and
multiplied by whichever thread takes it, with that thread's own scratch. The seed MLP's predict
of 10,240 MNIST images at batch 256 (engine only, median of 15, 2 alternating runs each,
2026-12-05): 668k / 671k samples/s with the sgemm tiles, 868k / 930k with the listed chunks.
This module imports gemm and sparse_rows; they import it inside the functions that use it, not
at their top.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time

import numpy as np
from numba import carray, njit, types
from numba.extending import intrinsic

from engine import threading_policy as policy
from engine.kernels.gemm import _param_tile, _tile_count
from engine.kernels.parallel import atomic_load, atomic_store, compare_exchange, fetch_add
from engine.kernels.sparse_rows import listing_buffers, product_chunks

PARTNER_POLL_SECONDS = 2e-3
_STATE, _TILE, _STOP, _JOINS = 0, 8, 16, 17   # on separate cache lines of the shared int64 array
_DENSE = 18                            # listed products: chunks that went to sgemm
_PARAMS = 24                           # ta, tb, m, n, k, pa, lda, pb, ldb, beta, pc, ldc, tm, tn
_KIND = 38                             # what the posted work is: TILES or LISTED
TILES, LISTED = 0, 1
_PARKED, _POLLING, _POSTED, _JOINED = 0, 1, 2, 3


def _pointer_cast(numba_type):
    @intrinsic
    def cast(typingctx, address):
        if not isinstance(address, types.Integer):
            return None
        sig = types.CPointer(numba_type)(address)

        def codegen(context, builder, sig, args):
            return builder.inttoptr(args[0], context.get_value_type(sig.return_type))
        return sig, codegen
    return cast


# typed pointers at integer addresses (for carray): the partner's view of the caller's arrays
_f32p = _pointer_cast(types.float32)
_i32p, _i64p = _pointer_cast(types.int32), _pointer_cast(types.int64)


@njit(cache=True, nogil=True)
def _partner_tiles(state):
    """Takes tiles of the posted product from the shared counter until none are left."""
    p = state[_PARAMS:_PARAMS + 14]
    total = _tile_count(p)
    while True:
        t = fetch_add(state, _TILE)
        if t >= total:
            break
        _param_tile(p, t)


@njit(cache=True, nogil=True)
def _partner_listed(state, who):
    """Takes chunks of the posted listed product (sparse_rows.product_chunks) with the scratch
    of thread ``who`` (0 the caller, 1 the partner). Parameters: x, m, k, w, n, out, rows,
    limit, then each thread's indptr, indices, values (addresses; sizes from rows, limit, k)."""
    p = state[_PARAMS:_PARAMS + 14]
    m, k, n, rows, limit = p[1], p[2], p[4], p[6], p[7]
    q = 8 + 3 * who
    product_chunks(carray(_f32p(p[0]), (m, k)), carray(_f32p(p[3]), (k, n)),
                   carray(_f32p(p[5]), (m, n)), rows, limit,
                   state, _TILE, state, _DENSE, carray(_i64p(p[q]), (rows + 1,)),
                   carray(_i32p(p[q + 1]), (limit + k,)), carray(_f32p(p[q + 2]), (limit + k,)))


@njit(cache=True, nogil=True)
def _partner_work(state, who):
    """Thread ``who``'s share of the posted work (0 the caller, 1 the partner)."""
    if state[_KIND] == LISTED:
        _partner_listed(state, who)
    else:
        _partner_tiles(state)


@njit(cache=True, nogil=True)
def _partner_serve(state, max_polls):
    """The partner's loop: join posted products; park after max_polls polls without one (or
    when asked to stop). States: parked -> polling -> posted (by the caller) -> joined ->
    polling."""
    polls = 0
    while True:
        st = atomic_load(state, _STATE)
        if st == _POSTED:
            if compare_exchange(state, _STATE, _POSTED, _JOINED):
                fetch_add(state, _JOINS)
                _partner_work(state, 1)
                atomic_store(state, _STATE, _POLLING)
                polls = 0
            continue
        if st == _PARKED:
            return
        if atomic_load(state, _STOP) != 0 or polls >= max_polls:
            if compare_exchange(state, _STATE, _POLLING, _PARKED):
                return
            continue
        polls += 1


@njit(cache=True, nogil=True)
def _partner_run(state):
    """On the calling thread: post the work whose parameters are in state, take tiles (or
    chunks), wait for the partner's if it joined. False (nothing done) when the partner is not
    polling."""
    atomic_store(state, _TILE, 0)
    atomic_store(state, _DENSE, 0)
    if not compare_exchange(state, _STATE, _POLLING, _POSTED):
        return False
    _partner_work(state, 0)
    if compare_exchange(state, _STATE, _POSTED, _POLLING):
        return True                    # the partner never joined: the caller took every tile
    while atomic_load(state, _STATE) == _JOINED:
        pass
    return True


class _Partner:
    """The polling partner thread (one per process, started on first use)."""

    def __init__(self):
        self.state = np.zeros(_PARAMS + 16, np.int64)
        self.lock = threading.Lock()        # one caller at a time posts products
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.max_polls = 0

    def _calibrate(self) -> None:
        """Polls per PARTNER_POLL_SECONDS on this machine (the loop parks after that many)."""
        polls = 200_000
        self.state[_STOP] = 0
        atomic_set(self.state, _STATE, _POLLING)
        _partner_serve(self.state, 10)                  # compiled / loaded from the cache
        best = float("inf")
        for _ in range(3):
            atomic_set(self.state, _STATE, _POLLING)
            t = time.perf_counter()
            _partner_serve(self.state, polls)
            best = min(best, time.perf_counter() - t)
        # a poll takes ~1 ns here (idle); the bounds keep a disturbed calibration from making the
        # window vanish or last seconds: at least the polls of 10 ns each (a calibration run
        # while other programs loaded the cores measured the time it was descheduled, and a
        # floor of 1,000 polls left a window of ~1 µs for the whole process: the partner then
        # never joined), at most those of 0.1 ns each
        self.max_polls = int(min(max(PARTNER_POLL_SECONDS / 1e-8,
                                     polls * PARTNER_POLL_SECONDS / max(best, 1e-9)),
                                 PARTNER_POLL_SECONDS / 1e-10))

    def _run(self) -> None:
        policy.background_thread()
        while True:
            self.wake.wait()
            self.wake.clear()
            atomic_set(self.state, _STATE, _POLLING)
            _partner_serve(self.state, self.max_polls)

    def _awake(self) -> bool:
        """Whether the partner is polling; if it is parked, wakes it (starting it on first
        use) for the next product and returns False: the caller computes this one alone."""
        state = self.state
        if state[_STATE] != _PARKED:
            return True
        if self.thread is None:
            self._calibrate()
            self.thread = threading.Thread(target=self._run, name="layerloom-product-partner",
                                           daemon=True)
            self.thread.start()
        state[_STOP] = 0
        self.wake.set()
        return False

    def call(self, ta, tb, m, n, k, pa, lda, pb, ldb, beta, pc, ldc, tm, tn) -> bool:
        """Runs the product with the partner; False when it is asleep (then woken for the next
        product: the caller computes this one alone)."""
        if not self._awake():
            return False
        state = self.state
        state[_KIND] = TILES
        state[_PARAMS:_PARAMS + 14] = (ta, tb, m, n, k, pa, lda, pb, ldb, beta, pc, ldc, tm, tn)
        return bool(_partner_run(state))

    def call_listed(self, x, w, out, rows, limit, mine, theirs) -> int | None:
        """sparse_rows.product_chunks shared with the partner (``mine`` and ``theirs``: the
        two threads' scratch, indptr / indices / values each); the number of chunks that went
        to sgemm, or None when the partner is asleep (woken; nothing done)."""
        if not self._awake():
            return None
        state = self.state
        m, k = x.shape
        state[_KIND] = LISTED
        state[_PARAMS:_PARAMS + 14] = (x.ctypes.data, m, k, w.ctypes.data, w.shape[1],
                                       out.ctypes.data, rows, limit,
                                       *(a.ctypes.data for a in mine),
                                       *(a.ctypes.data for a in theirs))
        if not _partner_run(state):
            return None
        return int(state[_DENSE])

    def stop(self) -> None:
        self.state[_STOP] = 1

    def joined(self) -> int:
        """How many products the partner has taken part in (for tests and benchmarks)."""
        return int(self.state[_JOINS])


def listed_product(x, w, out, rows: int, limit: int) -> int:
    """out = x @ w for inference by sparse_rows.product_chunks (x, w, out float32 and
    C-contiguous): with the partner inside partnered() when it is polling, the batch has two
    chunks or more and no other program loads the cores, else on the calling thread alone.
    Returns how many chunks went to sgemm."""
    k = x.shape[1]
    mine = listing_buffers(rows, limit, k)
    if (getattr(_partnered, "on", False) and x.shape[0] > rows and
            policy.threads() == policy.CORES):
        dense = _partner.call_listed(x, w, out, rows, limit, mine,
                                     listing_buffers(rows, limit, k))
        if dense is not None:
            return dense
    counter = np.zeros(2, np.int64)
    product_chunks(x, w, out, rows, limit, counter, 0, counter, 1, *mine)
    return int(counter[1])


def partner_joins() -> int:
    """Products the polling partner has worked on in this process so far."""
    return _partner.joined()


def _after_fork_in_child() -> None:
    """A forked child has no partner thread (nor its lock owner): start afresh."""
    global _partner
    _partner = _Partner()


@njit(cache=True, nogil=True)
def _atomic_set(state, index, value):
    atomic_store(state, index, value)


def atomic_set(state: np.ndarray, index: int, value: int) -> None:
    _atomic_set(state, index, value)


_partner = _Partner()
_partnered = threading.local()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextlib.contextmanager
def partnered():
    """Within it, this thread's mid-sized products may run with the polling partner (see the
    module docstring): Model.predict and evaluate wrap their loop over batches in it. Nested or
    concurrent uses run their products as before (one caller owns the partner at a time)."""
    partner = _partner
    if getattr(_partnered, "on", False) or policy.CORES < 2 or \
            not partner.lock.acquire(blocking=False):
        yield
        return
    _partnered.on = True
    try:
        yield
    finally:
        _partnered.on = False
        partner.stop()
        partner.lock.release()
