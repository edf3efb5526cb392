"""The stride-1 convolution kernels on channels-first planes (engine/kernels/conv_s1.py) against
the im2col reference (engine/kernels/conv.py) and plain numpy, and the fused relu + 2×2 pool."""
import numpy as np
import pytest

from engine.kernels import conv_s1
from engine.kernels.planes import DEAD
from engine.kernels.conv import col2im, conv_output_size, im2col

GEOMETRIES = [
    # (N, H, W, C, F, KH, KW, dh, dw, padding, relu)
    (3, 8, 8, 3, 5, 3, 3, 1, 1, "valid", True),
    (3, 9, 7, 4, 8, 3, 3, 1, 1, "same", False),
    (5, 10, 10, 6, 4, 3, 3, 2, 1, "same", True),        # dilated rows
    (2, 11, 9, 3, 6, 5, 2, 1, 2, "valid", True),        # dilated columns, even kernel width
    (4, 1, 20, 7, 9, 1, 5, 1, 1, "valid", True),        # Conv1D's shape: a plane of one row
    (4, 1, 20, 7, 9, 1, 4, 1, 3, "same", False),
    (2, 6, 6, 2, 1, 3, 3, 1, 1, "same", False),         # one filter
    (2, 6, 6, 2, 3, 1, 1, 1, 1, "valid", True),         # 1×1
    (7, 5, 13, 33, 7, 2, 3, 1, 1, "same", False),       # many channels, odd everything
    (1, 4, 4, 1, 2, 4, 4, 1, 1, "valid", True),         # a kernel as large as the input
]


def _reference(x, w, b, geo, dz=None):
    """Forward z (and, given dz, the gradients dW, db, dx) in float64 through im2col."""
    n, _, _, c = x.shape
    kh, kw, _, f = w.shape
    dh, dw, ph, pw, oh, ow = geo
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    cols = np.empty((n * oh * ow, kh * kw * c))
    im2col(x64, kh, kw, 1, 1, dh, dw, ph, pw, oh, ow, cols)
    z = (cols @ w64.reshape(-1, f) + b).reshape(n, oh, ow, f)
    if dz is None:
        return z
    dz2 = dz.reshape(-1, f).astype(np.float64)
    dx = np.empty(x.shape)
    col2im(dz2 @ w64.reshape(-1, f).T, kh, kw, 1, 1, dh, dw, ph, pw, oh, ow, dx)
    return z, (cols.T @ dz2).reshape(w.shape), dz2.sum(axis=0), dx


def _case(n, h, wd, c, f, kh, kw, dh, dw, padding, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, wd, c)).astype(np.float32)
    w = (rng.standard_normal((kh, kw, c, f)) * 0.3).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32)
    oh, ph = conv_output_size(h, kh, 1, dh, padding)
    ow, pw = conv_output_size(wd, kw, 1, dw, padding)
    return rng, x, w, b, (dh, dw, ph, pw, oh, ow)


