"""Recurrent layers: SimpleRNN, LSTM, GRU (Keras 3 arguments, defaults and weight layouts).

Each layer's training step is one numba kernel for the forward pass and one for the backward
(engine/kernels/recurrent.py for LSTM, recurrent_blocks.py for SimpleRNN and GRU): the input
and weight-gradient products are done inside the time loop (no BLAS call, no Python per
step), with blocks of batch rows shared out to the threads as they come free: on a busy
machine that keeps them at full speed where a static split waits for the slowest thread (seed
IMDB LSTM, 2 cores, one other busy process: 300 → 400 samples/s). The previous kernels (x·kernel
by one product outside, static row chunks) stay in engine/kernels/recurrent.py as the tests'
reference.

Semantics as in Keras:
* a mask (from ``Embedding(mask_zero=True)`` or ``Masking``) skips steps: the state is carried
  over and the output repeats the previous one (zeros with ``zero_output_for_mask``);
* ``go_backwards`` processes the steps in reverse and returns the sequence in that order;
* ``return_state`` adds the final states as outputs (LSTM: h and c);
* ``dropout`` / ``recurrent_dropout``: one mask per sequence, the same at every step (and, here,
  shared by the gates: Keras draws one per gate when ``recurrent_dropout`` is on).
"""
from __future__ import annotations

import numba
import numpy as np

from engine import activations
from engine import threading_policy as policy
from engine.kernels import recurrent as K
from engine.kernels.gemm import matmul
from engine.kernels.recurrent_infer import lstm_predict_blocks
from engine.kernels import embedding as KE
from engine.kernels import recurrent_blocks as KB
from engine.kernels.rnn_math import CODES
from engine.layers.base import Layer, is_predicting
from engine.registry import Param, register


def _init(name: str, default: str, what: str) -> Param:
    return Param(name, "initializer", default, f"How the {what} is initialized.", advanced=True)


def _reg(name: str, what: str) -> Param:
    return Param(name, "regularizer", None, f"Penalty on the {what} added to the loss.",
                 optional=True, advanced=True)


def _con(name: str, what: str) -> Param:
    return Param(name, "constraint", None, f"Constraint applied to the {what} after each "
                 "update.", optional=True, advanced=True)


UNITS = Param("units", "int", None, "Size of the hidden state (and of each output step).", min=1,
              suggested=64)
ACTIVATION = Param("activation", "activation", "tanh", "Activation of the candidate state and "
                   "of the output (tanh).", optional=True)
RECURRENT_ACTIVATION = Param("recurrent_activation", "activation", "sigmoid",
                             "Activation of the gates (sigmoid).", optional=True)
USE_BIAS = Param("use_bias", "bool", True, "Add learned biases.")
INITIALIZERS = [_init("kernel_initializer", "glorot_uniform", "input kernel"),
                _init("recurrent_initializer", "orthogonal", "recurrent kernel"),
                _init("bias_initializer", "zeros", "bias")]
UNIT_FORGET_BIAS = Param("unit_forget_bias", "bool", True, "Start the forget gate's bias at 1 "
                         "(Jozefowicz et al.), so the cell remembers by default.", advanced=True)
PENALTIES = [_reg("kernel_regularizer", "input kernel"),
             _reg("recurrent_regularizer", "recurrent kernel"), _reg("bias_regularizer", "bias"),
             _con("kernel_constraint", "input kernel"),
             _con("recurrent_constraint", "recurrent kernel"), _con("bias_constraint", "bias")]
DROPOUTS = [Param("dropout", "float", 0.0, "Fraction of the input units dropped while training "
                  "(one mask per sequence).", min=0.0, max=1.0),
            Param("recurrent_dropout", "float", 0.0, "Fraction of the recurrent state dropped "
                  "while training (one mask per sequence).", min=0.0, max=1.0),
            Param("seed", "int", None, "Random seed of the dropout masks.", optional=True,
                  advanced=True)]
