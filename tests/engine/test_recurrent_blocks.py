"""The recurrent layers' fused block kernels (lstm_forward_blocks / lstm_backward_blocks, and
recurrent_blocks.py for SimpleRNN and GRU) against the previous path: x·kernel by one product,
the time loops of lstm_forward / gru_forward / simple_rnn_forward and their backward kernels,
the weight gradients by products over all steps (tests/engine/recurrent_reference.py)."""
import engine  # noqa: F401  (before numba: the threading policy sets numba's pool size)
import numba
import numpy as np
import pytest

from engine import backend
from tests.engine import recurrent_reference as K
from engine.layers import GRU, LSTM, SimpleRNN


def _project(layer, x, training, mask):
    """The layer's checks, mask and dropout, then xw = x·kernel + bias (N, T, G) by one
    product, and the time loop's row blocks (one per thread, at least 8 rows each)."""
    xin = layer._prepare(x, training, mask)
    n, t_len, d = xin.shape
    xw = xin.reshape(n * t_len, d) @ layer.kernel.value
    if layer.bias is not None:
        xw += layer._input_bias()
    layer._nchunks = max(1, min(numba.get_num_threads(), n // 8))
    return xw.reshape(n, t_len, -1)


def _state_inputs(layer, hs):
    """(N·T, u): the recurrent product's input h_{t-1}·rmask of every step (rmask is all
    ones without recurrent dropout)."""
    n, t1, u = hs.shape
    return np.ascontiguousarray(hs[:, :-1] * layer._rmask[:, None, :]).reshape(n * (t1 - 1), u)


def _input_grads(layer, dxw):
    """Kernel gradient and dx from dxw (N·T, G), the gradient of x·kernel."""
    np.matmul(layer._xin.T, dxw, out=layer.kernel.grad)
    if not layer.need_dx:
        return None
    n, t_len = layer._mask.shape
    return layer._finish_dx((dxw @ layer.kernel.value.T).reshape(n, t_len, -1))


class ReferenceLSTM(LSTM):
    """LSTM on the reference kernels (the layer's code before the fused kernels)."""

    def forward(self, x, training=False, mask=None):
        xw = _project(self, x, training, mask)
        n, t_len, _ = xw.shape
        hs = self._initial_states(n, t_len, xw.dtype)
        cs = self._initial_states(n, t_len, xw.dtype)
        gates = np.empty_like(xw)
        K.lstm_forward(xw, self.recurrent_kernel.value, self._rmask, self._mask, hs, cs, gates,
                       self._act, self._rec_act, self._nchunks)
        self._hs, self._cs, self._gates = hs, cs, gates
        return self._outputs([hs, cs])

    def backward(self, dy):
        dtype = self._hs.dtype
        dseq, (dh, dc) = self._output_grads(dy, dtype)
        dz = np.empty_like(self._gates)
        u_t = np.ascontiguousarray(self.recurrent_kernel.value.T)
        K.lstm_backward(u_t, self._rmask, self._mask, self._gates, self._cs, dseq, dh, dc, dz,
                        self._act, self._rec_act, self._nchunks)
        dz2 = dz.reshape(-1, 4 * self.units)
        np.matmul(_state_inputs(self, self._hs).T, dz2, out=self.recurrent_kernel.grad)
        if self.bias is not None:
            np.sum(dz2, axis=0, out=self.bias.grad)
        return _input_grads(self, dz2)


class ReferenceSimpleRNN(SimpleRNN):
    """SimpleRNN on the reference kernels (the layer's code before the block kernels)."""

    def forward(self, x, training=False, mask=None):
        xw = _project(self, x, training, mask)
        n, t_len, _ = xw.shape
        hs = self._initial_states(n, t_len, xw.dtype)
        K.simple_rnn_forward(xw, self.recurrent_kernel.value, self._rmask, self._mask, hs,
                             self._act, self._nchunks)
        self._hs = hs
        return self._outputs([hs])

    def backward(self, dy):
        dtype = self._hs.dtype
        dseq, (dh,) = self._output_grads(dy, dtype)
        dz = np.empty((self._hs.shape[0], self._hs.shape[1] - 1, self.units), dtype)
        u_t = np.ascontiguousarray(self.recurrent_kernel.value.T)
        K.simple_rnn_backward(u_t, self._rmask, self._mask, self._hs, dseq, dh, dz, self._act,
                              self._nchunks)
        dz2 = dz.reshape(-1, self.units)
        np.matmul(_state_inputs(self, self._hs).T, dz2, out=self.recurrent_kernel.grad)
        if self.bias is not None:
            np.sum(dz2, axis=0, out=self.bias.grad)
        return _input_grads(self, dz2)


class ReferenceGRU(GRU):
    """GRU on the reference kernels (the layer's code before the block kernels)."""

    def forward(self, x, training=False, mask=None):
        xw = _project(self, x, training, mask)
        n, t_len, g = xw.shape
        hs = self._initial_states(n, t_len, xw.dtype)
        gates = np.empty_like(xw)
        rec_h = np.empty((n, t_len, self.units), xw.dtype)
        brec = (self.bias.value[1] if self.bias is not None and self.reset_after
                else np.zeros(g, xw.dtype))
        u1, u2 = self._recurrent_parts()
        K.gru_forward(xw, u1, u2, brec, self._rmask, self._mask, hs, gates, rec_h, self._act,
                      self._rec_act, self.reset_after, self._nchunks)
        self._hs, self._gates, self._rec_h = hs, gates, rec_h
        return self._outputs([hs])

    def backward(self, dy):
        dtype = self._hs.dtype
        dseq, (dh,) = self._output_grads(dy, dtype)
        u, (n, t_len) = self.units, self._mask.shape
        dxw = np.empty_like(self._gates)
        drec = np.empty_like(self._gates) if self.reset_after else np.zeros((0, 0, 0), dtype)
        u1, u2 = self._recurrent_parts()
        K.gru_backward(np.ascontiguousarray(u1.T), np.ascontiguousarray(u2.T), self._rmask,
                       self._mask, self._hs, self._gates, self._rec_h, dseq, dh, dxw, drec,
                       self._act, self._rec_act, self.reset_after, self._nchunks)
        dxw2 = dxw.reshape(-1, 3 * u)
        h_in = _state_inputs(self, self._hs)
        grad = self.recurrent_kernel.grad
        if self.reset_after:
            drec2 = drec.reshape(-1, 3 * u)
            np.matmul(h_in.T, drec2, out=grad)
            if self.bias is not None:
                np.sum(dxw2, axis=0, out=self.bias.grad[0])
                np.sum(drec2, axis=0, out=self.bias.grad[1])
        else:
            grad[:, :2 * u] = h_in.T @ dxw2[:, :2 * u]
            grad[:, 2 * u:] = self._rec_h.reshape(n * t_len, u).T @ dxw2[:, 2 * u:]
            if self.bias is not None:
                np.sum(dxw2, axis=0, out=self.bias.grad)
        return _input_grads(self, dxw2)


# cell name → (layer, reference layer, extra constructor arguments)
CELLS = {"LSTM": (LSTM, ReferenceLSTM, {}), "GRU": (GRU, ReferenceGRU, {}),
         "GRU_reset_before": (GRU, ReferenceGRU, {"reset_after": False}),
         "SimpleRNN": (SimpleRNN, ReferenceSimpleRNN, {})}


def _pair(cell, **kw):
    layer, reference, extra = CELLS[cell]
    if layer is SimpleRNN:
        kw.pop("recurrent_activation", None)
    return layer(6, **extra, **kw), reference(6, **extra, **kw)


def _run(layer, weights, x, mask, dy, training, need_dx, dtype):
    layer.maybe_build((None,) + x.shape[1:])
    for w, v in zip(layer.weights, weights):
        w.value = v.astype(dtype).copy()
        w.grad = np.zeros_like(w.value)
    layer.need_dx = need_dx
    y = layer.forward(x, training, mask=mask)
    dx = layer.backward(dy)
    return y, dx, [w.grad.copy() for w in layer.weights]


CASES = [
    dict(),
    dict(return_sequences=True),
    dict(go_backwards=True),
    dict(go_backwards=True, return_sequences=True),
    dict(return_sequences=True, return_state=True),
    dict(return_sequences=True, zero_output_for_mask=True),
    dict(use_bias=False),
    dict(activation="relu", recurrent_activation="hard_sigmoid"),
]


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("options", CASES, ids=lambda o: ",".join(f"{k}={v}" for k, v in
                                                                o.items()) or "last")
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(11, 37, 5), (32, 20, 8), (1, 3, 2)],
                         ids=["odd_batch_odd_steps", "batch32", "tiny"])
