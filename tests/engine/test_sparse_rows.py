"""Dense on a mostly-zero input: the listed product (engine/kernels/sparse_rows.py) against
sgemm and against finite differences."""
import numpy as np
import pytest

from engine.kernels import sparse_rows as S
from engine.layers import Dense, Flatten
from engine.models import Sequential
from tests.gradcheck import check_layer


def _sparse(rng, shape, density, dtype=np.float32):
    x = rng.standard_normal(shape).astype(dtype)
    x[rng.random(shape) >= density] = 0
    return x


def _listed(x):
    m, k = x.shape
    indptr, indices, values = S.listing_buffers(m, m * k, k, x.dtype)
    nnz = S.nonzeros(x, m * k, indptr, indices, values)
    return nnz, indptr, indices, values


# output widths through every block size of kernels/lanes.py: 128, 64, 16 and the last n % 16
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (3, 15, 5), (7, 16, 3), (5, 17, 33), (32, 784, 128),
                                   (9, 100, 16), (4, 50, 200), (6, 33, 80), (2, 48, 64)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_match_numpy(m, k, n, dtype):
    rng = np.random.default_rng(k)
    x = _sparse(rng, (m, k), 0.2, dtype)
    x[0] = 0                                  # an empty row
    if m > 2:
        x[2] = rng.standard_normal(k)         # a full one
    if k > 3:
        x[:, 3] = 0                           # a column no row touches: its dW row is 0
    w = rng.standard_normal((k, n)).astype(dtype)
    dz = rng.standard_normal((m, n)).astype(dtype)
    nnz, indptr, indices, values = _listed(x)
    assert nnz == np.count_nonzero(x)
    assert list(np.diff(indptr)) == list(np.count_nonzero(x, axis=1))
    assert list(indices[:nnz]) == list(np.nonzero(x)[1]) and (values[:nnz] == x[x != 0]).all()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    out = np.full((m, n), np.nan, dtype)
    S.rows_times(indptr, indices, values, w, out)
    np.testing.assert_allclose(out, x @ w, rtol=tol, atol=tol)
    dw = np.full((k, n), np.nan, dtype)            # every entry is written
    S.weight_grad(indptr, indices, values, dz, dw, np.empty(k + 1, np.int64),
                  np.empty(nnz, np.int32), np.empty(nnz, dtype))
    np.testing.assert_allclose(dw, x.T @ dz, rtol=tol, atol=tol)
    if k > 3:
        assert not dw[3].any()


def test_scan_lists_non_finite_entries_and_skips_negative_zero():
    x = np.zeros((2, 40), np.float32)
    x[0, 5], x[0, 20], x[1, 39], x[1, 7] = np.nan, np.inf, 2.0, -0.0
    nnz, indptr, indices, values = _listed(x)
    assert nnz == 3 and list(indptr) == [0, 2, 3]
    assert list(indices[:3]) == [5, 20, 39] and np.isnan(values[0]) and values[1] == np.inf
    out = np.empty((2, 3), np.float32)
    S.rows_times(indptr, indices, values, np.ones((40, 3), np.float32), out)
    assert np.isnan(out[0]).all() and (out[1] == 2.0).all()


def test_scan_gives_up_past_the_limit_or_after_a_dense_first_row():
    def scan(x, limit):
        m, k = x.shape
        return S.nonzeros(x, limit, np.empty(m + 1, np.int64),
                          np.empty(limit + k, np.int32), np.empty(limit + k, np.float32))
    x = np.zeros((4, 50), np.float32)
    x[:, :12] = 1.0                             # 48 nonzeros, 12 in each row
    assert scan(x, 48) == 48 and scan(x, 47) == -1
    x[:] = 0
    x[0] = 1.0                                  # 50 in the first row, none after it
    assert scan(x, 50) == -1                    # more than twice a row's share (2 * 50 / 4)
    assert scan(x, 100) == 50