def _close(a, ref):
    np.testing.assert_allclose(a, ref, rtol=2e-5, atol=2e-5 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("n, h, wd, c, f, kh, kw, dh, dw, padding, relu", GEOMETRIES)
def test_planes_match_im2col(n, h, wd, c, f, kh, kw, dh, dw, padding, relu, workers):
    rng, x, w, b, geo = _case(n, h, wd, c, f, kh, kw, dh, dw, padding)
    dh, dw, ph, pw, oh, ow = geo
    out, code = conv_s1.forward(x, w, b, (dh, dw), (ph, pw), (oh, ow), relu, False, workers)
    assert code is None
    z = _reference(x, w, b, geo)
    _close(out, np.maximum(z, 0) if relu else z)
    dy = rng.standard_normal(out.shape).astype(np.float32)
    dz = dy * (z > 0) if relu else dy
    _, dw_ref, db_ref, dx_ref = _reference(x, w, b, geo, dz)
    dwt, db = np.empty_like(w), np.empty_like(b)
    dx = conv_s1.backward(x, w, dy, out, None, (dh, dw), (ph, pw), (oh, ow), relu, True, dwt,
                          db, workers)
    _close(dwt, dw_ref)
    _close(db, db_ref)
    _close(dx, dx_ref)
    assert conv_s1.backward(x, w, dy, out, None, (dh, dw), (ph, pw), (oh, ow), relu, False,
                            dwt, db, workers) is None


@pytest.mark.parametrize("n, h, wd, c, f, kh, kw, dh, dw, padding",
                         [(3, 9, 9, 3, 7, 3, 3, 1, 1, "valid"),
                          (3, 12, 10, 5, 4, 2, 4, 1, 1, "same"),
                          (9, 8, 7, 34, 5, 3, 3, 2, 2, "same"),
                          # one input channel, 3×3: conv_c1.py's kernel
                          (5, 28, 28, 1, 32, 3, 3, 1, 1, "valid"),
                          (3, 9, 12, 1, 7, 3, 3, 1, 1, "same")])
def test_fused_pool_matches_conv_then_pool(n, h, wd, c, f, kh, kw, dh, dw, padding):
    """relu → 2×2 max pool (the first maximum of a window on ties, a last odd row/column
    dropped) and its gradient, which only the window's maximum receives."""
    rng, x, w, b, geo = _case(n, h, wd, c, f, kh, kw, dh, dw, padding)
    dh, dw, ph, pw, oh, ow = geo
    out, code = conv_s1.forward(x, w, b, (dh, dw), (ph, pw), (oh, ow), True, True, 2)
    y = np.maximum(_reference(x, w, b, geo), 0)[:, :oh // 2 * 2, :ow // 2 * 2]
    windows = y.reshape(n, oh // 2, 2, ow // 2, 2, f).transpose(0, 1, 3, 5, 2, 4)
    windows = windows.reshape(n, oh // 2, ow // 2, f, 4)
    _close(out, windows.max(axis=-1))
    first_max = np.argmax(windows >= out[..., None].astype(np.float64) - 1e-5, axis=-1)
    positive = out > 0
    np.testing.assert_array_equal(code[positive], first_max[positive])
    assert (code[~positive] >= DEAD).all()     # relu passes no gradient there
    dy = rng.standard_normal(out.shape).astype(np.float32)
    dz = np.zeros((n, oh, ow, f))
    for q in range(4):
        hit = (code == q) & (out > 0)
        dz[:, q // 2:oh // 2 * 2:2, q % 2:ow // 2 * 2:2] += dy * hit
    _, dw_ref, db_ref, dx_ref = _reference(x, w, b, geo, dz)
    dwt, db = np.empty_like(w), np.empty_like(b)
    dx = conv_s1.backward(x, w, dy, out, code, (dh, dw), (ph, pw), (oh, ow), True, True, dwt,
                          db, 2)
    _close(dwt, dw_ref)
    _close(db, db_ref)
    _close(dx, dx_ref)
    # the code as a plain channels-last array (a copy, not forward's view) gives the same
    dwt2, db2 = np.empty_like(w), np.empty_like(b)
    dx2 = conv_s1.backward(x, w, dy, out, np.ascontiguousarray(code), (dh, dw), (ph, pw),
                           (oh, ow), True, True, dwt2, db2, 2)
    np.testing.assert_array_equal(dx2, dx)
    np.testing.assert_array_equal(dwt2, dwt)
    # without dx (a first layer): one input channel and 3×3 run conv_c1.pool_backward_c1
    for workers in (1, 2):
        dwt3, db3 = np.empty_like(w), np.empty_like(b)
        assert conv_s1.backward(x, w, dy, out, code, (dh, dw), (ph, pw), (oh, ow), True,
                                False, dwt3, db3, workers) is None
        _close(dwt3, dw_ref)
        _close(db3, db_ref)


def test_gradients_do_not_depend_on_the_threads():
    """Weight gradients are summed per chunk in chunk order: bit-identical whichever thread
    ran which chunk, and with one thread or two."""
    rng, x, w, b, geo = _case(13, 9, 9, 5, 6, 3, 3, 1, 1, "same", seed=1)
    dh, dw, ph, pw, oh, ow = geo
    dy = rng.standard_normal((13, oh, ow, 6)).astype(np.float32)
    grads = []
    for workers in (1, 2, 2, 1):
        out, _ = conv_s1.forward(x, w, b, (dh, dw), (ph, pw), (oh, ow), False, False, workers)
        dwt, db = np.empty_like(w), np.empty_like(b)
        dx = conv_s1.backward(x, w, dy, out, None, (dh, dw), (ph, pw), (oh, ow), False, True,
                              dwt, db, workers)
        grads.append((dwt, db, dx))
    for other in grads[1:]:
        for a, ref in zip(other, grads[0]):
            np.testing.assert_array_equal(a, ref)


@pytest.mark.parametrize("n, h, wd, f, padding", [(6, 28, 28, 32, "valid"),
                                                  (4, 11, 13, 5, "same"), (3, 7, 6, 17, "valid")])
def test_single_channel_kernel_matches_the_planes_with_dropout(n, h, wd, f, padding):
    """One input channel and a 3×3 kernel run conv_c1.py's kernel: with a fused dropout its
    output, window codes and dropped positions are the planes kernel's (which the backward
    reads), in float32 and float64."""
    for dtype in (np.float32, np.float64):
        rng, x, w, b, geo = _case(n, h, wd, 1, f, 3, 3, 1, 1, padding)
        x, w, b = x.astype(dtype), w.astype(dtype), b.astype(dtype)
        _, _, ph, pw, oh, ow = geo
        hp, wp = oh + 2, ow + 2
        drop = (12345, int(0.3 * 2 ** 32), 1 / 0.7)
        out, code = conv_s1.forward(x, w, b, (1, 1), (ph, pw), (oh, ow), True, True, 2, drop)
        assert conv_s1._single_channel_pool(w, (1, 1), True)
        ref = np.empty_like(out)
        ref_code = np.empty((n, f, (oh // 2) * (ow // 2)), np.uint8)
        conv_s1.conv_s1_forward(x, w, b, 1, 1, ph, pw, hp, wp, True, True, ref, ref_code,
                                np.uint64(drop[0]), np.uint64(drop[1]), dtype(drop[2]),
                                conv_s1.chunk_size(n, hp * wp), 2)
        ref_code = ref_code.reshape(n, f, oh // 2, ow // 2).transpose(0, 2, 3, 1)
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(code >= DEAD, ref_code >= DEAD)
        clear = out > 1e-3                      # windows whose maximum is not a near-tie
        assert clear.mean() > 0.2
        np.testing.assert_array_equal(code[clear], ref_code[clear])
        dropped = (code >= DEAD) & (ref != 0)
        assert not dropped.any() and (code >= DEAD).mean() > 0.3
        # the gradients without dx (conv_c1.pool_backward_c1, summed over the pooled
        # positions) are the planes backward's (taken with dx), dropout scale included
        dy = rng.standard_normal(out.shape).astype(dtype)
        grads = []
        for need_dx in (True, False):
            dwt, db = np.empty_like(w), np.empty_like(b)
            conv_s1.backward(x, w, dy, out, code, (1, 1), (ph, pw), (oh, ow), True, need_dx,
                             dwt, db, 2, drop[2])
            grads.append((dwt, db))
        for a, ref_grad in zip(grads[1], grads[0]):
            assert np.abs(ref_grad).max() > 0.1
            np.testing.assert_allclose(a, ref_grad, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                       atol=1e-4 if dtype == np.float32 else 1e-10)
