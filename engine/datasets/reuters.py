"""Reuters newswire topics, as ``keras.datasets.reuters``: 11,228 newswires as word-id
sequences labelled with one of 46 topics, with Keras's arguments and semantics.

The published ``reuters.npz`` holds the ragged sequences as NumPy object arrays (pickles);
they are read with :class:`engine.datasets.safe_pickle.RestrictedUnpickler`, never with
``allow_pickle=True``. Same machinery as :mod:`engine.datasets.imdb`: download once with
checksum, word-id conventions (``start_char``, ``oov_char``, ``index_from``) in one place.
"""
from __future__ import annotations

import numpy as np

from engine.data.errors import DataError
from engine.datasets.download import Progress, fetch
from engine.datasets.imdb import _flatten, _unflatten, encode_word_ids, read_word_index
from engine.datasets.safe_pickle import load_npz_with_objects

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_MD5 = "4d44cc38712099c9e383dc6e5f11a921"   # the only hash Keras publishes for it
OFFLINE_HINT = ("No Reuters data is bundled with LayerLoom; for text classification offline "
                "use engine.datasets.sentences.load_data() (3,000 labelled sentences).")
LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead")


def load_data(path: str = "reuters.npz", num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, test_split: float = 0.2, seed: int = 113,
              start_char: int | None = 1, oov_char: int | None = 2, index_from: int = 3,
              progress: Progress | None = None):
    """``(x_train, y_train), (x_test, y_test)``: newswires as object arrays of word-id lists,
    topic labels 0..45 — exactly as Keras returns them.

    All newswires are shuffled with ``numpy.random.RandomState(seed)``, encoded as
    :func:`engine.datasets.imdb.encode_word_ids` describes, then the last ``test_split`` of
    them is the test set."""
    if not 0 <= test_split < 1:
        raise ValueError(f"reuters.load_data: test_split must be in [0, 1), got {test_split}")
    file = fetch(path, BASE + "reuters.npz", SHA256, progress=progress,
                 offline_hint=OFFLINE_HINT)
    arrays = load_npz_with_objects(file)
    try:
        xs, labels = arrays["x"], arrays["y"]
    except KeyError as e:
        raise DataError(f"has no array {e}", file) from None
    if len(xs) != len(labels):
        raise DataError(f"{len(xs)} newswires but {len(labels)} labels", file)
    order = np.arange(len(xs))
    np.random.RandomState(seed).shuffle(order)
    flat, lengths = _flatten(list(xs[order]))
    flat, lengths, labels, _ = encode_word_ids(
        flat, lengths, np.asarray(labels)[order].astype(np.int64), num_words=num_words,
        skip_top=skip_top, maxlen=maxlen, start_char=start_char, oov_char=oov_char,
        index_from=index_from)
    xs = _unflatten(flat, lengths)
    split = int(len(xs) * (1 - test_split))
    return (xs[:split], labels[:split]), (xs[split:], labels[split:])


def get_word_index(path: str = "reuters_word_index.json", progress: Progress | None = None
                   ) -> dict[str, int]:
    """Keras's word → index map of the Reuters data (add ``index_from`` to match)."""
    file = fetch(path, BASE + "reuters_word_index.json", WORD_INDEX_MD5, progress=progress,
                 offline_hint=OFFLINE_HINT)
    return read_word_index(file)


def get_label_names() -> tuple[str, ...]:
    """The 46 topic names, in label order."""
    return LABEL_NAMES
