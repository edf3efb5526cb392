"""Matrix products on numba's threads: single-threaded BLAS sgemm per tile, tiles from a counter.

BLAS runs on one thread (engine/threading_policy.py). A product big enough for two cores is cut
into tiles of the output (or, when the output is small and the inner dimension long, into
slices of the inner dimension with one partial product each, added in slice order); numba's
workers take tiles from a shared counter and call sgemm on each. So products share the cores the
way every other kernel does, and a descheduled thread only delays its current tile.

``sgemm`` is also callable from inside other numba kernels (row-major, operands given by their
data address, ``ld`` = row stride in elements)::

    sgemm(trans_a, trans_b, m, n, k, alpha, a.ctypes.data, lda, b.ctypes.data, ldb,
          beta, c.ctypes.data, ldc)           # C = alpha·op(A)·op(B) + beta·C, float32

It calls numpy's own OpenBLAS (``cblas_sgemm``, found through threadpoolctl). Where numpy uses
another BLAS, the same symbol is bound to a numba loop with the same arguments (correct, slower),
so compiled kernels link the same way everywhere.

Inside ``partnered()`` (Model.predict, evaluate) mid-sized products are shared with a polling
partner thread instead: engine/kernels/partner.py.
"""
from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import carray, cfunc, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from engine import threading_policy as policy
from engine.kernels.parallel import fetch_add

# Products below this many floating-point operations run as one sgemm on the calling thread
# unless numba's workers are polling (policy.spinning(): a user's GOMP_SPINCOUNT > 0, idle).
# Waking a *sleeping* worker costs 60-75 µs per parallel region on this machine when it is idle
# (an empty 2-thread region: 63-74 µs median), and then tiles did not beat one single-threaded
# sgemm below ~100 MFLOP (idle, spin 0, median of 100, 2026-12-03): (32, 784) @ (784, 128)
# 352 µs tiled vs 84 µs serial, (256, 784) @ (784, 128) 847 vs 561 µs, (512, 784) @ (784, 128)
# 1161 vs 1157 µs, (1024, 1024) @ (1024, 1024) 18.1 vs 24.2 ms. With the workers polling
# (GOMP_SPINCOUNT=30000) a region starts in ~2 µs and tiles win from policy.PARALLEL_MIN_FLOPS up
# (median of 300): (32, 784) @ (784, 128) 54 µs tiled vs 83 serial, (784, 32) @ (32, 128) 42
# vs 72, (256, 784) @ (784, 128) 300 vs 507, (512, 784) @ (784, 128) 636 vs 1024.
GEMM_PARALLEL_MIN_FLOPS = 100e6
_SYMBOL = "layerloom_cblas_sgemm_ilp64"    # what compiled kernels call (int64 sizes)
_ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
_SIG = "void(int32, int32, int32, int64, int64, int64, float32, intp, int64, intp, int64, " \
       "float32, intp, int64)"


def _openblas_sgemm() -> tuple[int, bool] | None:
    """(address of numpy's OpenBLAS cblas_sgemm, whether its sizes are 64-bit) or None."""
    ctl = policy.blas_controller()
    if ctl is None or not ctl.filepath:
        return None
    lib = ctypes.CDLL(ctl.filepath)
    for prefix in ("scipy_", ""):
        for suffix in ("64_", "_64", ""):
            fn = getattr(lib, f"{prefix}cblas_sgemm{suffix}", None)
            if fn is None:
                continue
            config = getattr(lib, f"{prefix}openblas_get_config{suffix}", None)
            ilp64 = bool(suffix)
            if config is not None:
                config.restype = ctypes.c_char_p
                ilp64 = b"USE64BITINT" in (config() or b"")
            return ctypes.cast(fn, ctypes.c_void_p).value, ilp64
    return None