SEQUENCE_OPTIONS = [
    Param("return_sequences", "bool", False, "Output every step (batch, steps, units) instead "
          "of the last one (batch, units)."),
    Param("return_state", "bool", False, "Also output the final state(s).", advanced=True),
    Param("go_backwards", "bool", False, "Process the sequence in reverse (and return the "
          "reversed sequence).", advanced=True),
    Param("stateful", "bool", False, "Carry the state across batches (not supported).",
          advanced=True),
    Param("unroll", "bool", False, "Kept for Keras configs; no effect here.", advanced=True),
    Param("zero_output_for_mask", "bool", False, "Output zeros at masked steps instead of "
          "repeating the previous output.", advanced=True),
]


def _activation_code(layer: Layer, arg: str) -> int:
    value = getattr(layer, arg)
    name = "linear" if value is None else activations.get(value).name
    if name not in CODES:
        raise ValueError(f"{layer.where}: argument '{arg}'={name!r} is not supported in recurrent "
                         f"layers; use one of {', '.join(CODES)}")
    return CODES[name]


class RNNBase(Layer):
    """What SimpleRNN, LSTM and GRU share: shapes, masks, dropout, input product, outputs.

    Input (batch, timesteps, features) float; optional mask (batch, timesteps) bool. Output
    (batch, units), or (batch, timesteps, units) with return_sequences; with return_state a
    list [output, h] (LSTM: [output, h, c]), each state (batch, units).
    """

    uses_mask = True
    n_gates = 1
    n_states = 1
    keras_weight_prefix = ""
    # layer(x, initial_state=[h] or [h, c]): the states are extra inputs after the sequence
    call_tensor_kwargs = ("initial_state",)

    def _validate(self) -> None:
        if self.units is None:
            raise ValueError(f"{self.where}: argument 'units' is required (size of the state)")
        if self.stateful:
            raise ValueError(f"{self.where}: stateful=True is not supported; the state starts "
                             f"from zeros in every batch")
        for arg in ("dropout", "recurrent_dropout"):
            if getattr(self, arg) >= 1.0:
                raise ValueError(f"{self.where}: argument '{arg}' must be below 1, got "
                                 f"{getattr(self, arg)}")
        self._act = _activation_code(self, "activation")
        self._rec_act = (_activation_code(self, "recurrent_activation")
                         if hasattr(self, "recurrent_activation") else 0)
        self._rng = np.random.default_rng(self.seed)

    # ------------------------------------------------------------------ shapes
    def _check_input_count(self, n: int) -> None:
        if n not in (1, 1 + self.n_states):
            raise ValueError(f"{self.where}: takes a sequence and optionally "
                             f"{self.n_states} initial state(s), got {n} inputs")

    def build(self, input_shape):
        if isinstance(input_shape, list):          # [sequence, *initial states]
            for k, state in enumerate(input_shape[1:]):
                if len(state) != 2 or state[-1] != self.units:
                    raise ValueError(f"{self.where}: initial state {k} has shape {state}, "
                                     f"expected (batch, {self.units})")
            input_shape = input_shape[0]
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{self.where}: expects input of shape (batch, timesteps, "
                             f"features) with known features, got {input_shape}")
        d, u, g = input_shape[-1], self.units, self.n_gates * self.units
        self.kernel = self.add_weight("kernel", (d, g), self.kernel_initializer,
                                      self.kernel_regularizer, self.kernel_constraint)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (u, g),
                                                self.recurrent_initializer,
                                                self.recurrent_regularizer,
                                                self.recurrent_constraint)
        self.bias = (self.add_weight("bias", self._bias_shape(), self.bias_initializer,
                                     self.bias_regularizer, self.bias_constraint)
                     if self.use_bias else None)
        self.need_dx = True

    def _bias_shape(self) -> tuple:
        return (self.n_gates * self.units,)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        n, t = input_shape[0], input_shape[1]
        out = (n, t, self.units) if self.return_sequences else (n, self.units)
        if self.return_state:
            return [out] + [(n, self.units)] * self.n_states
        return out

    def compute_mask(self, inputs, mask=None):
        mask = mask[0] if isinstance(mask, list) else mask
        out = mask if self.return_sequences else None
        return [out] + [None] * self.n_states if self.return_state else out

    def makes_masks(self) -> bool:
        return type(self).compute_mask is not RNNBase.compute_mask   # it only passes masks on

    # ------------------------------------------------------------------ forward
    def _prepare(self, x, training: bool, mask):
        """Checks, step mask and dropout: the (dropped-out) input, (N, T, d) contiguous (the
        block kernels multiply it by the kernel themselves). A list input is [sequence,
        *initial states] (``initial_state=``)."""
        self._init, self._rows = None, None
        if isinstance(x, list):
            x, self._init = x[0], [np.asarray(s) for s in x[1:]]
            mask = mask[0] if isinstance(mask, list) else mask
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"{self.where}: expects input of shape (batch, timesteps, "
                             f"features), got an array of shape {x.shape}")
        n, t_len, d = x.shape
        if d != self.kernel.shape[0]:
            raise ValueError(f"{self.where}: was built for {self.kernel.shape[0]} features per "
                             f"step, got input of shape {x.shape}")
        if t_len == 0:
            raise ValueError(f"{self.where}: got sequences with 0 timesteps; every sequence "
                             f"needs at least one step (pad them with pad_sequences)")
        if mask is None:
            m = np.ones((n, t_len), np.uint8)
        else:
            m = np.asarray(mask)
            if m.shape != (n, t_len):
                raise ValueError(f"{self.where}: mask of shape {m.shape} does not match the "
                                 f"input's (batch, timesteps) {(n, t_len)}")
            m = m.astype(np.uint8)
        if self.go_backwards:
            x, m = x[:, ::-1], m[:, ::-1]
        self._mask = np.ascontiguousarray(m)
        self._masked = mask is not None
        dtype = self.kernel.value.dtype
        self._dmask = None
        if training and self.dropout > 0:
            self._dmask = self._dropout_mask((n, 1, d), self.dropout, dtype)
            x = x * self._dmask
        self._xin = np.ascontiguousarray(x, dtype=dtype).reshape(n * t_len, d)
        self._draw_recurrent_mask(n, training)
        return self._xin.reshape(n, t_len, d)

    def _draw_recurrent_mask(self, n: int, training: bool) -> None:
        dtype = self.kernel.value.dtype
        self._rmask = (self._dropout_mask((n, self.units), self.recurrent_dropout, dtype)
                       if training and self.recurrent_dropout > 0
                       else np.ones((n, self.units), dtype))

    def _input_bias(self):
        return self.bias.value

    def _dropout_mask(self, shape, rate, dtype):
        keep = self._rng.random(shape) >= rate
        return keep.astype(dtype) * dtype.type(1.0 / (1.0 - rate))

    def _initial_states(self, n: int, t_len: int, dtype, which: int = 0) -> np.ndarray:
        """State history (N, T+1, u); step 0 is the initial state (zeros unless given)."""
        hs = np.zeros((n, t_len + 1, self.units), dtype)
        if self._init is not None:
            s = self._init[which]
            if s.shape != (n, self.units):
                raise ValueError(f"{self.where}: initial state {which} has shape {s.shape}, "
                                 f"expected (batch, units) = {(n, self.units)}")
            hs[:, 0] = s
        return hs

    def _outputs(self, states: list[np.ndarray]):
        """Layer outputs from the state histories (N, T+1, u): sequence or last, plus states."""
        hs = states[0]
        zero_out = self.zero_output_for_mask and self._masked
        if self.return_sequences:
            out = hs[:, 1:] * self._mask[:, :, None] if zero_out else hs[:, 1:].copy()
        else:
            out = hs[:, -1] * self._mask[:, -1:] if zero_out else hs[:, -1].copy()
        if not self.return_state:
            return out
        return [out] + [s[:, -1].copy() for s in states]

    # ------------------------------------------------------------------ backward
    def _output_grads(self, dy, dtype):
        """dseq (N, T, u) or (N, 0, u), and the gradients of the final states [dh, (dc)]."""
        dys = dy if isinstance(dy, list) else [dy]
        n = self._mask.shape[0]
        zero_out = self.zero_output_for_mask and self._masked
        finals = [np.zeros((n, self.units), dtype) for _ in range(self.n_states)]
        for k, g in enumerate(dys[1:]):
            if g is not None:
                finals[k] += g
        # the backward kernels carry the state gradient back through time in these arrays:
        # when they finish, they hold the gradients of the initial states
        self._state_grads = finals
        dseq = np.zeros((n, 0, self.units), dtype)
        dout = dys[0]
        if dout is not None:
            dout = np.asarray(dout, dtype=dtype)
            if self.return_sequences:
                dseq = np.ascontiguousarray(dout * self._mask[:, :, None] if zero_out else dout)
            else:
                finals[0] += dout * self._mask[:, -1:] if zero_out else dout
        return dseq, finals

    def _with_state_grads(self, dx):
        """dx, or [dx, d initial states...] when the call was given initial states."""
        if self._init is None:
            return dx
        return [dx] + [g.copy() for g in self._state_grads]

    def _finish_dx(self, dx: np.ndarray) -> np.ndarray:
        """The input dropout's mask and the reversal of go_backwards, applied to dx (N, T, d)."""
        if self._dmask is not None:
            dx *= self._dmask
        if self.go_backwards:
            dx = dx[:, ::-1]
        return np.ascontiguousarray(dx)

    # Batch rows per block of the time loop, and steps per weight-gradient product (see
    # engine/kernels/recurrent.py, lstm_forward_blocks).
    block_rows = 4
    block_steps = 16

    def _workers(self, n: int) -> int:
        return max(1, min(numba.get_num_threads(), -(-n // self.block_rows)))

    def forward(self, x, training=False, mask=None):
        xin = self._prepare(x, training, mask)
        return self._forward_blocks(xin, *self._no_tokens(xin.dtype))

    def _no_tokens(self, dtype) -> tuple[np.ndarray, np.ndarray]:
        """_forward_blocks' proj and tok outside token mode (empty)."""
        return np.empty((0, self.n_gates * self.units), dtype), np.empty((0, 0), np.int32)

    def forward_tokens(self, rows: np.ndarray, inv: np.ndarray, training: bool = True):
        """Forward when the input x[n, t] is rows[inv[n, t]]: rows (P, d) the distinct input
        vectors, inv (N, T) int32 (Embedding → this layer in training, Embedding.fuse_next).
        The input product x_t·kernel is made once per distinct row, P·d·G multiply-adds
        instead of N·T·d·G: a padded batch of text repeats the padding id and the common
        words (the IMDB workload, bench/workloads/lstm.py: 3,000 distinct ids in 6,400 on
        average). The time loop adds each step's row (token mode of the block kernels);
        :meth:`backward` then returns the gradient of rows."""
        n, t_len = inv.shape
        self._init, self._masked, self._dmask = None, False, None
        self._mask = np.ones((n, t_len), np.uint8)
        self._draw_recurrent_mask(n, training)
        self._rows = rows
        self._inv = np.ascontiguousarray(inv[:, ::-1] if self.go_backwards else inv)
        return self._forward_blocks(np.empty((n, t_len, 0), rows.dtype),
                                    matmul(rows, self.kernel.value), self._inv)

    def _forward_blocks(self, xin, proj, tok):
        """The layer's block kernel on xin (N, T, d); in token mode (tok not empty) xin is
        (N, T, 0) and proj holds the distinct rows' input products."""
        raise NotImplementedError

    def _row_grads(self, dz: np.ndarray) -> np.ndarray:
        """After a backward in token mode: the kernel's gradient from every step's gradient of
        the input product dz (N, T, G), and the gradient of ``rows`` (P, d) returned. dz is
        summed per distinct row first, so the two products are P rows long rather than N·T."""
        g = dz.shape[-1]
        count = self._rows.shape[0]
        starts, order = KE.group_rows(self._inv.reshape(-1), count)
        dz_rows = np.empty((count, g), dz.dtype)
        KE.sum_rows_grouped(dz_rows, dz.reshape(-1, g), starts, order, np.zeros(1, np.int64),
                            numba.get_num_threads())
        matmul(self._rows.T, dz_rows, self.kernel.grad)
        return matmul(dz_rows, self.kernel.value.T)

    def _recurrent_wu(self, recurrent_only: bool) -> np.ndarray:
        """[kernel; recurrent kernel] for the block kernels; the recurrent kernel alone when the
        input product is made elsewhere or not wanted (token mode, a backward without dx)."""
        if recurrent_only:
            return self.recurrent_kernel.value
        return np.concatenate([self.kernel.value, self.recurrent_kernel.value])

    def _backward_weights(self, n: int, t_len: int, d: int, dtype, tokens: bool):
        """The backward block kernel's transposed weights and dx: [kernel; U]ᵀ and an (N, T, d)
        dx when dx is wanted (never in token mode), else Uᵀ and an empty dx."""
        with_dx = self.need_dx and not tokens
        wu_t = np.ascontiguousarray(self._recurrent_wu(not with_dx).T)
        return wu_t, np.empty((n, t_len, d) if with_dx else (0, 0, 0), dtype)


_RNN_PARAMS = [UNITS, ACTIVATION, USE_BIAS, *INITIALIZERS, *PENALTIES, *DROPOUTS,
               *SEQUENCE_OPTIONS]


@register("Recurrent", "Fully connected recurrent layer: h_t = activation(x_t·W + h_{t-1}·U + b).",
          _RNN_PARAMS, key_params=("units", "return_sequences"))
class SimpleRNN(RNNBase):
    keras_weight_prefix = "simple_rnn_cell"

    def _forward_blocks(self, xin, proj, tok):
        n, t_len, _ = xin.shape
        hs = self._initial_states(n, t_len, xin.dtype)
        bias = self.bias.value if self.bias is not None else np.zeros(self.units, xin.dtype)
        KB.simple_rnn_forward_blocks(xin, self._recurrent_wu(tok.shape[0] > 0), bias,
                                     self._rmask, self._mask, hs, self._act, self.block_rows,
                                     np.zeros(1, np.int64), self._workers(n), proj, tok)
        self._x3, self._hs = xin, hs
        return self._outputs([hs])

    def backward(self, dy):
        dtype = self._hs.dtype
        dseq, (dh,) = self._output_grads(dy, dtype)
        n, t_len, d = self._x3.shape
        u = self.units
        tokens = self._rows is not None
        wu_t, dx = self._backward_weights(n, t_len, d, dtype, tokens)
        workers = self._workers(n)
        acc = np.empty((workers, d + u, u), dtype)
        acc_b = np.empty((workers, u), dtype)
        dzs = np.empty((n, t_len, u) if tokens else (0, 0, 0), dtype)
        KB.simple_rnn_backward_blocks(self._x3, self._hs, wu_t,
                                      self._rmask, self._mask, dseq, dh, dx, acc, acc_b,
                                      self._act, self.block_rows, self.block_steps,
                                      np.zeros(1, np.int64), dzs)
        np.sum(acc[:, d:], axis=0, out=self.recurrent_kernel.grad)
        if self.bias is not None:
            np.sum(acc_b, axis=0, out=self.bias.grad)
        if tokens:
            return self._row_grads(dzs)
        np.sum(acc[:, :d], axis=0, out=self.kernel.grad)
        return self._with_state_grads(self._finish_dx(dx) if self.need_dx else None)


_LSTM_PARAMS = [UNITS, ACTIVATION, RECURRENT_ACTIVATION, USE_BIAS, *INITIALIZERS,
                UNIT_FORGET_BIAS, *PENALTIES, *DROPOUTS, *SEQUENCE_OPTIONS]


@register("Recurrent", "Long short-term memory: gated cell that keeps information over long "
          "sequences (gates i, f, c, o).", _LSTM_PARAMS, key_params=("units", "return_sequences"))
class LSTM(RNNBase):
    n_gates = 4
    n_states = 2
    keras_weight_prefix = "lstm_cell"

    def build(self, input_shape):
        super().build(input_shape)
        if self.bias is not None and self.unit_forget_bias:
            self.bias.value[self.units:2 * self.units] = 1.0

    def forward(self, x, training=False, mask=None):
        xin = self._prepare(x, training, mask)
        if not training and xin.dtype == np.float32 and is_predicting():
            return self._predict(xin)
        return self._forward_blocks(xin, *self._no_tokens(xin.dtype))

    def _forward_blocks(self, xin, proj, tok):
        n, t_len, _ = xin.shape
        dtype = xin.dtype
        hs = self._initial_states(n, t_len, dtype)
        cs = self._initial_states(n, t_len, dtype, 1)
        gates = np.empty((n, t_len, 4 * self.units), dtype)
        bias = self.bias.value if self.bias is not None else np.zeros(4 * self.units, dtype)
        K.lstm_forward_blocks(xin, self._recurrent_wu(tok.shape[0] > 0), bias, self._rmask,
                              self._mask, hs, cs, gates, self._act, self._rec_act,
                              self.block_rows, np.zeros(1, np.int64), self._workers(n), proj,
                              tok)
        self._x3, self._hs, self._cs, self._gates = xin, hs, cs, gates
        return self._outputs([hs, cs])

    def _predict(self, xin: np.ndarray):
        """Inference: the time loop keeps only the current states (kernels/recurrent_infer)."""
        n, t_len, d = xin.shape
        u, dtype = self.units, xin.dtype
        flops = 2.0 * n * t_len * (d + u) * 4 * u
        nworkers = policy.workers(flops, n)
        rows = max(4, min(64, -(-n // (2 * nworkers))))       # ~2 blocks per thread
        h_last, c_last = np.empty((n, u), dtype), np.empty((n, u), dtype)
        hseq = np.empty((n, t_len if self.return_sequences else 0, u), dtype)
        wu = self._recurrent_wu(False)
        bias = self.bias.value if self.bias is not None else np.zeros(4 * u, dtype)
        lstm_predict_blocks(xin, wu, bias, self._mask, h_last, c_last, hseq, self._act,
                            self._rec_act, rows, nworkers)
        zero_out = self.zero_output_for_mask and self._masked
        if self.return_sequences:
            out = hseq * self._mask[:, :, None] if zero_out else hseq
        else:
            out = h_last * self._mask[:, -1:] if zero_out else h_last
        return [out, h_last, c_last] if self.return_state else out

    def backward(self, dy):
        dtype = self._hs.dtype
        dseq, (dh, dc) = self._output_grads(dy, dtype)
        n, t_len, d = self._x3.shape
        u, g = self.units, 4 * self.units
        tokens = self._rows is not None
        wu_t, dx = self._backward_weights(n, t_len, d, dtype, tokens)
        workers = self._workers(n)
        acc = np.empty((workers, d + u, g), dtype)
        acc_b = np.empty((workers, g), dtype)
        K.lstm_backward_blocks(self._x3, self._hs, self._cs, self._gates, wu_t, self._rmask,
                               self._mask, dseq, dh, dc, dx, acc, acc_b, self._act,
                               self._rec_act, self.block_rows, self.block_steps,
                               np.zeros(1, np.int64), tokens)
        np.sum(acc[:, d:], axis=0, out=self.recurrent_kernel.grad)
        if self.bias is not None:
            np.sum(acc_b, axis=0, out=self.bias.grad)
        if tokens:                 # the kernel left each step's dz in the gates array
            return self._row_grads(self._gates)
        np.sum(acc[:, :d], axis=0, out=self.kernel.grad)
        return self._with_state_grads(self._finish_dx(dx) if self.need_dx else None)


_GRU_PARAMS = [UNITS, ACTIVATION, RECURRENT_ACTIVATION, USE_BIAS, *INITIALIZERS, *PENALTIES,
               *DROPOUTS, *SEQUENCE_OPTIONS,
               Param("reset_after", "bool", True, "Apply the reset gate after the recurrent "
                     "product (Keras 3 and cuDNN convention; bias of shape (2, 3·units)).",
                     advanced=True)]


@register("Recurrent", "Gated recurrent unit: a lighter gated cell (gates z, r).", _GRU_PARAMS,
          key_params=("units", "return_sequences"))
class GRU(RNNBase):
    n_gates = 3
    keras_weight_prefix = "gru_cell"

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        return self.bias.value[0] if self.reset_after else self.bias.value

    def _recurrent_parts(self):
        """The recurrent kernel as u1, u2 (engine/kernels/recurrent_blocks.py, GRU)."""
        u_mat = self.recurrent_kernel.value
        if self.reset_after:
            return u_mat, np.zeros((0, 0), u_mat.dtype)
        return (np.ascontiguousarray(u_mat[:, :2 * self.units]),
                np.ascontiguousarray(u_mat[:, 2 * self.units:]))

    def _forward_blocks(self, xin, proj, tok):
        n, t_len, _ = xin.shape
        dtype, g = xin.dtype, 3 * self.units
        hs = self._initial_states(n, t_len, dtype)
        gates = np.empty((n, t_len, g), dtype)
        rec_h = np.empty((n, t_len, self.units), dtype)
        bias = self._input_bias() if self.bias is not None else np.zeros(g, dtype)
        brec = (self.bias.value[1] if self.bias is not None and self.reset_after
                else np.zeros(g, dtype))
        u1, u2 = self._recurrent_parts()
        kernel = self.kernel.value[:0] if tok.shape[0] > 0 else self.kernel.value
        KB.gru_forward_blocks(xin, kernel, bias, u1, u2, brec, self._rmask, self._mask, hs,
                              gates, rec_h, self._act, self._rec_act, self.reset_after,
                              self.block_rows, np.zeros(1, np.int64), self._workers(n), proj,
                              tok)
        self._x3, self._hs, self._gates, self._rec_h = xin, hs, gates, rec_h
        return self._outputs([hs])

    def backward(self, dy):
        dtype = self._hs.dtype
        dseq, (dh,) = self._output_grads(dy, dtype)
        n, t_len, d = self._x3.shape
        u, g = self.units, 3 * self.units
        u1, u2 = self._recurrent_parts()
        workers = self._workers(n)
        acc_w = np.empty((workers, d, g), dtype)
        acc_u1 = np.empty((workers, u, u1.shape[1]), dtype)
        acc_u2 = np.empty((workers, 0, 0) if self.reset_after else (workers, u, u), dtype)
        acc_b = np.empty((workers, g), dtype)
        acc_br = np.empty((workers, g if self.reset_after else 0), dtype)
        tokens = self._rows is not None
        need_dx = self.need_dx and not tokens
        dx = np.empty((n, t_len, d) if need_dx else (0, 0, 0), dtype)
        t = np.ascontiguousarray
        kernel = self.kernel.value[:0] if tokens else self.kernel.value
        KB.gru_backward_blocks(self._x3, self._hs, self._gates, self._rec_h, t(kernel.T),
                               t(u1.T), t(u2.T), self._rmask, self._mask, dseq, dh, dx, acc_w,
                               acc_u1, acc_u2, acc_b, acc_br, self._act, self._rec_act,
                               self.reset_after, need_dx, self.block_rows, self.block_steps,
                               np.zeros(1, np.int64), tokens)
        grad = self.recurrent_kernel.grad
        if self.reset_after:
            np.sum(acc_u1, axis=0, out=grad)
        else:
            grad[:, :2 * u] = acc_u1.sum(axis=0)
            grad[:, 2 * u:] = acc_u2.sum(axis=0)
        if self.bias is not None:
            if self.reset_after:
                np.sum(acc_b, axis=0, out=self.bias.grad[0])
                np.sum(acc_br, axis=0, out=self.bias.grad[1])
            else:
                np.sum(acc_b, axis=0, out=self.bias.grad)
        if tokens:                 # the kernel left each step's dxz in the gates array
            return self._row_grads(self._gates)
        np.sum(acc_w, axis=0, out=self.kernel.grad)
        return self._with_state_grads(self._finish_dx(dx) if need_dx else None)