def test_kernels_refuse_buffers_their_vector_writes_would_overrun():
    """The scan writes 16 slots a block and the row sums whole vectors: a too-small buffer or a
    strided array is refused, not written past."""
    x = np.ones((3, 40), np.float32)
    ok = (np.empty(4, np.int64), np.empty(120 + 40, np.int32), np.empty(120 + 40, np.float32))
    assert S.nonzeros(x, 120, *ok) == 120
    with pytest.raises(ValueError, match="limit \\+ k"):
        S.nonzeros(x, 120, ok[0], ok[1][:150], ok[2])
    with pytest.raises(ValueError, match="C-contiguous"):
        S.nonzeros(np.ones((3, 80), np.float32)[:, ::2], 120, *ok)
    nnz, indptr, indices, values = _listed(x)
    with pytest.raises(ValueError, match="C-contiguous"):
        S.rows_times(indptr, indices, values, np.ones((40, 32), np.float32),
                     np.empty((3, 64), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="same width"):
        S.rows_times(indptr, indices, values, np.ones((40, 32), np.float32),
                     np.empty((3, 16), np.float32))


def test_which_inputs_are_listed_and_the_retry_after_a_dense_batch():
    rng = np.random.default_rng(1)
    sparse, dense = _sparse(rng, (32, 784), 0.2), rng.standard_normal((32, 784)).astype(np.float32)
    assert S.SparseRows().scan(sparse, 128) is not None
    assert S.SparseRows().scan(sparse, 64) is not None
    denser = _sparse(rng, (32, 784), 0.35)
    assert S.SparseRows().scan(denser, 64) is None      # 0.35 > 0.25: sgemm is cheaper
    assert S.SparseRows().scan(denser, 128) is None     # 0.35 > 0.3
    assert S.SparseRows().scan(sparse, 8) is None       # too narrow an output for any density
    assert S.SparseRows().scan(sparse, 128, threads=2) is None   # against sgemm on two threads
    assert S.SparseRows().scan(sparse.astype(np.float16), 128) is None
    assert S.SparseRows().scan(np.asfortranarray(sparse), 128) is None
    rows = S.SparseRows()
    listed = rows.scan(sparse, 128)
    w = rng.standard_normal((784, 128)).astype(np.float32)
    np.testing.assert_allclose(S.times(listed, w), sparse @ w, rtol=1e-5, atol=1e-4)
    assert rows.scan(dense, 128) is None
    for _ in range(S.RETRY_AFTER):                 # the next batches go straight to sgemm
        assert rows.scan(sparse, 128) is None
    assert rows.scan(sparse, 128) is not None


def test_dense_layer_on_a_sparse_input_matches_sgemm_forward_and_backward():
    rng = np.random.default_rng(2)
    x = _sparse(rng, (32, 10, 20), 0.1)
    listed, plain = Dense(128, activation="relu"), Dense(128, activation="relu")
    for layer in (listed, plain):
        layer.maybe_build((None, 10, 20))
    plain.kernel.value[...] = listed.kernel.value
    plain.bias.value[...] = listed.bias.value = rng.standard_normal(128).astype(np.float32)
    plain._sparse.skip = 10 ** 9                   # always sgemm
    dy = rng.standard_normal((32, 10, 128)).astype(np.float32)
    y1, y2 = listed.forward(x, True), plain.forward(x, True)
    assert listed._listed is not None and plain._listed is None
    np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-5)
    for need_dx in (True, False):
        listed.need_dx = plain.need_dx = need_dx
        dx1, dx2 = listed.backward(dy), plain.backward(dy)
        np.testing.assert_allclose(listed.kernel.grad, plain.kernel.grad, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(listed.bias.grad, plain.bias.grad, rtol=1e-5, atol=1e-4)
        if need_dx:
            np.testing.assert_allclose(dx1, dx2, rtol=1e-5, atol=1e-5)
        else:
            assert dx1 is None and dx2 is None


def test_dense_gradients_on_a_sparse_input_match_finite_differences():
    rng = np.random.default_rng(3)
    layer = Dense(64, activation="tanh")
    x = _sparse(rng, (6, 40), 0.08, np.float64)
    check_layer(layer, x)
    assert layer._listed is not None              # the listed product was the one checked


def test_seed_mlp_trains_the_same_on_either_product():
    rng = np.random.default_rng(4)
    x = _sparse(rng, (256, 28, 28), 0.2)
    y = rng.integers(0, 10, 256)
    losses = []
    for listed in (True, False):
        model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="relu"),
                            Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.build((None, 28, 28))
        model.set_weights([np.full(w.shape, 0.01, np.float32) * (i + 1)
                           for i, w in enumerate(model.get_weights())])
        if not listed:
            model.layers[1]._sparse.skip = 10 ** 9
        losses.append(model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
                      .history["loss"])
        assert (model.layers[1]._listed is not None) == listed
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