def _loop_sgemm(order, ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc):
    """cblas_sgemm (row-major) as plain loops, for a numpy without OpenBLAS."""
    rows_a = k if ta == TRANS else m
    rows_b = n if tb == TRANS else k
    a = carray(_ptr(pa), (rows_a, lda))
    b = carray(_ptr(pb), (rows_b, ldb))
    c = carray(_ptr(pc), (m, ldc))
    for i in range(m):
        for j in range(n):
            s = np.float32(0)
            for p in range(k):
                av = a[p, i] if ta == TRANS else a[i, p]
                bv = b[j, p] if tb == TRANS else b[p, j]
                s += av * bv
            c[i, j] = alpha * s + (beta * c[i, j] if beta != 0 else np.float32(0))


@intrinsic
def _ptr(typingctx, address):
    """The float32 pointer at an integer address (for carray)."""
    if not isinstance(address, types.Integer):
        return None
    sig = types.CPointer(types.float32)(address)

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], context.get_value_type(sig.return_type))
    return sig, codegen


def _bind() -> str:
    """Registers _SYMBOL with LLVM; returns what it is bound to."""
    found = _openblas_sgemm()
    if found is not None and found[1]:
        llvm.add_symbol(_SYMBOL, found[0])
        return "openblas"
    if found is not None:          # 32-bit sizes: a trampoline that narrows them
        c_int, c_long, c_float, c_void = ctypes.c_int32, ctypes.c_int32, ctypes.c_float, \
            ctypes.c_void_p
        proto = ctypes.CFUNCTYPE(None, c_int, c_int, c_int, c_long, c_long, c_long, c_float,
                                 c_void, c_long, c_void, c_long, c_float, c_void, c_long)
        lp64 = proto(found[0])

        def narrow(order, ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc):
            lp64(order, ta, tb, np.int32(m), np.int32(n), np.int32(k), alpha, pa,
                 np.int32(lda), pb, np.int32(ldb), beta, pc, np.int32(ldc))
        llvm.add_symbol(_SYMBOL, cfunc(_SIG)(narrow).address)
        return "openblas-lp64"
    llvm.add_symbol(_SYMBOL, cfunc(_SIG)(_loop_sgemm).address)
    return "numba-loops"


BOUND_TO = _bind()
# Products run in tiles on numba's threads with a real BLAS under them, unless BLAS was given
# threads of its own (LAYERLOOM_BLAS_THREADS > 1: then numpy's product uses them).
TILED = BOUND_TO.startswith("openblas") and policy.blas_threads_wanted() == 1


@intrinsic
def _cblas_sgemm(typingctx, ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc):
    sig = types.void(types.int32, types.int32, types.int64, types.int64, types.int64,
                     types.float32, types.intp, types.int64, types.intp, types.int64,
                     types.float32, types.intp, types.int64)

    def codegen(context, builder, sig, args):
        i32, i64, f32 = ir.IntType(32), ir.IntType(64), ir.FloatType()
        vp = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, f32, vp, i64, vp,
                                               i64, f32, vp, i64])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _SYMBOL)
        ta_, tb_, m_, n_, k_, al, pa_, lda_, pb_, ldb_, be, pc_, ldc_ = args
        builder.call(fn, [ir.Constant(i32, _ROW_MAJOR), ta_, tb_, m_, n_, k_, al,
                          builder.inttoptr(pa_, vp), lda_, builder.inttoptr(pb_, vp), ldb_, be,
                          builder.inttoptr(pc_, vp), ldc_])
        return context.get_dummy_value()
    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def sgemm(trans_a, trans_b, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc):
    """C = alpha·op(A)·op(B) + beta·C on the calling thread; row-major float32 operands by data
    address; op(X) = Xᵀ when trans_x. C is (m, n); op(A) (m, k); op(B) (k, n)."""
    _cblas_sgemm(np.int32(TRANS if trans_a else NO_TRANS), np.int32(TRANS if trans_b else NO_TRANS),
                 np.int64(m), np.int64(n), np.int64(k), np.float32(alpha), pa, np.int64(lda), pb,
                 np.int64(ldb), np.float32(beta), pc, np.int64(ldc))