def test_blocks_equal_reference(cell, options, masked, dtype, shape):
    rng = np.random.default_rng(1)
    n, t_len, d = shape
    x = rng.standard_normal(shape).astype(dtype)
    mask = rng.random((n, t_len)) > 0.3 if masked else None
    if mask is not None:
        mask[0, :t_len // 2] = False      # pre-padding
    new, ref = _pair(cell, **options)
    new.maybe_build((None, t_len, d))
    weights = [w.value * 1.5 for w in new.weights]
    y_ref = None
    with backend.floatx_scope("float64" if dtype == np.float64 else "float32"):
        probe = new.forward(x, mask=mask)
        dys = ([rng.standard_normal(a.shape).astype(dtype) for a in probe]
               if isinstance(probe, list) else rng.standard_normal(probe.shape).astype(dtype))
        y_new, dx_new, g_new = _run(new, weights, x, mask, dys, False, True, dtype)
        y_ref, dx_ref, g_ref = _run(ref, weights, x, mask, dys, False, True, dtype)
    def close(a, b):
        # float32: the two paths add in different orders (relu cells grow to ~1e3 here)
        scale = max(1.0, float(np.abs(b).max(initial=0)))
        tol = dict(rtol=1e-4, atol=1e-5 * scale) if dtype == np.float32 else \
            dict(rtol=1e-10, atol=1e-12 * scale)
        np.testing.assert_allclose(a, b, **tol)

    for a, b in zip(y_new if isinstance(y_new, list) else [y_new],
                    y_ref if isinstance(y_ref, list) else [y_ref]):
        close(a, b)
    close(dx_new, dx_ref)
    for a, b in zip(g_new, g_ref):
        close(a, b)


@pytest.mark.parametrize("cell", list(CELLS))
def test_blocks_equal_reference_with_dropout_and_without_dx(monkeypatch, cell):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((9, 21, 4)).astype(np.float32)
    mask = rng.random((9, 21)) > 0.2
    fixed = {}

    def fixed_mask(shape, rate, dtype):
        if shape not in fixed:
            fixed[shape] = (np.random.default_rng(len(shape)).random(shape) >= rate) / (1 - rate)
        return fixed[shape].astype(dtype)

    new, ref = _pair(cell, dropout=0.3, recurrent_dropout=0.4, return_sequences=True)
    for layer in (new, ref):
        monkeypatch.setattr(layer, "_dropout_mask", fixed_mask)
    new.maybe_build((None, 21, 4))
    weights = [w.value for w in new.weights]
    dy = rng.standard_normal((9, 21, 6)).astype(np.float32)
    for need_dx in (True, False):
        y_new, dx_new, g_new = _run(new, weights, x, mask, dy, True, need_dx, np.float32)
        y_ref, dx_ref, g_ref = _run(ref, weights, x, mask, dy, True, need_dx, np.float32)
        np.testing.assert_allclose(y_new, y_ref, rtol=1e-4, atol=1e-5)
        if need_dx:
            np.testing.assert_allclose(dx_new, dx_ref, rtol=1e-4, atol=1e-5)
        else:
            assert dx_new is None and dx_ref is None
        for a, b in zip(g_new, g_ref):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("rows,steps", [(1, 1), (3, 5), (4, 16), (64, 64)])
def test_block_sizes_do_not_change_results(monkeypatch, cell, rows, steps):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((10, 33, 3))
    mask = rng.random((10, 33)) > 0.25
    dy = rng.standard_normal((10, 33, 5))
    layer_type, _, extra = CELLS[cell]
    with backend.floatx_scope("float64"):
        base = layer_type(5, return_sequences=True, **extra)
        base.maybe_build((None, 33, 3))
        weights = [w.value for w in base.weights]
        want = _run(base, weights, x, mask, dy, False, True, np.float64)
        monkeypatch.setattr(layer_type, "block_rows", rows)
        monkeypatch.setattr(layer_type, "block_steps", steps)
        layer = layer_type(5, return_sequences=True, **extra)
        got = _run(layer, weights, x, mask, dy, False, True, np.float64)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-12)
    for a, b in zip(got[2], want[2]):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
