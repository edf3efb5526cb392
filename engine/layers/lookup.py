"""StringLookup and IntegerLookup: tokens ↔ indices, as Keras 3's lookup layers.

Index layout (Keras's): the mask token's index 0 (when ``mask_token`` is set), then
``num_oov_indices`` indices for out-of-vocabulary tokens, then the vocabulary. ``adapt(data)``
learns the vocabulary — every token counted, most frequent first, ties broken by the token
itself in descending order (Keras's ``lexsort``), at most ``max_tokens`` indices in all.
``output_mode`` "int" gives indices; "one_hot", "multi_hot", "count" and "tf_idf" give
vectors of ``vocabulary_size()`` (or ``max_tokens`` with ``pad_to_max_tokens``). ``invert``
maps indices back to tokens. The vocabulary is part of the config (so .h5 files and projects
keep an adapted one too). No gradient flows through a lookup.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from engine import backend
from engine.layers.base import Layer
from engine.registry import Param, register

MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def _params(oov_default, mask_kind: str, string: bool) -> list[Param]:
    params = [
        Param("max_tokens", "int", None, "Largest number of indices (special ones included); "
              "empty: no limit.", min=1, optional=True),
        Param("num_oov_indices", "int", 1, "Indices for tokens outside the vocabulary (0: such "
              "tokens are an error).", min=0),
        Param("mask_token", mask_kind, None, "A token meaning 'padding', mapped to index 0; "
              "empty: none.", optional=True, advanced=True),
        Param("oov_token", mask_kind, oov_default, "What invert=True gives for an "
              "out-of-vocabulary index.", advanced=True),
    ]
    if not string:
        params.append(Param("vocabulary_dtype", "choice", "int64", "Dtype of the tokens.",
                            choices=("int64", "int32"), advanced=True))
    params += [
        Param("invert", "bool", False, "Map indices back to tokens instead."),
        Param("output_mode", "choice", "int", "'int': one index per token; 'one_hot', "
              "'multi_hot', 'count', 'tf_idf': one vector of vocabulary size.", choices=MODES),
        Param("pad_to_max_tokens", "bool", False, "Vector outputs have max_tokens entries.",
              advanced=True),
        Param("sparse", "bool", False, "Sparse output (not supported; kept for Keras "
              "configs).", advanced=True),
    ]
    if string:
        params.append(Param("encoding", "str", "utf-8", "Encoding of byte strings.",
                            advanced=True))
    return params


class _IndexLookup(Layer):
    extra_config = ("vocabulary", "idf_weights")  # in the config, not in the inspector form
    string = True

    def __init__(self, *args, vocabulary=None, idf_weights=None, **kwargs):
        self._given_vocabulary = vocabulary
        self._given_idf = idf_weights
        super().__init__(*args, **kwargs)

    def _validate(self):
        if self.sparse:
            raise ValueError(f"{self.where}: sparse=True is not supported (outputs are dense "
                             f"arrays)")
        if self.invert and self.output_mode != "int":
            raise ValueError(f"{self.where}: invert=True needs output_mode='int', got "
                             f"{self.output_mode!r}")
        if self.pad_to_max_tokens and self.max_tokens is None:
            raise ValueError(f"{self.where}: pad_to_max_tokens=True needs max_tokens")
        self._vocab: list = []
        self.idf = None
        vocab = self._given_vocabulary
        if isinstance(vocab, str):
            vocab = self._read_vocabulary_file(vocab)
        if vocab is not None:
            self.set_vocabulary(vocab, self._given_idf)
        elif self._given_idf is not None:
            raise ValueError(f"{self.where}: idf_weights need a vocabulary")

    # ------------------------------------------------------------ vocabulary
    def _token(self, t):
        """One token in the layer's own type (str, or int for IntegerLookup)."""
        if self.string:
            return t.decode(self.encoding) if isinstance(t, bytes) else str(t)
        return int(t)

    def _read_vocabulary_file(self, path: str) -> list:
        try:
            with open(path, encoding="utf-8") as f:
                return [line.rstrip("\n") for line in f if line.rstrip("\n")]
        except OSError as e:
            raise ValueError(f"{self.where}: cannot read the vocabulary file {path!r}: "
                             f"{e.strerror}") from None

    @property
    def token_start(self) -> int:
        return self.num_oov_indices + (self.mask_token is not None)

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Use ``vocabulary`` (tokens, most important first; Keras's leading mask/OOV tokens
        are recognised and dropped)."""
        tokens = [self._token(t) for t in np.asarray(vocabulary, dtype=object).reshape(-1)]
        special = ([self.mask_token] if self.mask_token is not None else []) + \
            [self.oov_token] * self.num_oov_indices
        if special and tokens[:len(special)] == special:
            tokens = tokens[len(special):]
        for t in (self.mask_token, self.oov_token):
            if t is not None and t in tokens:
                raise ValueError(f"{self.where}: the vocabulary contains the special token "
                                 f"{t!r} at another place than the start")
        if len(set(tokens)) != len(tokens):
            dup = next(t for t, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"{self.where}: the vocabulary has {dup!r} more than once")
        if self.max_tokens is not None and len(tokens) + self.token_start > self.max_tokens:
            raise ValueError(f"{self.where}: a vocabulary of {len(tokens)} tokens plus "
                             f"{self.token_start} special indices exceeds max_tokens="
                             f"{self.max_tokens}")
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{self.where}: output_mode='tf_idf' with a given vocabulary "
                                 f"needs idf_weights")
            idf = np.asarray(idf_weights, dtype=np.float64).reshape(-1)
            if idf.size != len(tokens):
                raise ValueError(f"{self.where}: {idf.size} idf_weights for {len(tokens)} "
                                 f"tokens")
            idf = np.concatenate([np.full(self.token_start, idf.mean() if idf.size else 0),
                                  idf])
            self.idf = idf
        self._vocab = tokens
        self._index = {t: i + self.token_start for i, t in enumerate(tokens)}

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        if not include_special_tokens:
            return list(self._vocab)
        return ([self.mask_token] if self.mask_token is not None else []) + \
            [self.oov_token] * self.num_oov_indices + list(self._vocab)

    def vocabulary_size(self) -> int:
        return len(self._vocab) + self.token_start

    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learn the vocabulary (and, for tf_idf, the inverse document frequencies) from
        ``data``: an array of tokens, a list, or an iterable of such batches."""
        counts: Counter = Counter()
        doc_counts: Counter = Counter()
        docs = 0
        batches = [data] if isinstance(data, (np.ndarray, list, tuple)) else data
        for batch in batches:
            arr = np.asarray(batch, dtype=object)
            rows = arr.reshape(len(arr), -1) if arr.ndim > 1 else arr.reshape(-1, 1)
            for row in rows:
                toks = [self._token(t) for t in row]
                counts.update(toks)
                doc_counts.update(set(toks))
                docs += 1
        for t in (self.mask_token, self.oov_token):
            counts.pop(t, None)
        # Keras: by count, then by the token, both descending
        order = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens is not None:
            order = order[:max(self.max_tokens - self.token_start, 0)]
        idf = None
        if self.output_mode == "tf_idf":
            idf = [math.log(1 + docs / (1 + doc_counts[t])) for t in order]
        self.set_vocabulary(order, idf)

    # ------------------------------------------------------------ computing
    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return input_shape
        depth = self.max_tokens if self.pad_to_max_tokens else (self.vocabulary_size() or None)
        if self.output_mode == "one_hot" and len(input_shape) > 1 and input_shape[-1] != 1:
            return tuple(input_shape) + (depth,)
        return tuple(input_shape[:-1] if len(input_shape) > 1 else input_shape) + (depth,)

    def forward(self, x, training=False):
        if not self._vocab and not self.invert and self.num_oov_indices == 0:
            raise ValueError(f"{self.where}: no vocabulary: call adapt(data) or give "
                             f"vocabulary=")
        arr = np.asarray(x, dtype=object if self.string or self.invert else None)
        if self.invert:
            return self._invert(arr)
        flat = [self._lookup(t) for t in arr.reshape(-1)]
        ids = np.array(flat, dtype=np.int64).reshape(arr.shape)
        if self.output_mode == "int":
            return ids
        return self._encode(ids)

    def _lookup(self, token) -> int:
        t = self._token(token)
        if self.mask_token is not None and t == self.mask_token:
            return 0
        i = self._index.get(t)
        if i is not None:
            return i
        if self.num_oov_indices == 0:
            raise ValueError(f"{self.where}: {t!r} is not in the vocabulary and "
                             f"num_oov_indices=0; set num_oov_indices=1")
        start = int(self.mask_token is not None)
        return start + self._oov_bucket(t)

    def _oov_bucket(self, t) -> int:
        return 0

    def _invert(self, ids):
        vocab = self.get_vocabulary()
        out = np.empty(ids.shape, dtype=object)
        for k, i in np.ndenumerate(ids):
            i = int(i)
            out[k] = vocab[i] if self.token_start <= i < len(vocab) or (
                self.mask_token is not None and i == 0) else self.oov_token
        return out if self.string else out.astype(np.int64)

    def _encode(self, ids):
        depth = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        if self.output_mode == "one_hot":
            if ids.ndim > 1 and ids.shape[-1] == 1:
                ids = ids[..., 0]
            out = np.zeros(ids.shape + (depth,), dtype=backend.floatx())
            np.put_along_axis(out, ids[..., None], 1, axis=-1)
            return out
        rows = ids.reshape(-1, 1) if ids.ndim == 1 else ids.reshape(-1, ids.shape[-1])
        counts = np.zeros((len(rows), depth), dtype=backend.floatx())
        np.add.at(counts, (np.repeat(np.arange(len(rows)), rows.shape[1]), rows.reshape(-1)), 1)
        if self.output_mode == "multi_hot":
            counts = np.minimum(counts, 1)
        elif self.output_mode == "tf_idf":
            idf = np.zeros(depth)
            idf[:len(self.idf)] = self.idf
            counts = counts * idf.astype(counts.dtype)
        lead = ids.shape[:-1] if ids.ndim > 1 else ids.shape
        return counts.reshape(lead + (depth,))

    def backward(self, dy):
        return None            # tokens and indices have no gradient

    def get_config(self):
        cfg = super().get_config()
        cfg["vocabulary"] = list(self._vocab) if self._vocab else None
        cfg["idf_weights"] = None if self.idf is None else \
            [float(v) for v in self.idf[self.token_start:]]
        return cfg


@register("Embedding", "Maps strings to indices (and back with invert=True), with a vocabulary "
          "learned by adapt() or given.", _params("[UNK]", "str", True),
          key_params=("max_tokens", "output_mode"))
class StringLookup(_IndexLookup):
    string = True


@register("Embedding", "Maps integer tokens to contiguous indices (and back with invert=True), "
          "with a vocabulary learned by adapt() or given.", _params(-1, "int", False),
          key_params=("max_tokens", "output_mode"))
class IntegerLookup(_IndexLookup):
    string = False

    def _oov_bucket(self, t) -> int:
        return t % self.num_oov_indices       # Keras's floormod for integer tokens
