"""The real data shipped with LayerLoom in ``resources/data`` (no network needed).

- ``mnist_subset()``: real MNIST — the first 24,000 training images and the official 10,000 test
  images, uint8 (N, 28, 28) with uint8 labels, in ``mnist.load_data()``'s return structure.
- ``sentence_texts(sources)``: the UCI "Sentiment Labelled Sentences" (Kotzias et al., KDD
  2015): 1,000 review sentences each from IMDB, Amazon and Yelp, labelled 0 (negative) /
  1 (positive); ``sentences(...)`` gives them as token ids, ready for an Embedding layer.

The resources folder sits next to the ``engine`` package: ``<repo>/resources/data``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import engine
from engine.data.errors import DataError

RESOURCES = Path(engine.__file__).resolve().parent.parent / "resources"
DATA = RESOURCES / "data"
SENTENCE_FILES = {"imdb": "imdb_labelled.txt", "amazon": "amazon_cells_labelled.txt",
                  "yelp": "yelp_labelled.txt"}
SENTENCE_SOURCES = tuple(SENTENCE_FILES)
SENTENCE_CLASSES = ["negative", "positive"]
MNIST_CLASSES = [str(i) for i in range(10)]


def mnist_subset():
    """``((x_train, y_train), (x_test, y_test))``: 24,000 + 10,000 real MNIST digits, uint8."""
    path = DATA / "mnist_subset.npz"
    if not path.is_file():
        raise DataError("the bundled MNIST subset is missing (reinstall LayerLoom)", path)
    with np.load(path, allow_pickle=False) as d:
        return (d["x_train"], d["y_train"]), (d["x_test"], d["y_test"])


def read_sentence_file(path: Path) -> tuple[list[str], list[int]]:
    """Sentences and 0/1 labels of one ``sentence<TAB>label`` file. Lines are split on "\\n"
    only (the IMDB file holds U+0085 inside sentences, which ``str.splitlines`` would break
    on), each line on its last tab; no quoting (the IMDB file has unbalanced quotes)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError("the bundled sentences are missing (reinstall LayerLoom)", path) \
            from None
    texts, labels = [], []
    for n, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        sentence, tab, label = line.rpartition("\t")
        if not tab or label.strip() not in ("0", "1"):
            raise DataError(f"expected 'sentence<TAB>0 or 1', got {line[-30:]!r}", path, n)
        texts.append(sentence.strip(" \t"))
        labels.append(int(label))
    return texts, labels


def sentence_texts(sources=SENTENCE_SOURCES) -> tuple[list[str], np.ndarray]:
    """``(texts, labels int64)`` of the bundled review sentences from ``sources`` (in order)."""
    if isinstance(sources, str):
        sources = (sources,)
    texts, labels = [], []
    for name in sources:
        if name not in SENTENCE_FILES:
            raise DataError(f"no bundled sentences from {name!r}; sources: "
                            f"{', '.join(SENTENCE_FILES)}")
        t, y = read_sentence_file(DATA / "sentences" / SENTENCE_FILES[name])
        texts += t
        labels += y
    return texts, np.array(labels, dtype=np.int64)


def _sentence_ids(sources, num_words: int, maxlen: int, seed: int):
    """(token ids in shuffled order, labels in that order, the split point, the adapted
    TextVectorization) of the bundled sentences."""
    from engine.preprocessing.text import TextVectorization
    texts, labels = sentence_texts(sources)
    order = np.random.default_rng(seed).permutation(len(texts))
    cut = int(len(texts) * 0.8)
    vec = TextVectorization(max_tokens=num_words, output_sequence_length=maxlen)
    vec.adapt([texts[i] for i in order[:cut]])
    x = np.asarray(vec([texts[i] for i in order]), dtype=np.int32)
    return x, labels[order], cut, vec


def sentences(sources=SENTENCE_SOURCES, num_words: int = 10000, maxlen: int = 40,
              seed: int = 0):
    """``((x_train, y_train), (x_test, y_test))``: the sentences as int32 token ids (0 padding,
    1 unknown word; ``TextVectorization(max_tokens=num_words, output_sequence_length=maxlen)``
    adapted on the training sentences), shuffled with ``seed`` and split 80/20."""
    x, y, cut, _ = _sentence_ids(sources, num_words, maxlen, seed)
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def load(name: str) -> dict:
    """A bundled data set by name: ``x``, ``y``, ``x_test``, ``y_test``, ``class_names`` and
    ``images`` (True for pixels, which a data source scales to [0, 1]; False for token ids,
    which stay integers); text also has its ``vocabulary`` (id → word, to encode new text)."""
    if name == "mnist":
        (x, y), (xt, yt) = mnist_subset()
        return {"x": x, "y": y, "x_test": xt, "y_test": yt, "class_names": MNIST_CLASSES,
                "images": True}
    if name == "sentences":
        x, y, cut, vec = _sentence_ids(SENTENCE_SOURCES, 10000, 40, 0)
        return {"x": x[:cut], "y": y[:cut], "x_test": x[cut:], "y_test": y[cut:],
                "class_names": SENTENCE_CLASSES, "images": False,
                "vocabulary": vec.get_vocabulary()}
    raise DataError(f"no bundled data set named {name!r}; bundled: {', '.join(NAMES)}")


NAMES = {"mnist": mnist_subset, "sentences": sentences}