@njit(cache=True, nogil=True, inline="always")
def _tile(t, gn, tm, tn, m, n, ta, tb, k, alpha, pa, lda, pb, ldb, beta, pc, ldc):
    i0 = (t // gn) * tm
    j0 = (t % gn) * tn
    a_off = i0 if ta else i0 * lda        # rows i0.. of op(A)
    b_off = j0 * ldb if tb else j0        # columns j0.. of op(B)
    sgemm(ta, tb, min(tm, m - i0), min(tn, n - j0), k, alpha, pa + 4 * a_off, lda,
          pb + 4 * b_off, ldb, beta, pc + 4 * (i0 * ldc + j0), ldc)


@njit(parallel=True, cache=True, nogil=True)
def _gemm_tiles(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, tm, tn, nworkers):
    """C in tiles of tm × tn, taken by nworkers threads from a counter."""
    gn = (n + tn - 1) // tn
    total = ((m + tm - 1) // tm) * gn
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= total:
                break
            _tile(t, gn, tm, tn, m, n, ta, tb, k, alpha, pa, lda, pb, ldb, beta, pc, ldc)


@njit(cache=True, nogil=True, inline="always")
def _tile_count(p):
    """The number of tiles of the product whose parameters p holds: int64 (ta, tb, m, n, k,
    pa, lda, pb, ldb, beta, pc, ldc, tm, tn), beta 0 or 1 — the layout _tiled builds and the
    partner's shared state carries (engine/kernels/partner.py)."""
    return ((p[2] + p[12] - 1) // p[12]) * ((p[3] + p[13] - 1) // p[13])


@njit(cache=True, nogil=True, inline="always")
def _param_tile(p, t):
    """Tile t of the product whose parameters p holds (see _tile_count)."""
    _tile(t, (p[3] + p[13] - 1) // p[13], p[12], p[13], p[2], p[3], p[0] != 0, p[1] != 0, p[4],
          np.float32(1), p[5], p[6], p[7], p[8], np.float32(p[9]), p[10], p[11])


@njit(parallel=True, cache=True, nogil=True)
def _gemm_tiles_pair(p1, p2, nworkers):
    """Two independent products in one parallel region: their tiles from one counter, the
    first product's first. p1, p2: their parameters (see _tile_count)."""
    total1 = _tile_count(p1)
    total = total1 + _tile_count(p2)
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            t = fetch_add(counter, 0)
            if t >= total:
                break
            if t < total1:
                _param_tile(p1, t)
            else:
                _param_tile(p2, t - total1)


@njit(parallel=True, cache=True, nogil=True)
def _gemm_ksplit(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, nslices, nworkers,
                 part):
    """C = alpha·Σ_s op(A)[:, slice s]·op(B)[slice s, :] + beta·C; part: (nslices, m, n)
    scratch. The partial products are added in slice order (the result does not depend on
    which thread computed which slice)."""
    counter = np.zeros(1, np.int64)
    for _ in prange(nworkers):
        while True:
            s = fetch_add(counter, 0)
            if s >= nslices:
                break
            k0 = s * k // nslices
            kk = (s + 1) * k // nslices - k0
            a_off = k0 * lda if ta else k0
            b_off = k0 if tb else k0 * ldb
            sgemm(ta, tb, m, n, kk, np.float32(1), pa + 4 * a_off, lda, pb + 4 * b_off, ldb,
                  np.float32(0), part[s].ctypes.data, n)
    _add_slices(part, alpha, beta, pc, ldc)


@njit(cache=True, nogil=True)
def _add_slices(part, alpha, beta, pc, ldc):
    nslices, m, n = part.shape
    c = carray(_ptr(pc), (m, ldc))
    for i in range(m):
        for j in range(n):
            s = part[0, i, j]
            for q in range(1, nslices):
                s += part[q, i, j]
            c[i, j] = alpha * s + (beta * c[i, j] if beta != 0 else np.float32(0))


# Inside partnered() (Model.predict, evaluate) products from PARTNER_MIN_FLOPS up to
# GEMM_PARALLEL_MIN_FLOPS are shared with a thread that polls only then: why and how in
# engine/kernels/partner.py.
PARTNER_MIN_FLOPS = 4e6


def product_threads(m: int, n: int, k: int) -> int:
    """How many threads matmul would give a float32 (m, k) @ (k, n) product on this thread now:
    the partner's two inside partnered(), numba's for big products, else 1. For callers that
    weigh another way of computing it (kernels/sparse_rows.py)."""
    flops = 2.0 * m * n * k
    if _partner_range(flops):
        return 2 if policy.CORES >= 2 and _partner_plan(m, n)[0] == "tiles" else 1
    return policy.workers(flops) if _for_threads(flops) and TILED else 1


def _partner_plan(m: int, n: int) -> tuple[str, int, int]:
    """Two tiles (halves of the output's longer side), or serial when that side is shorter than
    2 * MIN_TILE. Two, not four per thread as on numba's pool: the partner only runs while no
    other program loads the cores, and each tile's sgemm packs its own copy of the shared
    operand: (256, 784) @ (784, 128) with the partner polling, median of 600 in 6 rounds: two
    128-row tiles 284-291 µs, four 64-row tiles 305-307 µs, two 64-column tiles 302-306 µs."""
    if max(m, n) < 2 * MIN_TILE:
        return "serial", 0, 0
    return ("tiles", -(-m // 2), n) if m >= n else ("tiles", m, -(-n // 2))


def _tileable(a, b, out) -> bool:
    """Whether the product can run as sgemm calls on tiles: float32 operands and a C-contiguous
    float32 output, a real BLAS under it (not one given threads of its own)."""
    return (TILED and a.dtype == np.float32 and b.dtype == np.float32 and out.dtype == np.float32
            and out.flags.c_contiguous and a.shape[1] > 0)


def _partner_matmul(a, b, out, accumulate, m, n, k):
    """matmul's route while partnered(): with the partner when it is polling and no other
    program loads the cores, else one sgemm on the calling thread."""
    plan = _partner_plan(m, n)
    if plan[0] == "serial" or not _tileable(a, b, out) or policy.threads() != policy.CORES:
        return _serial(a, b, out, accumulate)
    from engine.kernels import partner     # not at the top: partner.py imports this module
    a2, ta, lda = _operand(a)
    b2, tb, ldb = _operand(b)
    if not partner._partner.call(int(ta), int(tb), m, n, k, a2.ctypes.data, lda,
                                 b2.ctypes.data, ldb, int(accumulate), out.ctypes.data, n,
                                 plan[1], plan[2]):
        _serial(a, b, out, accumulate)
    return out


def _operand(x: np.ndarray) -> tuple[np.ndarray, bool, int]:
    """(array whose rows are contiguous, transposed?, row stride in elements) for a 2-D float32
    operand: C-ordered rows as they are, a transposed C array (x.T) without a copy."""
    s0, s1 = x.strides
    if s1 == 4 and s0 >= 4 * x.shape[1] and s0 % 4 == 0:
        return x, False, s0 // 4
    if s0 == 4 and s1 >= 4 * x.shape[0] and s1 % 4 == 0:
        return x.T, True, s1 // 4
    x = np.ascontiguousarray(x)
    return x, False, x.shape[1]


# The shortest side of a tile. Each tile's sgemm packs its own copy of the operand rows or
# columns it shares with the other tiles; measured as process CPU time against one call
# (load average ~12, so only ratios are meaningful): 64-row tiles of (256, 784) @ (784, 128)
# cost 1.02x the CPU of one call, 32-row 1.18x; (9, 86528) @ (86528, 32) cut into 16-column
# tiles 3.1x, into 4 inner slices 1.13x.
MIN_TILE = 64
MIN_SLICE = 256            # inner-dimension slices of the k-split


def _plan(m: int, n: int, k: int, nworkers: int) -> tuple[str, int, int]:
    """How to cut the product: ("tiles", tm, tn), ("ksplit", nslices, 0) or ("serial", 0, 0).

    Tiles cut the longer side of the output into at most policy.chunks() pieces of at least
    MIN_TILE; a small output with a long inner dimension (a convolution's weight gradient,
    (kh·kw·c, N·OH·OW) @ (N·OH·OW, f)) is cut along the inner dimension instead."""
    nchunks = policy.chunks(2.0 * m * n * k, max(m, n, k), nworkers)
    for side in sorted((("rows", m), ("cols", n)), key=lambda t: -t[1]):
        g = min(nchunks, side[1] // MIN_TILE)
        if g >= nworkers:
            if side[0] == "rows":
                return "tiles", -(-m // g), n
            return "tiles", m, -(-n // g)
    g = min(nchunks, k // MIN_SLICE)
    if g >= nworkers:
        return "ksplit", g, 0
    return "serial", 0, 0


def _partner_range(flops: float) -> bool:
    """Whether matmul shares a product of this size with the partner (inside partnered())."""
    return PARTNER_MIN_FLOPS <= flops < GEMM_PARALLEL_MIN_FLOPS and _partnered_here()


def _partnered_here() -> bool:
    """Whether this thread is inside partnered()."""
    from engine.kernels import partner     # not at the top: partner.py imports this module
    return getattr(partner._partnered, "on", False)


def _for_threads(flops: float) -> bool:
    """Whether a product of this size is big enough for numba's threads outside partnered():
    GEMM_PARALLEL_MIN_FLOPS, or policy.PARALLEL_MIN_FLOPS while the workers poll."""
    return flops >= GEMM_PARALLEL_MIN_FLOPS or (flops >= policy.PARALLEL_MIN_FLOPS and
                                                 policy.spinning())


def _one_thread(flops: float) -> bool:
    """Below both thresholds no product runs on more than the calling thread, whatever the
    state (partnered or not, workers polling or not): matmul skips its plan."""
    return flops < PARTNER_MIN_FLOPS and flops < policy.PARALLEL_MIN_FLOPS


def _serial(a, b, out, accumulate):
    if accumulate:
        out += a @ b
    else:
        np.matmul(a, b, out=out)
    return out


def _threaded_plan(a, b, out, flops: float) -> tuple[tuple[str, int, int], int]:
    """(plan, workers) of a product outside partnered(): ("serial", 0, 0) and 1 unless it is
    big enough for numba's threads (GEMM_PARALLEL_MIN_FLOPS, or policy.PARALLEL_MIN_FLOPS while
    the workers spin) and can run as sgemm calls on tiles (_tileable); else _plan's cut."""
    nworkers = policy.workers(flops) if _for_threads(flops) else 1
    m, k = a.shape
    plan = _plan(m, b.shape[1], k, nworkers) if nworkers > 1 else ("serial", 0, 0)
    if plan[0] == "serial" or not _tileable(a, b, out):
        return ("serial", 0, 0), 1
    return plan, nworkers


def _tiled(a, b, out):
    """(the int64 parameters of _gemm_tiles_pair, workers, the operands to keep alive) for
    out = a @ b when matmul would run it in tiles on numba's threads (outside partnered()),
    else None."""
    m, k = a.shape
    n = b.shape[1]
    plan, nworkers = _threaded_plan(a, b, out, 2.0 * m * n * k)
    if plan[0] != "tiles":
        return None
    a2, ta, lda = _operand(a)
    b2, tb, ldb = _operand(b)
    params = np.array([ta, tb, m, n, k, a2.ctypes.data, lda, b2.ctypes.data, ldb, 0,
                       out.ctypes.data, n, plan[1], plan[2]], np.int64)
    return params, nworkers, (a2, b2)


def matmul_pair(a1, b1, out1, a2, b2, out2=None):
    """out1 = a1 @ b1 and out2 = a2 @ b2 (returned; allocated when None), two independent
    products, as two matmul calls — but when both would run in tiles on numba's threads, in
    one parallel region: waking the sleeping workers once instead of twice. A layer's weight
    gradient and input gradient, seed CNN's Dense(5408 → 128) at batch 128 (workers asleep,
    3 ms apart, median of 80, 2026-12-05): 3,029-3,088 µs as two calls, 2,811-2,830 µs paired;
    the results are the same (the same tiles)."""
    if out2 is None:
        out2 = np.empty((a2.shape[0], b2.shape[1]), np.result_type(a2, b2))
    if b1.shape[0] != a1.shape[1] or b2.shape[0] != a2.shape[1]:
        raise ValueError(f"matmul_pair: {a1.shape} @ {b1.shape} and {a2.shape} @ {b2.shape}: "
                         f"a's columns must equal b's rows")
    if (_one_thread(2.0 * a1.shape[0] * a1.shape[1] * b1.shape[1]) and
            _one_thread(2.0 * a2.shape[0] * a2.shape[1] * b2.shape[1])):
        _serial(a1, b1, out1, False)          # both small: no plan to make
        return _serial(a2, b2, out2, False)
    t1 = None if _partnered_here() else _tiled(a1, b1, out1)
    t2 = None if t1 is None else _tiled(a2, b2, out2)
    if t2 is None:
        matmul(a1, b1, out1)
        return matmul(a2, b2, out2)
    _gemm_tiles_pair(t1[0], t2[0], max(t1[1], t2[1]))
    return out2


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, *,
           accumulate: bool = False) -> np.ndarray:
    """out = a @ b (out += a @ b with accumulate) for 2-D a (m, k), b (k, n).

    float32 products of at least GEMM_PARALLEL_MIN_FLOPS (``policy.PARALLEL_MIN_FLOPS`` while the
    workers spin) run in tiles on numba's threads; inside ``partnered()`` (predict, evaluate)
    those from PARTNER_MIN_FLOPS up are shared with the polling partner when it is awake
    (engine/kernels/partner.py);
    smaller ones, and other dtypes, are one numpy call on the calling thread. ``a`` and ``b``
    may be transposed views (``x.T``) — no copy is made for them. ``out`` must be a C-contiguous
    (m, n) array when given.
    """
    m, k = a.shape
    n = b.shape[1]
    if b.shape[0] != k:
        raise ValueError(f"matmul: a is {a.shape} and b is {b.shape}; a's columns must equal "
                         f"b's rows")
    if out is None:
        out = np.zeros((m, n), np.result_type(a, b)) if accumulate else \
            np.empty((m, n), np.result_type(a, b))
    flops = 2.0 * m * n * k
    if _one_thread(flops):                  # neither threads nor the partner: one numpy call
        return _serial(a, b, out, accumulate)
    if _partner_range(flops):
        return _partner_matmul(a, b, out, accumulate, m, n, k)
    plan, nworkers = _threaded_plan(a, b, out, flops)
    if plan[0] == "serial":
        return _serial(a, b, out, accumulate)
    a2, ta, lda = _operand(a)
    b2, tb, ldb = _operand(b)
    beta = 1.0 if accumulate else 0.0
    if plan[0] == "tiles":
        _gemm_tiles(ta, tb, m, n, k, 1.0, a2.ctypes.data, lda, b2.ctypes.data, ldb, beta,
                    out.ctypes.data, n, plan[1], plan[2], nworkers)
    else:
        part = np.empty((plan[1], m, n), np.float32)
        _gemm_ksplit(ta, tb, m, n, k, 1.0, a2.ctypes.data, lda, b2.ctypes.data, ldb, beta,
                     out.ctypes.data, n, plan[1], nworkers, part)
    return out
