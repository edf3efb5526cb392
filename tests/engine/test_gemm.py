"""engine.kernels.gemm: tiled products on numba's threads against float64 numpy products;
engine.kernels.partner: the polling partner that shares them inside partnered()."""
import ctypes

import numpy as np
import pytest

from engine import threading_policy as policy  # (first: it sets numba's thread count)
from engine.kernels import gemm, partner
from numba import cfunc, njit  # noqa: I001

SHAPES = [(1, 1, 1), (3, 5, 7), (32, 784, 128), (784, 32, 128), (17, 300, 45), (9, 4000, 5),
          (130, 70, 3)]


def _rel_err(c, ref):
    return float(np.abs(c - ref).max() / max(1e-12, np.abs(ref).max()))


def _views(x):
    """x as C-ordered, as a transposed C array, and as a row slice of a wider array."""
    wide = np.zeros((x.shape[0], x.shape[1] + 3), x.dtype)
    wide[:, 1:1 + x.shape[1]] = x
    return [x, np.ascontiguousarray(x.T).T, wide[:, 1:1 + x.shape[1]]]


@pytest.fixture
def always_parallel(monkeypatch):
    """Every product takes the tiled path, however small (so small shapes test it)."""
    monkeypatch.setattr(policy, "PARALLEL_MIN_FLOPS", 0)
    monkeypatch.setattr(gemm, "GEMM_PARALLEL_MIN_FLOPS", 0)
    monkeypatch.setattr(policy, "MIN_CHUNK_FLOPS", 1)
    monkeypatch.setattr(gemm, "MIN_TILE", 2)
    monkeypatch.setattr(gemm, "MIN_SLICE", 2)


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_matmul_matches_numpy_for_every_operand_layout(m, k, n, always_parallel):
    rng = np.random.default_rng(m * 1000 + k + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    for av in _views(a):
        for bv in _views(b):
            assert _rel_err(gemm.matmul(av, bv), ref) < 1e-5
            out = np.full((m, n), 2.0, np.float32)
            gemm.matmul(av, bv, out, accumulate=True)
            assert _rel_err(out - 2.0, ref) < 1e-5


@pytest.mark.parametrize("plan", ["tiles_rows", "tiles_cols", "ksplit"])
def test_each_way_of_cutting_a_product(plan, always_parallel):
    rng = np.random.default_rng(1)
    m, k, n = 40, 500, 48
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    c = np.full((m, n), np.nan, np.float32)
    a2, ta, lda = gemm._operand(a.T.copy().T)      # a transposed operand
    b2, tb, ldb = gemm._operand(b)
    if plan == "ksplit":
        part = np.empty((5, m, n), np.float32)
        gemm._gemm_ksplit(ta, tb, m, n, k, 1.0, a2.ctypes.data, lda, b2.ctypes.data, ldb, 0.0,
                          c.ctypes.data, n, 5, 2, part)
    else:
        tm, tn = (7, n) if plan == "tiles_rows" else (m, 11)
        gemm._gemm_tiles(ta, tb, m, n, k, 1.0, a2.ctypes.data, lda, b2.ctypes.data, ldb, 0.0,
                         c.ctypes.data, n, tm, tn, 2)
    assert _rel_err(c, ref) < 1e-5


def test_plan_cuts_the_long_side_and_slices_long_inner_products():
    # _plan(m, n, k): output (m, n), inner dimension k
    assert gemm._plan(2048, 128, 128, 2) == ("tiles", 256, 128)        # 8 row tiles
    assert gemm._plan(32, 128, 784, 2) == ("tiles", 32, 64)            # two column tiles
    assert gemm._plan(9, 32, 86528, 2)[0] == "ksplit"                  # conv weight gradient
    assert gemm._plan(40, 40, 40, 2)[0] == "serial"                    # nothing worth cutting
    for m, k, n in ((2048, 128, 128), (32, 784, 128), (300, 300, 300)):
        _, tm, tn = gemm._plan(m, n, k, 2)
        assert min(tm, tn) >= min(m, n, gemm.MIN_TILE)


def test_results_do_not_depend_on_thread_timing(always_parallel):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((64, 3000)).astype(np.float32)
    b = rng.standard_normal((3000, 40)).astype(np.float32)
    first = gemm.matmul(a, b)
    for _ in range(5):
        np.testing.assert_array_equal(gemm.matmul(a, b), first)


def test_float64_and_small_products_are_plain_numpy():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    np.testing.assert_allclose(gemm.matmul(a, b), a @ b, rtol=1e-12)
    assert gemm.matmul(a, b).dtype == np.float64


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"a is \(2, 3\) and b is \(4, 5\)"):
        gemm.matmul(np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32))


