"""Wrappers around another layer: Bidirectional (an RNN both ways) and TimeDistributed.

The wrapped layers own their weights (named as Keras names them in HDF5 files:
``bidirectional/forward_lstm/lstm_cell/kernel``, ``time_distributed/dense/kernel``); the
wrapper lists them in its ``weights`` so the model trains and saves them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers.base import Layer
from engine.layers.layer_config import deserialize_layer
from engine.layers.recurrent import RNNBase
from engine.registry import Param, register


def _inner_layer(where: str, value: Any, arg: str = "layer") -> Layer:
    """A layer from an instance or a config dict (ours or Keras 3's, with module/DTypePolicy)."""
    if isinstance(value, Layer):
        return value
    if isinstance(value, dict) and "class_name" in value:
        cfg = dict(value.get("config") or {})
        if isinstance(cfg.get("dtype"), dict):
            cfg["dtype"] = (cfg["dtype"].get("config") or {}).get("name", "float32")
        return deserialize_layer({"class_name": value["class_name"], "config": cfg})
    raise ValueError(f"{where}: argument '{arg}' expects a layer, e.g. LSTM(64), got {value!r:.80}")


class Wrapper(Layer):
    """Keeps the wrapped layers' trainable flag and need_dx in step with the wrapper's."""

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self.__dict__.get("_inner_layers", ()):
            layer.trainable = self._trainable

    def _adopt(self, layers: list[Layer]) -> None:
        self._inner_layers = layers
        self.trainable = self._trainable

    def _sync_need_dx(self) -> None:
        for layer in self._inner_layers:
            if hasattr(layer, "need_dx"):
                layer.need_dx = self.need_dx


@register("Wrappers", "Runs a recurrent layer forwards and backwards over the sequence and "
          "merges the two outputs.",
          [Param("layer", "layer", None, "The recurrent layer (LSTM, GRU or SimpleRNN)."),
           Param("merge_mode", "choice", "concat", "How the two directions are combined: "
                 "concat, sum, ave, mul, or empty for a list of both.",
                 choices=("concat", "sum", "ave", "mul"), optional=True),
           Param("backward_layer", "layer", None, "A separate layer for the backward "
                 "direction (default: a copy of 'layer' with go_backwards).", optional=True,
                 advanced=True)],
          key_params=("merge_mode",))
class Bidirectional(Wrapper):
    """Input (batch, timesteps, features). The backward layer's sequence output is flipped back
    to input order before merging; concat gives (..., 2·units), sum/ave/mul (..., units),
    merge_mode None a list [forward, backward]. With return_state the forward then backward
    states follow the output(s)."""

    uses_mask = True

    def _validate(self):
        if self.layer is None:
            raise ValueError(f"{self.where}: argument 'layer' is required, e.g. "
                             f"Bidirectional(LSTM(64))")
        given = _inner_layer(self.where, self.layer)
        if not isinstance(given, RNNBase):
            raise ValueError(f"{self.where}: wraps recurrent layers (LSTM, GRU, SimpleRNN), got "
                             f"{given.spec.type_name}")
        cfg = given.get_config()
        cfg["name"] = "forward_" + given.name.removeprefix("forward_")
        cfg["zero_output_for_mask"] = cfg["return_sequences"]
        fwd = type(given).from_config(cfg)
        if self.backward_layer is None:
            cfg = dict(cfg, name="backward_" + given.name.removeprefix("forward_")
                       .removeprefix("backward_"), go_backwards=not fwd.go_backwards)
            bwd = type(given).from_config(cfg)
        else:
            bwd = _inner_layer(self.where, self.backward_layer, "backward_layer")
            if not isinstance(bwd, RNNBase) or bwd.go_backwards == fwd.go_backwards:
                raise ValueError(f"{self.where}: backward_layer must be a recurrent layer whose "
                                 f"go_backwards differs from the forward layer's")
            for a in ("return_sequences", "return_state"):
                if getattr(bwd, a) != getattr(fwd, a):
                    raise ValueError(f"{self.where}: the forward and backward layers must have "
                                     f"the same '{a}' ({getattr(fwd, a)} vs {getattr(bwd, a)})")
            bwd.zero_output_for_mask = bwd.return_sequences
        self.layer, self.backward_layer = fwd, bwd
        self.forward_layer = fwd
        self.return_sequences = fwd.return_sequences
        self.return_state = fwd.return_state
        self._adopt([fwd, bwd])

    def build(self, input_shape):
        self.forward_layer.maybe_build(input_shape)
        self.backward_layer.maybe_build(input_shape)
        self.weights = self.forward_layer.weights + self.backward_layer.weights
        self.need_dx = True

    def compute_output_shape(self, input_shape):
        fs = self.forward_layer.compute_output_shape(input_shape)
        bs = self.backward_layer.compute_output_shape(input_shape)
        fo, fstates = (fs[0], fs[1:]) if self.return_state else (fs, [])
        bo, bstates = (bs[0], bs[1:]) if self.return_state else (bs, [])
        if self.merge_mode is None:
            outs = [fo, bo]
        elif self.merge_mode == "concat":
            outs = [fo[:-1] + (fo[-1] + bo[-1],)]
        else:
            outs = [fo]
        outs = outs + list(fstates) + list(bstates)
        return outs if len(outs) > 1 else outs[0]

    def compute_mask(self, inputs, mask=None):
        out = mask if self.return_sequences else None
        masks = [out, out] if self.merge_mode is None else [out]
        if self.return_state:
            masks += [None] * (2 * self.forward_layer.n_states)
        return masks if len(masks) > 1 else masks[0]

    def forward(self, x, training=False, mask=None):
        yf = self.forward_layer.forward(x, training, mask=mask)
        yb = self.backward_layer.forward(x, training, mask=mask)
        of, sf = (yf[0], yf[1:]) if self.return_state else (yf, [])
        ob, sb = (yb[0], yb[1:]) if self.return_state else (yb, [])
        if self.return_sequences:
            ob = ob[:, ::-1]
        self._of, self._ob = of, ob
        mode = self.merge_mode
        if mode is None:
            outs = [of, np.ascontiguousarray(ob)]
        elif mode == "concat":
            outs = [np.concatenate([of, ob], axis=-1)]
        elif mode == "sum":
            outs = [of + ob]
        elif mode == "ave":
            outs = [(of + ob) * of.dtype.type(0.5)]
        else:
            outs = [of * ob]
        outs = outs + list(sf) + list(sb)
        return outs if len(outs) > 1 else outs[0]

    def backward(self, dy):
        dys = dy if isinstance(dy, list) else [dy]
        mode = self.merge_mode
        n_out = 2 if mode is None else 1
        d, rest = dys[:n_out], dys[n_out:]
        if mode is None:
            d_of, d_ob = d
        elif d[0] is None:
            d_of = d_ob = None
        elif mode == "concat":
            u = self._of.shape[-1]
            d_of, d_ob = d[0][..., :u], d[0][..., u:]
        elif mode == "sum":
            d_of = d_ob = d[0]
        elif mode == "ave":
            d_of = d_ob = d[0] * d[0].dtype.type(0.5)
        else:
            d_of, d_ob = d[0] * self._ob, d[0] * self._of
        if d_ob is not None and self.return_sequences:
            d_ob = d_ob[:, ::-1]
        self._sync_need_dx()
        k = len(rest) // 2
        dxf = self.forward_layer.backward([d_of] + rest[:k] if self.return_state else d_of)
        dxb = self.backward_layer.backward([d_ob] + rest[k:] if self.return_state else d_ob)
        if dxf is None:
            return None
        return dxf + dxb


@register("Wrappers", "Applies a layer to every time step: (batch, steps, ...) → the layer's "
          "output per step.",
          [Param("layer", "layer", None, "The layer applied to each step, e.g. Dense(10).")])
class TimeDistributed(Wrapper):
    """Input (batch, timesteps, ...): the wrapped layer sees (batch·timesteps, ...) at once."""

    supports_masking = True

    def _validate(self):
        if self.layer is None:
            raise ValueError(f"{self.where}: argument 'layer' is required, e.g. "
                             f"TimeDistributed(Dense(10))")
        self.layer = _inner_layer(self.where, self.layer)
        if self.layer.spec.n_inputs != 1:
            raise ValueError(f"{self.where}: wraps layers with one input, got "
                             f"{self.layer.spec.type_name}")
        self._adopt([self.layer])

    def _step_shape(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"{self.where}: expects input of shape (batch, timesteps, ...), "
                             f"got {input_shape}")
        return (None,) + tuple(input_shape[2:])

    def build(self, input_shape):
        self.layer.maybe_build(self._step_shape(input_shape))
        self.weights = self.layer.weights
        self.need_dx = True

    def compute_output_shape(self, input_shape):
        out = self.layer.compute_output_shape(self._step_shape(input_shape))
        if isinstance(out, list):
            raise ValueError(f"{self.where}: the wrapped layer must have one output")
        return (input_shape[0], input_shape[1]) + tuple(out[1:])

    def forward(self, x, training=False):
        if x.ndim < 3:
            raise ValueError(f"{self.where}: expects input of shape (batch, timesteps, ...), "
                             f"got an array of shape {x.shape}")
        n, t = x.shape[:2]
        y = self.layer.forward(x.reshape((n * t,) + x.shape[2:]), training)
        return y.reshape((n, t) + y.shape[1:])

    def backward(self, dy):
        n, t = dy.shape[:2]
        self._sync_need_dx()
        dx = self.layer.backward(dy.reshape((n * t,) + dy.shape[2:]))
        return None if dx is None else dx.reshape((n, t) + dx.shape[1:])
