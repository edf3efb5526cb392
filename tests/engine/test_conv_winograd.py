"""Winograd's F(2×2, 3×3) convolutions (engine/kernels/conv_winograd.py): against im2col + sgemm
(forward, the pooled forward with its codes, the input gradient), finite differences through
Conv2D on the Winograd route, independence from the number of threads, and the layer's choice
of route."""
import engine  # noqa: F401  (before numba: the threading policy sets numba's pool size)
import numba
import numpy as np
import pytest

from engine.kernels import conv_winograd
from engine.kernels.conv_gemm import (conv_gemm_backward, conv_gemm_forward,
                                      conv_gemm_pool_forward)
from engine.layers import Conv2D, MaxPooling2D
from tests.engine.conv_routes import conv_route, pooled_route

r = np.random.default_rng(0)

# (N, H, W, C, F, padding): odd sizes (a last tile half outside), 3 and 33 channels, filters
# past a multiple of 32 (5, 40, 96), 'same' and 'valid'
GEOMETRIES = [(5, 7, 9, 3, 5, 1), (4, 8, 8, 16, 40, 0), (3, 13, 11, 33, 64, 1),
              (2, 6, 5, 8, 32, 0), (3, 4, 4, 64, 96, 1), (2, 3, 3, 4, 8, 0)]


def _case(n, h, w, c, f, pad, scale=0.2):
    x = r.standard_normal((n, h, w, c)).astype(np.float32)
    kernel = (r.standard_normal((3, 3, c, f)) * scale).astype(np.float32)
    bias = r.standard_normal(f).astype(np.float32)
    out_size = (h + 2 * pad - 2, w + 2 * pad - 2)
    return x, kernel, bias, out_size, (3, 3, 1, 1, 1, 1, pad, pad) + out_size