def test_empty_inner_dimension_gives_zeros():
    out = gemm.matmul(np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32))
    np.testing.assert_array_equal(out, np.zeros((3, 4)))


@njit(cache=True, nogil=True)
def _product_in_a_kernel(a, b, c):
    m, k = a.shape
    gemm.sgemm(False, True, m, b.shape[0], k, 2.0, a.ctypes.data, k, b.ctypes.data, k, 0.0,
               c.ctypes.data, b.shape[0])


def test_sgemm_called_from_a_numba_kernel():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((6, 9)).astype(np.float32)
    b = rng.standard_normal((5, 9)).astype(np.float32)      # used transposed
    c = np.empty((6, 5), np.float32)
    _product_in_a_kernel(a, b, c)
    assert _rel_err(c, 2.0 * a.astype(np.float64) @ b.T) < 1e-5


def test_loop_fallback_matches_cblas_semantics():
    """The numba loops bound when numpy has no OpenBLAS: same arguments, same result."""
    fn = cfunc(gemm._SIG)(gemm._loop_sgemm)
    proto = ctypes.CFUNCTYPE(None, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
                             ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_float,
                             ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64,
                             ctypes.c_float, ctypes.c_void_p, ctypes.c_int64)(fn.address)
    rng = np.random.default_rng(5)
    a = rng.standard_normal((7, 4)).astype(np.float32)      # used transposed: op(A) (4, 7)
    b = rng.standard_normal((7, 3)).astype(np.float32)
    c = np.ones((4, 3), np.float32)
    proto(101, gemm.TRANS, gemm.NO_TRANS, 4, 3, 7, 0.5, a.ctypes.data, 4, b.ctypes.data, 3,
          2.0, c.ctypes.data, 3)
    assert _rel_err(c, 0.5 * a.T.astype(np.float64) @ b + 2.0) < 1e-5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(4, 256, 512), (3, 7, 5), (1, 1, 1), (5, 0, 3), (17, 33, 9)])
def test_the_recurrent_kernels_small_products_match_numpy(dtype, shape):
    """rnn_math's products: float32 C-contiguous operands go to sgemm, float64 and strided
    views to the loops; all three agree with numpy, whichever path they take."""
    from engine.kernels.rnn_math import matmul_acc, matmul_acc_tn, matmul_rows
    m, k, n = shape
    rng = np.random.default_rng(m * 100 + k)
    h = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((k, n)).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    z = np.full((m, n), 7, dtype)
    matmul_rows(h, w, z)
    np.testing.assert_allclose(z, h @ w, **tol)
    z0 = rng.standard_normal((m, n)).astype(dtype)
    z = z0.copy()
    matmul_acc(h, w, z)
    np.testing.assert_allclose(z, z0 + h @ w, **tol)
    a = rng.standard_normal((k, m)).astype(dtype)
    z = z0.copy()
    matmul_acc_tn(a, w, z)
    np.testing.assert_allclose(z, z0 + a.T @ w, **tol)
    strided = rng.standard_normal((m, 2 * k + 1)).astype(dtype)[:, :k]     # not contiguous
    z = np.full((m, n), 7, dtype)
    matmul_rows(strided, w, z)
    np.testing.assert_allclose(z, strided @ w, **tol)


@pytest.mark.parametrize("spinning, tiled", [(True, True), (False, False)])
def test_mid_sized_products_use_the_threads_only_while_the_workers_spin(monkeypatch, spinning,
                                                                        tiled):
    """A 6.4 MFLOP product (the seed MLP's) is tiled when a region starts in ~2 µs (spinning
    workers), one sgemm on the calling thread when waking a sleeping worker would cost more."""
    if not gemm.TILED:
        pytest.skip("no OpenBLAS sgemm under the tiles here")
    calls = []
    real = gemm._gemm_tiles
    monkeypatch.setattr(gemm, "_gemm_tiles", lambda *a: calls.append(a) or real(*a))
    monkeypatch.setattr(policy, "spinning", lambda: spinning)
    monkeypatch.setattr(policy, "workers", lambda flops, items=None: 2)
    rng = np.random.default_rng(4)
    a = rng.standard_normal((32, 784)).astype(np.float32)
    b = rng.standard_normal((784, 128)).astype(np.float32)
    np.testing.assert_allclose(gemm.matmul(a, b), a @ b, rtol=1e-4, atol=1e-4)
    assert bool(calls) == tiled


