"""The register-tile convolutions (engine/kernels/conv_tiles.py): against the planes kernels,
finite differences through the layer, independence from the number of threads, and the layer's
choice of route."""
import engine  # noqa: F401  (before numba: the threading policy sets numba's pool size)
import numba
import numpy as np
import pytest

from engine.kernels import conv_s1, conv_tiles
from engine.layers import Conv2D
from tests.engine.conv_routes import conv_route, pooled_route
from tests.gradcheck import check_layer

r = np.random.default_rng(0)

# (N, H, W, C, F, KH, KW, dh, dw, 'same', relu): filters past a multiple of 32 (40, 33) and
# fewer than 32 (24), widths that are not a multiple of the tile's 4 pixels, dilation, 5×5
GEOMETRIES = [
    (5, 9, 11, 8, 40, 3, 3, 1, 1, True, True),
    (3, 7, 6, 4, 32, 3, 3, 1, 1, False, False),
    (4, 10, 9, 12, 33, 3, 2, 2, 1, True, True),
    (2, 6, 13, 36, 64, 5, 5, 1, 2, True, False),
    (6, 8, 8, 32, 24, 3, 3, 1, 1, True, True),
    (17, 5, 7, 16, 32, 3, 3, 1, 1, False, True),
]


def _geometry(h, w, kh, kw, dh, dw, same):
    if same:
        return (((kh - 1) * dh) // 2, ((kw - 1) * dw) // 2), (h, w)
    return (0, 0), (h - (kh - 1) * dh, w - (kw - 1) * dw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_tiles_match_the_planes(geometry, dtype):
    n, h, w, c, f, kh, kw, dh, dw, same, relu = geometry
    pad, out_size = _geometry(h, w, kh, kw, dh, dw, same)
    x = r.standard_normal((n, h, w, c)).astype(dtype)
    kernel = (r.standard_normal((kh, kw, c, f)) * 0.2).astype(dtype)
    bias = r.standard_normal(f).astype(dtype)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    ref, _ = conv_s1.forward(x, kernel, bias, (dh, dw), pad, out_size, relu, False, 2)
    out = conv_tiles.forward(x, kernel, bias, (dh, dw), pad, out_size, relu, 2)
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol * np.abs(ref).max())
    dy = r.standard_normal(ref.shape).astype(dtype)
    dw_ref, db_ref = np.empty_like(kernel), np.empty(f, dtype)
    dx_ref = conv_s1.backward(x, kernel, dy, ref, None, (dh, dw), pad, out_size, relu, True,
                              dw_ref, db_ref, 2)
    for need_dx in (True, False):
        dwt, db = np.full_like(kernel, np.nan), np.full(f, np.nan, dtype)
        dx = conv_tiles.backward(x, kernel, dy, out, (dh, dw), pad, relu, need_dx, dwt, db, 2)
        np.testing.assert_allclose(dwt, dw_ref, rtol=tol, atol=tol * np.abs(dw_ref).max())
        np.testing.assert_allclose(db, db_ref, rtol=tol, atol=tol * np.abs(db_ref).max())
        if need_dx:
            np.testing.assert_allclose(dx, dx_ref, rtol=tol, atol=tol * np.abs(dx_ref).max())
        else:
            assert dx is None


@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", [g for g in GEOMETRIES if g[-1]])     # relu ones
def test_tiles_with_the_pool_fused_match_the_planes(geometry, dtype, dropout):
    """conv + relu + 2×2 max pool (+ the Dropout after it): the planes' pooled output, window
    codes and gradients (odd conv sizes drop their last row / column)."""
    from engine.layers.core import Dropout
    n, h, w, c, f, kh, kw, dh, dw, same, _ = geometry
    pad, out_size = _geometry(h, w, kh, kw, dh, dw, same)
    x = r.standard_normal((n, h, w, c)).astype(dtype)
    kernel = (r.standard_normal((kh, kw, c, f)) * 0.2).astype(dtype)
    bias = r.standard_normal(f).astype(dtype) * 0.1
    drop = Dropout(0.25, seed=5).draw(dtype) if dropout else None
    scale = drop[2] if dropout else 1.0
    tol = 2e-5 if dtype == np.float32 else 1e-12
    ref, ref_code = conv_s1.forward(x, kernel, bias, (dh, dw), pad, out_size, True, True, 2,
                                    drop)
    out, code = conv_tiles.forward(x, kernel, bias, (dh, dw), pad, out_size, True, 2,
                                   pool=True, dropout=drop)
    np.testing.assert_array_equal(code, ref_code)
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol * np.abs(ref).max())
    dy = r.standard_normal(ref.shape).astype(dtype)
    dw_ref, db_ref = np.empty_like(kernel), np.empty(f, dtype)
    dx_ref = conv_s1.backward(x, kernel, dy, ref, ref_code, (dh, dw), pad, out_size, True, True,
                              dw_ref, db_ref, 2, scale)
    dwt, db = np.full_like(kernel, np.nan), np.full(f, np.nan, dtype)
    dx = conv_tiles.backward(x, kernel, dy, out, (dh, dw), pad, True, True, dwt, db, 2,
                             code=code, out_size=out_size, scale=scale)
    for got, want in ((dx, dx_ref), (dwt, dw_ref), (db, db_ref)):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