def _close(got, want, tol=2e-6):
    np.testing.assert_allclose(got, want, rtol=0, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_forward_and_input_grad_match_im2col(geometry, relu):
    x, kernel, bias, out_size, geo = _case(*geometry)
    f = kernel.shape[3]
    pad = (geo[6], geo[7])
    ref = conv_gemm_forward(x, kernel.reshape(-1, f), bias, geo, relu)
    _close(conv_winograd.forward(x, kernel, bias, pad, out_size, relu, 2), ref)
    dz = r.standard_normal(ref.shape).astype(np.float32)
    dx_ref = conv_gemm_backward(dz, x, kernel.reshape(-1, f), geo,
                                np.empty(kernel.reshape(-1, f).shape, np.float32), True)
    _close(conv_winograd.input_grad(dz, kernel, pad, x.shape[1:3], 2), dx_ref)


@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("geometry", GEOMETRIES[:5])
def test_pooled_forward_matches_im2col(geometry, dropout):
    """conv + relu + 2×2 max pool (+ the Dropout after it): im2col's pooled output and window
    codes (odd conv sizes drop their last row / column)."""
    from engine.layers.core import Dropout
    x, kernel, bias, out_size, geo = _case(*geometry)
    drop = Dropout(0.25, seed=5).draw(np.float32) if dropout else None
    ref, ref_code = conv_gemm_pool_forward(x, kernel.reshape(-1, kernel.shape[3]), bias, geo,
                                           drop)
    out, code = conv_winograd.forward(x, kernel, bias, (geo[6], geo[7]), out_size, True, 2,
                                      pool=True, dropout=drop)
    _close(out, ref)
    # the window's max by a rounding-different sum: the codes agree but for near ties
    assert (code == ref_code).mean() > 0.995
    assert out.shape == (x.shape[0], out_size[0] // 2, out_size[1] // 2, kernel.shape[3])


def test_winograd_does_not_depend_on_the_threads():
    x, kernel, bias, out_size, _ = _case(9, 10, 12, 32, 64, 1)
    results = []
    saved = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            out = conv_winograd.forward(x, kernel, bias, (1, 1), out_size, True, threads)
            dx = conv_winograd.input_grad(out, kernel, (1, 1), (10, 12), threads)
            results.append((out, dx))
    finally:
        numba.set_num_threads(saved)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def _loss64(layer, x, r_out, pool=None):
    """Σ r_out · output of a float64 copy of ``layer`` (the planes route) at x: the finite
    differences' function."""
    twin = Conv2D.from_config(layer.get_config())
    twin.build(x.shape)
    for mine, theirs in zip(twin.weights, layer.weights):
        mine.value = theirs.value.astype(np.float64)
    twin.need_dx = True

    def loss(w_values=None, xin=x):
        if w_values is not None:
            for weight, value in zip(twin.weights, w_values):
                weight.value = value
        y = twin.forward(xin, training=True)
        if pool is not None:
            y = pool.forward(y, training=True)
        return float(np.sum(y * r_out))
    return twin, loss


@pytest.mark.parametrize("channels", [32, 64])
@pytest.mark.parametrize("kwargs, pooled", [
    (dict(padding="same", activation="relu"), False),
    (dict(padding="valid", activation="tanh"), False),
    (dict(padding="same", activation="relu", use_bias=False), False),
    (dict(padding="same", activation="relu"), True),
    (dict(padding="valid", activation="relu", use_bias=False), True),
])
def test_conv2d_on_winograd_has_finite_difference_gradients(kwargs, pooled, channels):
    """The layer's float32 gradients on the Winograd route (the pooled one when ``pooled``: the
    pool fuses after a relu; the input gradient by Winograd from 64 channels, im2col's below)
    against central differences of the same layer in float64."""
    layer = Conv2D(64, 3, **kwargs)
    x = r.standard_normal((2, 6, 8, channels))
    layer.build(x.shape)
    layer.output_shape = layer.compute_output_shape(x.shape)
    layer.need_dx = True
    pool = None
    if pooled:
        pool = MaxPooling2D()
        pool.build(layer.output_shape)
        assert layer.fuse_next(pool)
        y = layer.forward_fused(x.astype(np.float32), pool)
        assert layer._cache[-1] == "winograd"
    else:
        y = layer.forward(x.astype(np.float32), training=True)
        assert layer._cache[4] == "winograd"
    r_out = r.standard_normal(y.shape)
    dx = layer.backward(r_out.astype(np.float32))
    twin, loss = _loss64(layer, x, r_out, pool)
    eps = 1e-6
    pick = np.random.default_rng(1)
    values = [w.value for w in twin.weights]
    for k, weight in enumerate(layer.weights):
        for _ in range(12):
            i = tuple(pick.integers(0, s) for s in weight.value.shape)
            up = [v.copy() for v in values]
            down = [v.copy() for v in values]
            up[k][i] += eps
            down[k][i] -= eps
            numeric = (loss(up) - loss(down)) / (2 * eps)
            assert weight.grad[i] == pytest.approx(numeric, rel=1e-4, abs=1e-4)
    loss(values)
    for _ in range(12):
        i = tuple(pick.integers(0, s) for s in x.shape)
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (loss(None, up) - loss(None, down)) / (2 * eps)
        assert dx[i] == pytest.approx(numeric, rel=1e-4, abs=1e-4)


def test_the_layer_picks_winograd_where_it_wins():
    """3×3, stride 1, no dilation, float32, 32+ channels and 64+ filters on up to 600 output
    positions, or 64+ channels on up to 2,304 (WINOGRAD_*): Winograd; else another route."""
    import engine.layers.conv as conv_module
    route = conv_route
    assert route((2, 16, 16, 32), 64) == "winograd"
    assert route((2, 48, 48, 64), 64) == "winograd"
    assert route((2, 32, 32, 32), 64) != "winograd"                   # 1,024 positions
    assert route((2, 64, 64, 64), 64) != "winograd"                   # 4,096 positions
    assert route((2, 16, 16, 32), 32) != "winograd"                   # 32 filters
    assert route((2, 16, 16, 16), 64) != "winograd"                   # 16 channels
    assert route((2, 16, 16, 32), 64, kernel_size=5) != "winograd"
    assert route((2, 16, 16, 32), 64, strides=2) != "winograd"
    assert route((2, 16, 16, 32), 64, dilation_rate=2) != "winograd"
    assert route((2, 16, 16, 32), 64, dtype="float64") != "winograd"
    assert conv_module.WINOGRAD_MAX_POSITIONS < 1024 <= conv_module.WINOGRAD_MAX_POSITIONS_DEEP
    assert pooled_route((2, 8, 8, 64), 128) == "winograd"
    assert pooled_route((2, 16, 16, 32), 64) == "winograd"
    assert pooled_route((2, 16, 16, 32), 32) != "winograd"