# ---------------------------------------------------------------- the polling partner (predict)
needs_partner = pytest.mark.skipif(not gemm.TILED or policy.CORES < 2,
                                   reason="the partner needs OpenBLAS and two cores")


def _joined_while(fn, seconds=20.0):
    """Runs fn() inside partnered() until the partner has joined a product (it is asleep at
    first: the first product wakes it) or ``seconds`` have passed (a machine loaded by other
    programs may keep the partner thread off the cores for a while); returns how many joins
    were counted."""
    import time
    before = partner.partner_joins()
    end = time.monotonic() + seconds
    with partner.partnered():
        while time.monotonic() < end:
            fn()
            if partner.partner_joins() > before:
                break
            time.sleep(0.002)               # let the woken thread take the GIL and poll
        for _ in range(5):
            fn()
    return partner.partner_joins() - before


@needs_partner
def test_products_with_the_polling_partner_match_numpy(monkeypatch):
    monkeypatch.setattr(policy, "threads", lambda: policy.CORES)   # as on an idle machine
    rng = np.random.default_rng(7)
    a = rng.standard_normal((256, 784)).astype(np.float32)
    b = rng.standard_normal((784, 128)).astype(np.float32)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    results = []
    assert _joined_while(lambda: results.append(gemm.matmul(a, b))) > 0
    assert all(_rel_err(c, ref) < 1e-5 for c in results)
    # every operand layout, odd sizes, accumulate, column tiles (m < n): small tiles allowed
    monkeypatch.setattr(gemm, "PARTNER_MIN_FLOPS", 0)
    monkeypatch.setattr(gemm, "MIN_TILE", 2)
    for m, k, n in [(5, 3, 7), (131, 70, 3), (9, 300, 250), (257, 784, 129)]:
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = rng.standard_normal((k, n)).astype(np.float32)
        ref = x.astype(np.float64) @ w.astype(np.float64)
        with partner.partnered():
            for xv in _views(x):
                for wv in _views(w):
                    for _ in range(3):
                        assert _rel_err(gemm.matmul(xv, wv), ref) < 1e-5
                        out = np.full((m, n), 2.0, np.float32)
                        gemm.matmul(xv, wv, out, accumulate=True)
                        assert _rel_err(out - 2.0, ref) < 1e-5


@needs_partner
def test_the_caller_does_every_tile_when_the_partner_never_comes():
    """A partner marked polling whose thread does not exist (a forked child) never holds the
    caller up: the caller takes every tile and withdraws the product."""
    p = partner._Partner()
    partner.atomic_set(p.state, partner._STATE, partner._POLLING)
    rng = np.random.default_rng(8)
    a = rng.standard_normal((200, 300)).astype(np.float32)
    b = rng.standard_normal((300, 90)).astype(np.float32)
    c = np.full((200, 90), np.nan, np.float32)
    assert p.call(0, 0, 200, 90, 300, a.ctypes.data, 300, b.ctypes.data, 90, 0,
                  c.ctypes.data, 90, 64, 90)
    assert _rel_err(c, a.astype(np.float64) @ b) < 1e-5
    assert p.state[partner._STATE] == partner._POLLING and p.joined() == 0
    assert p.thread is None


@needs_partner
def test_asleep_partner_is_woken_and_the_product_runs_on_the_caller():
    p = partner._Partner()
    a = np.ones((128, 64), np.float32)
    b = np.ones((64, 128), np.float32)
    c = np.zeros((128, 128), np.float32)
    assert not p.call(0, 0, 128, 128, 64, a.ctypes.data, 64, b.ctypes.data, 128, 0,
                      c.ctypes.data, 128, 64, 128)   # asleep: nothing done, thread started
    assert p.thread is not None and p.thread.daemon
    assert p.max_polls >= partner.PARTNER_POLL_SECONDS / 1e-8 and not c.any()
    p.stop()


