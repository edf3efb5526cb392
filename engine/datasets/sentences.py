"""The bundled real text data set: 3,000 labelled review sentences (offline, no download).

UCI "Sentiment Labelled Sentences" (Kotzias et al., KDD 2015): 1,000 sentences each from IMDB,
Amazon and Yelp reviews, 500 positive (1) and 500 negative (0) per site. The stand-in for
``imdb.load_data`` when there is no network: tokenize with
``engine.preprocessing.text.Tokenizer`` and pad with ``engine.preprocessing.sequence``.
"""
from __future__ import annotations

import numpy as np

from engine.data.errors import DataError
from engine.datasets.bundled import SENTENCE_CLASSES, SENTENCE_SOURCES, sentence_texts

CLASS_NAMES = SENTENCE_CLASSES


def load_data(test_fraction: float = 0.2, seed: int = 0,
              sources=SENTENCE_SOURCES):
    """``((x_train, y_train), (x_test, y_test))``: texts as object arrays of ``str``, labels
    int64 (0 negative, 1 positive). The sentences of ``sources`` are shuffled with ``seed``
    (``numpy.random.default_rng(seed).permutation``) and the last ``test_fraction`` of them
    is the test set: 2,400 train and 600 test sentences by default."""
    if not 0.0 <= float(test_fraction) < 1.0:
        raise DataError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    texts, labels = sentence_texts(sources)
    x = np.array(texts, dtype=object)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(len(x) * (1.0 - float(test_fraction)))
    train, test = order[:cut], order[cut:]
    return (x[train], labels[train]), (x[test], labels[test])