def test_a_shared_dense_layer_keeps_each_calls_listing():
    """Called on two inputs before its backward passes: each call's weight gradient comes from
    its own input's nonzeros (the listing is per-call state, saved with the call)."""
    from engine.layers import Add, Input
    from engine.models import Model
    rng = np.random.default_rng(5)
    xa, xb = _sparse(rng, (16, 300), 0.05), _sparse(rng, (16, 300), 0.05)
    grads = []
    for listed in (True, False):
        a, b = Input((300,)), Input((300,))
        shared = Dense(128, activation="relu", name="shared")
        out = Dense(1, name="out")(Add()([shared(a), shared(b)]))
        model = Model([a, b], out)
        model.compile(optimizer="sgd", loss="mse")
        model.set_weights([np.full(w.shape, 0.01, np.float32) * (i + 1)
                           for i, w in enumerate(model.get_weights())])
        if not listed:
            shared._sparse.skip = 10 ** 9
        model.train_on_batch([xa, xb], np.ones((16, 1), np.float32))
        grads.append(shared.kernel.grad.copy())
        assert (shared._listed is not None) == listed
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-6)


def _chunks_counted(monkeypatch):
    """Counts product_chunks' calls on the calling thread (the partner's are compiled in)."""
    from engine.kernels import partner
    calls = []
    real = partner.product_chunks
    monkeypatch.setattr(partner, "product_chunks", lambda *a: calls.append(a[4]) or real(*a))
    return calls


@pytest.mark.parametrize("m,k,n,density", [(1, 784, 128, 0.2), (5, 17, 128, 0.1),
                                           (131, 784, 128, 0.15), (256, 784, 128, 0.2),
                                           (64, 300, 64, 0.05), (200, 100, 128, 0.9)])
def test_inference_chunks_match_sgemm(monkeypatch, m, k, n, density):
    """Outside training a Dense layer's product runs in chunks of rows, each listed or (denser
    than the limit) one sgemm: odd sizes, a last short chunk, empty and full rows, a dense
    batch (every chunk goes to sgemm, and the next batches skip the listing)."""
    rng = np.random.default_rng(m + k)
    x = _sparse(rng, (m, k), density)
    x[0] = 0
    if m > 2:
        x[2] = rng.standard_normal(k)
    w = rng.standard_normal((k, n)).astype(np.float32)
    calls = _chunks_counted(monkeypatch)
    sr = S.SparseRows()
    out = sr.product(x, w)
    assert calls and out.dtype == np.float32
    np.testing.assert_allclose(out, x.astype(np.float64) @ w, rtol=1e-4, atol=1e-4)
    assert (sr.skip_inference > 0) == (density > 0.5) and sr.skip == 0
    if sr.skip_inference:
        assert sr.product(x, w) is None and sr.skip_inference == S.RETRY_AFTER - 1


def test_inference_product_is_only_for_float32_and_wide_outputs():
    rng = np.random.default_rng(3)
    x = _sparse(rng, (8, 50), 0.1)
    sr = S.SparseRows()
    assert sr.product(x, rng.standard_normal((50, 8)).astype(np.float32)) is None   # n < 16
    assert sr.product(x.astype(np.float64), rng.standard_normal((50, 32))) is None
    assert sr.product(x[:, ::2], rng.standard_normal((25, 32)).astype(np.float32)) is None


def test_predict_shares_the_listed_chunks_with_the_partner(monkeypatch):
    """Model.predict on MNIST-like images: the first Dense layer's chunks are listed, shared
    with the polling partner once it is awake, and the results equal the training-mode
    forward's (which lists the whole batch) to float32 rounding."""
    import time
    from engine import threading_policy as policy
    from engine.kernels import gemm, partner
    if policy.CORES < 2:
        pytest.skip("the partner needs two cores")
    monkeypatch.setattr(policy, "threads", lambda: policy.CORES)   # as on an idle machine
    rng = np.random.default_rng(9)
    x = _sparse(rng, (1024, 28, 28), 0.19)
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="relu"),
                        Dense(10, activation="softmax")])
    model.predict(x[:4], verbose=0)
    ref = model._plan.forward([x], training=True)[0]
    # no product goes to the partner as sgemm tiles: its joins are the listed chunks'
    monkeypatch.setattr(gemm, "_partner_matmul", None)
    before = partner.partner_joins()
    end = time.monotonic() + 20
    got = model.predict(x, batch_size=256, verbose=0)
    while partner.partner_joins() == before and time.monotonic() < end:
        got = model.predict(x, batch_size=256, verbose=0)
    assert partner.partner_joins() > before
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6)


