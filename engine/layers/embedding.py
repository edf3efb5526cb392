"""Embedding: token ids → learned vectors, with Keras's mask_zero and a row-sparse gradient."""
from __future__ import annotations

import numpy as np

from engine.kernels import embedding as K
from engine.layers.base import Layer
from engine.registry import Param, register


@register("Embedding", "Turns token ids into learned vectors: (batch, steps) integers → "
          "(batch, steps, output_dim).",
          [Param("input_dim", "int", None, "Vocabulary size: ids go from 0 to input_dim − 1.",
                 min=1, suggested=10000),
           Param("output_dim", "int", None, "Length of each vector.", min=1, suggested=128),
           Param("embeddings_initializer", "initializer", "uniform", "How the vectors are "
                 "initialized (uniform: ±0.05).", advanced=True),
           Param("embeddings_regularizer", "regularizer", None, "Penalty on the vectors added "
                 "to the loss.", optional=True, advanced=True),
           Param("embeddings_constraint", "constraint", None, "Constraint applied to the "
                 "vectors after each update.", optional=True, advanced=True),
           Param("mask_zero", "bool", False, "Id 0 is padding: recurrent layers after this one "
                 "skip those steps (the vocabulary then starts at 1).")],
          key_params=("input_dim", "output_dim"))
