"""Sequence preprocessing as in ``keras.preprocessing.sequence`` (Keras's ``pad_sequences``)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

_CHOICES = ("pre", "post")


def pad_sequences(sequences: Sequence, maxlen: int | None = None, dtype: Any = "int32",
                  padding: str = "pre", truncating: str = "pre", value: Any = 0.0) -> np.ndarray:
    """Pads (or truncates) a list of sequences to one length: (num_samples, maxlen[, ...]).

    Keras semantics: ``maxlen`` defaults to the longest sequence; sequences longer than
    ``maxlen`` lose values at the start (``truncating="pre"``) or end (``"post"``); shorter ones
    are filled with ``value`` before (``padding="pre"``) or after (``"post"``). Elements may be
    scalars or arrays of one shape (then the result has that shape after the length axis).
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"pad_sequences: 'sequences' must be a list of sequences, got "
                         f"{type(sequences).__name__}")
    for arg, got in (("padding", padding), ("truncating", truncating)):
        if got not in _CHOICES:
            raise ValueError(f"pad_sequences: argument '{arg}' must be 'pre' or 'post', "
                             f"got {got!r}")
    if maxlen is not None and (not isinstance(maxlen, (int, np.integer)) or
                               isinstance(maxlen, bool) or maxlen < 0):
        raise ValueError(f"pad_sequences: argument 'maxlen' must be a non-negative integer or "
                         f"None, got {maxlen!r}")
    lengths = []
    sample_shape: tuple = ()
    found_shape = False
    for i, s in enumerate(sequences):
        if isinstance(s, (str, bytes)):
            raise ValueError(f"pad_sequences: sequence {i} is text ({s[:30]!r}); turn texts into "
                             f"token ids first, e.g. with Tokenizer.texts_to_sequences")
        try:
            lengths.append(len(s))
        except TypeError:
            raise ValueError(f"pad_sequences: 'sequences' must be a list of sequences; item {i} "
                             f"is not one: {s!r:.60}") from None
        if not found_shape and len(s):
            sample_shape = np.asarray(s).shape[1:]
            found_shape = True
    if maxlen is None:
        maxlen = max(lengths, default=0)
    is_text_dtype = np.issubdtype(np.dtype(dtype), np.str_) if dtype is not object else True
    if isinstance(value, str) and not is_text_dtype:
        raise ValueError(f"pad_sequences: the padding value {value!r} is text but dtype is "
                         f"{dtype!r}; use dtype=object for sequences of strings")
    x = np.full((len(lengths), maxlen) + tuple(sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return x
    for i, s in enumerate(sequences):
        if not lengths[i]:
            continue
        kept = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        try:
            kept = np.asarray(kept, dtype=dtype)
        except (TypeError, ValueError) as e:
            raise ValueError(f"pad_sequences: sequence {i} cannot be converted to {dtype!r}: "
                             f"{e}") from None
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(f"pad_sequences: the elements of sequence {i} have shape "
                             f"{kept.shape[1:]}, those of the first non-empty sequence have "
                             f"shape {tuple(sample_shape)}")
        if padding == "post":
            x[i, :len(kept)] = kept
        else:
            x[i, maxlen - len(kept):] = kept
    return x