# Dense backward from a mostly-zero output gradient (SparseRows.backward, dense_backward):
# k and n through every tile edge (k % 128, k % 16, n % 16), with and without dx
@pytest.mark.parametrize("m,k,n", [(128, 5408, 128), (9, 300, 33), (40, 128, 16), (5, 17, 70)])
@pytest.mark.parametrize("need_dx", [True, False])
def test_backward_from_a_sparse_output_gradient_matches_numpy(monkeypatch, m, k, n, need_dx):
    monkeypatch.setattr(S, "GRAD_MIN_FMAS", 0)
    rng = np.random.default_rng(m + k + n)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    dz = _sparse(rng, (m, n), 0.2)
    dz[0] = 0                                   # a sample with no gradient
    dz[:, 1] = 0                                # a unit with none: its dw column is 0
    dw = np.full((k, n), np.nan, np.float32)    # every entry is written
    done, dx = S.SparseRows().backward(x, w, dz, dw, need_dx)
    assert done
    np.testing.assert_allclose(dw, x.T @ dz, rtol=1e-4, atol=1e-4)
    assert not dw[:, 1].any()
    if need_dx:
        np.testing.assert_allclose(dx, dz @ w.T, rtol=1e-4, atol=1e-4)
        assert not dx[0].any()
    else:
        assert dx is None


def test_backward_leaves_dense_or_small_or_other_gradients_to_sgemm(monkeypatch):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((128, 512)).astype(np.float32)
    w = rng.standard_normal((512, 128)).astype(np.float32)
    sparse, dense = _sparse(rng, (128, 128), 0.2), _sparse(rng, (128, 128), 0.5)
    dw = np.empty((512, 128), np.float32)
    assert 128 * 512 * 128 >= S.GRAD_MIN_FMAS
    assert S.SparseRows().backward(x, w, sparse, dw, True)[0]
    assert not S.SparseRows().backward(x[:8], w, sparse[:8], dw, True)[0]     # too small
    assert not S.SparseRows().backward(x, w, np.asfortranarray(sparse), dw, True)[0]
    assert not S.SparseRows().backward(x.astype(np.float64), w.astype(np.float64),
                                       sparse.astype(np.float64), dw.astype(np.float64),
                                       True)[0]
    rows = S.SparseRows()
    assert rows.backward(x, w, dense, dw, True) == (False, None)   # 0.5 > GRAD_MAX_DENSITY
    for _ in range(S.RETRY_AFTER):                  # the next steps go straight to sgemm
        assert not rows.backward(x, w, sparse, dw, True)[0]
    assert rows.backward(x, w, sparse, dw, True)[0]


def test_dense_layer_backward_from_relu_zeros_matches_sgemm(monkeypatch):
    """A Dense(relu) layer whose output gradient is mostly zero (relu's zeros and a Dropout's
    drops) takes the listed backward; its gradients are sgemm's."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((128, 2048)).astype(np.float32)
    listed, plain = Dense(128, activation="relu"), Dense(128, activation="relu")
    for layer in (listed, plain):
        layer.maybe_build((None, 2048))
    plain.kernel.value[...] = listed.kernel.value
    plain._sparse.skip_grad = 10 ** 9              # always sgemm
    dy = _sparse(rng, (128, 128), 0.5)             # Dropout(0.5) after the layer
    for layer in (listed, plain):
        layer.forward(x, True)
    calls = []
    real = S.dense_backward
    monkeypatch.setattr(S, "dense_backward", lambda *a: calls.append(1) or real(*a))
    dx1, dx2 = listed.backward(dy), plain.backward(dy)
    assert calls, "the listed backward was not taken"
    np.testing.assert_allclose(listed.kernel.grad, plain.kernel.grad, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(listed.bias.grad, plain.bias.grad, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx1, dx2, rtol=1e-4, atol=1e-4)