class Embedding(Layer):
    """Input: integer ids of any shape (batch, ...) in 0..input_dim − 1 (whole-number floats are
    accepted); output (batch, ..., output_dim). With mask_zero the mask is ``ids != 0``."""

    def __init__(self, *args, input_length: int | None = None, **kwargs):
        # The base class reads a keyword input_dim as an input shape; here it is the vocabulary.
        if "input_dim" in kwargs:
            if args:
                raise TypeError("Embedding: argument 'input_dim' given twice")
            args = (kwargs.pop("input_dim"),)
        # Keras 2's input_length gave the sequence length; Keras 3 dropped it. Kept as a way
        # to give the input shape, so Keras 2 scripts run unchanged.
        if input_length is not None and not any(k in kwargs for k in (
                "input_shape", "batch_input_shape", "batch_shape")):
            kwargs["input_shape"] = (input_length,)
        super().__init__(*args, **kwargs)

    def _validate(self):
        for arg in ("input_dim", "output_dim"):
            if getattr(self, arg) is None:
                raise ValueError(f"{self.where}: argument '{arg}' is required, e.g. "
                                 f"Embedding(10000, 128)")

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer,
                                          self.embeddings_regularizer,
                                          self.embeddings_constraint)
        self._rows_written = None     # rows of the grad the last backward wrote
        self._grad_written = None     # ... into this buffer (address)
        self._marker = np.zeros(self.input_dim, np.uint8)
        self._slots = None            # (input_dim,) int32 of -1 for compact_ids, when fused
        self._fused = None            # the layer the last forward ran with (forward_fused)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return np.asarray(inputs) != 0

    def makes_masks(self) -> bool:
        return self.mask_zero or type(self).compute_mask is not Embedding.compute_mask

    def _call_eager(self, inputs, training):
        try:
            np.asarray(inputs)
        except ValueError:
            raise ValueError(f"{self.where}: the sequences have different lengths (a ragged "
                             f"list); pad them to one length first with "
                             f"engine.preprocessing.sequence.pad_sequences") from None
        return super()._call_eager(inputs, training)

    # ------------------------------------------------------------------ forward / backward
    def _token_ids(self, x) -> np.ndarray:
        """x as a flat int array of valid ids, or an error that names what is wrong."""
        x = np.asarray(x)
        if x.dtype == object:
            raise ValueError(f"{self.where}: expects an integer array of token ids, got Python "
                             f"objects (ragged lists? pad them with "
                             f"engine.preprocessing.sequence.pad_sequences)")
        if x.ndim == 0:
            raise ValueError(f"{self.where}: expects a batch of token ids, got a scalar")
        if x.size == 0 and x.ndim >= 2 and x.shape[-1] == 0:
            raise ValueError(f"{self.where}: got empty sequences (shape {x.shape}); every "
                             f"sequence needs at least one token")
        if x.dtype.kind == "f":
            bad = ~np.isfinite(x) | (x != np.round(x))
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ValueError(f"{self.where}: token ids must be integers, got the value "
                                 f"{float(x[where])!r} at position {where}")
            x = x.astype(np.int64)
        elif x.dtype.kind not in "iub":
            raise ValueError(f"{self.where}: token ids must be integers, got dtype {x.dtype}")
        ids = np.ascontiguousarray(x).reshape(-1)
        if ids.size:
            lo, hi, at = K.id_range(ids)
            if hi >= self.input_dim:
                where = np.unravel_index(at, x.shape)
                raise ValueError(
                    f"{self.where}: token id {int(hi)} (the largest in the batch, at position "
                    f"{tuple(int(i) for i in where)}) is out of range: input_dim={self.input_dim} "
                    f"allows ids 0..{self.input_dim - 1}; raise input_dim to at least "
                    f"{int(hi) + 1} or limit the vocabulary (Tokenizer(num_words=...))")
            if lo < 0:
                raise ValueError(f"{self.where}: negative token id {int(lo)}; ids go from 0 to "
                                 f"{self.input_dim - 1}")
        return ids, x.shape

    def _vectors(self, ids: np.ndarray) -> np.ndarray:
        table = self.embeddings.value
        out = np.empty((ids.size, self.output_dim), table.dtype)
        K.gather_rows(table, ids, out)
        return out

    def forward(self, x, training=False):
        ids, shape = self._token_ids(x)
        self._ids, self._fused = ids, None
        return self._vectors(ids).reshape(shape + (self.output_dim,))

    def fuse_next(self, layer) -> bool:
        """Whether training may run this layer and ``layer`` (the only reader of its output)
        together: an LSTM, GRU or SimpleRNN without input dropout, or a Conv1D, then gets the
        batch's distinct vectors and each position's index into them (their forward_tokens)
        and multiplies each distinct vector by its kernel once. A padded batch of text repeats
        the padding id and the common words: the IMDB-like workloads (bench/workloads/lstm.py,
        conv1d_text.py: 32 × 200 ids) have 3,000 distinct ids in 6,400 on average."""
        from engine.layers.conv import Conv1D
        from engine.layers.recurrent import GRU, LSTM, SimpleRNN
        recurrent = type(layer) in (LSTM, GRU, SimpleRNN) and layer.dropout == 0
        return (type(self) is Embedding and (recurrent or type(layer) is Conv1D)
                and self.embeddings.value.dtype == layer.kernel.value.dtype == np.float32)

    def forward_fused(self, x, layer):
        """Training forward of this layer and ``layer`` (see :meth:`fuse_next`): returns that
        layer's output; :meth:`backward` then takes the gradient of that output."""
        ids, shape = self._token_ids(x)
        if len(shape) != 2:        # the next layer says what is wrong with the shape
            return layer.forward(self.forward(x, training=True), training=True)
        if self._slots is None:
            self._slots = np.full(self.input_dim, -1, np.int32)
        rows, inv = K.compact_ids(ids, self._slots)
        out = layer.forward_tokens(self._vectors(rows), inv.reshape(shape), training=True)
        self._ids, self._fused, self._fused_rows = ids, layer, rows
        return out

    def backward(self, dy):
        grad = self.embeddings.grad
        # Only rows this layer wrote can be non-zero, unless someone else wrote the buffer:
        # a regularizer adds a dense term after backward, and a rebound model has new buffers.
        address = grad.__array_interface__["data"][0]
        if (self._rows_written is not None and address == self._grad_written
                and self.embeddings_regularizer is None):
            K.zero_rows(grad, self._rows_written)
        else:
            grad[...] = 0
        if self._fused is not None:        # dy is the gradient of the fused layer's output
            rows = self._fused_rows
            K.set_rows(grad, rows, self._fused.backward(dy).astype(grad.dtype, copy=False))
        else:
            dy = np.ascontiguousarray(dy, dtype=grad.dtype).reshape(-1, self.output_dim)
            K.scatter_add_rows(grad, self._ids, dy)
            rows = K.unique_rows(self._ids, self._marker)
        self._rows_written = rows
        self._grad_written = address
        return None
