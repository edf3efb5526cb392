"""IMDB movie-review sentiment, as ``keras.datasets.imdb``: 25,000 training and 25,000 test
reviews as word-id sequences, with Keras's arguments and semantics.

The published ``imdb.npz`` stores the ragged reviews as NumPy object arrays (pickles); they are
read with :class:`engine.datasets.safe_pickle.RestrictedUnpickler`, never with
``allow_pickle=True``. Offline, the message points to the bundled real review sentences.
"""
from __future__ import annotations

import itertools
import json

import numpy as np

from engine.data.errors import DataError
from engine.datasets.download import Progress, fetch
from engine.datasets.safe_pickle import load_npz_with_objects

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"   # the only hash Keras publishes for it
OFFLINE_HINT = ("LayerLoom ships 3,000 real labelled review sentences for offline use: "
                "engine.datasets.sentences.load_data() (texts), or the bundled data set "
                "'sentences' in the Data panel (token ids).")


def _flatten(seqs) -> tuple[np.ndarray, np.ndarray]:
    """(all word ids in one int64 array, length of each sequence)."""
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    flat = np.fromiter(itertools.chain.from_iterable(seqs), dtype=np.int64,
                       count=int(lengths.sum()))
    return flat, lengths


def _unflatten(flat: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """An object array of Python lists (Keras's return type) from a flat array and lengths."""
    out = np.empty(len(lengths), dtype=object)
    for i, part in enumerate(np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []):
        out[i] = part.tolist()
    return out


def _read(file) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    arrays = load_npz_with_objects(file)
    try:
        parts = [arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    except KeyError as e:
        raise DataError(f"has no array {e}", file) from None
    for x, y, name in ((parts[0], parts[1], "train"), (parts[2], parts[3], "test")):
        if len(x) != len(y):
            raise DataError(f"{name}: {len(x)} reviews but {len(y)} labels", file)
    return tuple(parts)


def load_data(path: str = "imdb.npz", num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, seed: int = 113, start_char: int | None = 1,
              oov_char: int | None = 2, index_from: int = 3,
              progress: Progress | None = None):
    """``(x_train, y_train), (x_test, y_test)``: reviews as object arrays of word-id lists,
    labels int64 0/1 — exactly as Keras returns them.

    Both splits are shuffled with ``numpy.random.RandomState(seed)``; word ids are shifted by
    ``index_from`` and each review starts with ``start_char``. Reviews of ``maxlen`` words or
    more are dropped. Ids outside ``skip_top <= id < num_words`` become ``oov_char`` (or are
    dropped when it is ``None``); without ``num_words`` the largest id present is the bound
    (as in Keras, that one id also becomes ``oov_char``).
    """
    file = fetch(path, BASE + "imdb.npz", SHA256, progress=progress, offline_hint=OFFLINE_HINT)
    x_train, labels_train, x_test, labels_test = _read(file)
    rng = np.random.RandomState(seed)
    order = np.arange(len(x_train))
    rng.shuffle(order)
    x_train, labels_train = x_train[order], labels_train[order]
    order = np.arange(len(x_test))
    rng.shuffle(order)
    x_test, labels_test = x_test[order], labels_test[order]

    flat, lengths = _flatten(list(x_train) + list(x_test))
    labels = np.concatenate([labels_train, labels_test]).astype(np.int64)
    flat, lengths, labels, keep = encode_word_ids(
        flat, lengths, labels, num_words=num_words, skip_top=skip_top, maxlen=maxlen,
        start_char=start_char, oov_char=oov_char, index_from=index_from)
    n_train = len(x_train)
    if maxlen and (not keep[:n_train].any() or not keep[n_train:].any()):
        raise DataError(f"After filtering for sequences shorter than maxlen={maxlen}, no "
                        f"sequence was kept. Increase maxlen.")
    n_train = int(keep[:n_train].sum())
    xs = _unflatten(flat, lengths)
    return (xs[:n_train], labels[:n_train]), (xs[n_train:], labels[n_train:])


def encode_word_ids(flat, lengths, labels, num_words, skip_top, maxlen, start_char, oov_char,
                    index_from):
    """Keras's word-id conventions (imdb, reuters) on sequences given as one flat id array and
    their lengths: shift ids by ``index_from``, prepend ``start_char``, drop sequences of
    ``maxlen`` ids or more, map ids outside ``skip_top <= id < num_words`` to ``oov_char`` (or
    drop them). Returns (flat, lengths, labels, which input sequences were kept)."""
    if index_from:
        flat = flat + index_from
    if start_char is not None:                 # prepend start_char to every sequence
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        flat = np.insert(flat, starts, start_char) if len(lengths) else flat
        lengths = lengths + 1
    keep = np.ones(len(lengths), dtype=bool)
    if maxlen:
        keep = lengths < maxlen
        flat = flat[np.repeat(keep, lengths)]
        lengths, labels = lengths[keep], labels[keep]
    if not num_words:
        num_words = int(flat.max()) if flat.size else 0
    inside = (flat >= skip_top) & (flat < num_words)
    if oov_char is not None:
        flat = np.where(inside, flat, oov_char)
    else:
        owner = np.repeat(np.arange(len(lengths)), lengths)
        lengths = np.bincount(owner[inside], minlength=len(lengths)).astype(np.int64)
        flat = flat[inside]
    return flat, lengths, labels, keep


def read_word_index(file) -> dict[str, int]:
    """A published word → index JSON file, checked to be one."""
    try:
        index = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(f"is not a JSON word index ({e})", file) from None
    if not isinstance(index, dict) or not all(isinstance(k, str) and isinstance(v, int)
                                              for k, v in index.items()):
        raise DataError("is not a word → index mapping", file)
    return index


def get_word_index(path: str = "imdb_word_index.json", progress: Progress | None = None
                   ) -> dict[str, int]:
    """Keras's word → index map of the IMDB data (add ``index_from`` to match ``load_data``)."""
    file = fetch(path, BASE + "imdb_word_index.json", WORD_INDEX_MD5, progress=progress,
                 offline_hint=OFFLINE_HINT)
    return read_word_index(file)
