"""The real data bundled with LayerLoom in ``resources/data`` (no network needed).

``mnist_subset()``: the first 24,000 MNIST training images and the official 10,000 test images,
uint8 (N, 28, 28), with Keras's ``mnist.load_data()`` return structure.
``sentences()``: 3,000 real review sentences labelled 0/1 (UCI "Sentiment Labelled Sentences",
Kotzias et al., KDD 2015), tokenized to int32 sequences of 40 tokens, 80/20 split (seed 0).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

RESOURCES = Path(__file__).resolve().parents[2] / "resources" / "data"


def mnist_subset():
    path = RESOURCES / "mnist_subset.npz"
    if not path.is_file():
        raise FileNotFoundError(f"the bundled MNIST subset is missing: {path}")
    with np.load(path, allow_pickle=False) as d:
        return (d["x_train"], d["y_train"]), (d["x_test"], d["y_test"])


SENTENCE_FILES = ("imdb_labelled.txt", "amazon_cells_labelled.txt", "yelp_labelled.txt")


def sentence_texts() -> tuple[list[str], np.ndarray]:
    """The raw sentences and labels. Lines split on "\n" only (the IMDB file holds U+0085,
    which str.splitlines() treats as a break) and each line on its last tab."""
    texts, labels = [], []
    for name in SENTENCE_FILES:
        path = RESOURCES / "sentences" / name
        if not path.is_file():
            raise FileNotFoundError(f"the bundled sentences are missing: {path}")
        for k, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
            if not line.strip():
                continue
            text, sep, label = line.rstrip("\r").rpartition("\t")
            if not sep or label.strip() not in ("0", "1"):
                raise ValueError(f"{path}, line {k}: expected 'sentence<TAB>0|1'")
            texts.append(text.strip())
            labels.append(int(label))
    return texts, np.array(labels, dtype=np.int64)


def sentences(num_words: int = 10000, maxlen: int = 40, seed: int = 0):
    """((x_train, y_train), (x_test, y_test)) as int32 token ids (0 = padding, 1 = unknown)."""
    from engine.preprocessing.text import TextVectorization
    texts, labels = sentence_texts()
    order = np.random.default_rng(seed).permutation(len(texts))
    cut = int(len(texts) * 0.8)
    train, test = order[:cut], order[cut:]
    vec = TextVectorization(max_tokens=num_words, output_sequence_length=maxlen)
    vec.adapt([texts[i] for i in train])
    x = np.asarray(vec([texts[i] for i in order]), dtype=np.int32)
    return (x[:cut], labels[train]), (x[cut:], labels[test])


NAMES = {"mnist": mnist_subset, "sentences": sentences}