def test_tiles_do_not_depend_on_the_threads():
    """dW and db are summed per chunk of samples, the chunks in order: the same bits on one
    thread and on two."""
    x = r.standard_normal((19, 12, 10, 16)).astype(np.float32)
    kernel = (r.standard_normal((3, 3, 16, 40)) * 0.2).astype(np.float32)
    bias = r.standard_normal(40).astype(np.float32)
    results = []
    saved = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            out = conv_tiles.forward(x, kernel, bias, (1, 1), (1, 1), (12, 10), True, threads)
            dy = np.random.default_rng(3).standard_normal(out.shape).astype(np.float32)
            dwt, db = np.empty_like(kernel), np.empty(40, np.float32)
            dx = conv_tiles.backward(x, kernel, dy, out, (1, 1), (1, 1), True, True, dwt, db,
                                     threads)
            results.append((out, dx, dwt, db))
    finally:
        numba.set_num_threads(saved)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs", [
    dict(filters=32, kernel_size=3, padding="same", activation="relu"),
    dict(filters=24, kernel_size=(3, 2), padding="same", dilation_rate=(1, 2),
         activation="tanh", use_bias=False),
    dict(filters=33, kernel_size=3),
])
def test_conv2d_on_the_tiles_has_finite_difference_gradients(kwargs, monkeypatch):
    import engine.layers.conv as conv_module
    monkeypatch.setattr(conv_module, "TILES_MIN_POSITIONS", 1)     # small images for speed
    layer = Conv2D(**kwargs)
    check_layer(layer, r.standard_normal((2, 6, 7, 16)))
    assert layer._cache[4] == "tiles"


def test_the_layer_picks_the_tiles_where_they_win():
    """Many channels and filters on a large enough output (TILES_MIN_*) where Winograd does
    not take it (WINOGRAD_*: 64+ filters): the tiles; few channels or filters, a pool fused
    after, or a small output: another route."""
    import engine.layers.conv as conv_module
    route = conv_route
    assert route((2, 32, 32, 32), 32, padding="same") == "tiles"
    assert route((2, 16, 16, 32), 48, padding="same") == "tiles"        # (64 filters: Winograd)
    assert route((2, 32, 32, 8), 32, padding="same") == "planes"              # 8 channels
    assert route((2, 32, 32, 32), 16, padding="same") == "planes"             # 16 filters
    assert route((2, 32, 32, 18), 32, padding="same") == "planes"             # not 4k channels
    assert route((2, 8, 8, 64), 40, padding="same") == "im2col"               # 64 positions
    assert route((2, 32, 32, 32), 32, padding="same", strides=2) != "tiles"   # stride 2
    assert conv_module.TILES_MIN_POSITIONS > 64
    assert pooled_route((2, 32, 32, 32), 32) == "tiles"
    assert pooled_route((2, 32, 32, 8), 32) != "tiles"
    assert pooled_route((2, 16, 16, 32), 64) != "tiles"                      # 256 positions
    assert pooled_route((2, 8, 8, 64), 48) == "im2col"