@needs_partner
def test_a_calibration_disturbed_by_other_programs_keeps_a_usable_window(monkeypatch):
    """The partner counts how many polls make PARTNER_POLL_SECONDS; when the calibration runs
    are descheduled (here: every timed run seems to take a whole second) the window keeps
    the floor of 10 ns per poll instead of shrinking to a few microseconds."""
    import itertools
    clock = itertools.count()
    monkeypatch.setattr(partner.time, "perf_counter", lambda: float(next(clock)))
    p = partner._Partner()
    p._calibrate()
    assert p.max_polls == int(partner.PARTNER_POLL_SECONDS / 1e-8)


@needs_partner
def test_partnered_has_one_owner_and_stops_the_partner_on_exit(monkeypatch):
    import threading
    monkeypatch.setattr(policy, "threads", lambda: policy.CORES)
    seen = {}

    def other():
        with partner.partnered():
            seen["other"] = getattr(partner._partnered, "on", False)
    with partner.partnered():
        with partner.partnered():                   # nested: still on, no second owner
            assert partner._partnered.on
        assert partner._partnered.on
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen["other"] is False                   # another thread ran its products alone
    assert not partner._partnered.on
    assert partner._partner.state[partner._STOP] == 1
    assert partner._partner.lock.acquire(blocking=False)
    partner._partner.lock.release()


@needs_partner
def test_predict_with_the_partner_equals_predict_without(monkeypatch):
    import contextlib

    import engine as keras
    from engine import layers
    monkeypatch.setattr(policy, "threads", lambda: policy.CORES)
    model = keras.Sequential([keras.Input((28, 28)), layers.Flatten(),
                              layers.Dense(128, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    x = np.random.default_rng(9).random((3000, 28, 28), np.float32)
    got = []
    joins = _joined_while(lambda: got.append(model.predict(x, batch_size=256, verbose=0)), 20)
    assert joins > 0
    from engine.models import training
    monkeypatch.setattr(training, "partnered", contextlib.nullcontext)
    alone = model.predict(x, batch_size=256, verbose=0)
    for y in got:
        np.testing.assert_allclose(y, alone, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("parallel", [False, True])
def test_matmul_pair_equals_two_matmuls(monkeypatch, parallel):
    """A layer's weight gradient and input gradient as one pair: the same values as two
    matmul calls, bit for bit (the same tiles), in one parallel region when both are tiled;
    operand views (x.T, W.T) and an allocated second output; the second product is not
    tiled (too small): two plain calls."""
    calls = []
    if parallel:
        monkeypatch.setattr(policy, "PARALLEL_MIN_FLOPS", 0)
        monkeypatch.setattr(gemm, "GEMM_PARALLEL_MIN_FLOPS", 0)
        monkeypatch.setattr(policy, "MIN_CHUNK_FLOPS", 1)
        monkeypatch.setattr(gemm, "MIN_TILE", 8)
    real = gemm._gemm_tiles_pair
    monkeypatch.setattr(gemm, "_gemm_tiles_pair", lambda *a: calls.append(1) or real(*a))
    rng = np.random.default_rng(7)
    x = rng.standard_normal((48, 300)).astype(np.float32)
    w = rng.standard_normal((300, 40)).astype(np.float32)
    dz = rng.standard_normal((48, 40)).astype(np.float32)
    dw_ref, dx_ref = gemm.matmul(x.T, dz), gemm.matmul(dz, w.T)
    dw = np.full((300, 40), np.nan, np.float32)
    dx = gemm.matmul_pair(x.T, dz, dw, dz, w.T)
    np.testing.assert_array_equal(dw, dw_ref)
    np.testing.assert_array_equal(dx, dx_ref)
    assert len(calls) == (1 if parallel else 0)
    np.testing.assert_allclose(dx, dz.astype(np.float64) @ w.T, rtol=1e-4, atol=1e-4)
    # the second product tiny (not tiled): two calls, same values
    small = rng.standard_normal((2, 2)).astype(np.float32)
    out2 = np.empty((2, 2), np.float32)
    monkeypatch.setattr(gemm, "GEMM_PARALLEL_MIN_FLOPS", 1e6)
    monkeypatch.setattr(policy, "PARALLEL_MIN_FLOPS", 1e6)
    gemm.matmul_pair(x.T, dz, dw, small, small, out2)
    np.testing.assert_array_equal(out2, small @ small)
    with pytest.raises(ValueError, match=r"\(2, 2\) @ \(300, 40\)"):
        gemm.matmul_pair(x.T, dz, dw, small, w)
