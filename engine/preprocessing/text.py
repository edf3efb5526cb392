"""Text preprocessing: Keras's ``Tokenizer`` (``keras.preprocessing.text``) and a
``TextVectorization`` helper (Keras's layer of that name, as a plain object) that the app's text
data source uses to turn sentences into padded id arrays.

Both number words by frequency (most frequent first, ties in order of first appearance) and keep
id 0 for padding.
"""
from __future__ import annotations

import json
import re
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
MODES = ("binary", "count", "tfidf", "freq")


def text_to_word_sequence(input_text: str, filters: str = FILTERS, lower: bool = True,
                          split: str = " ") -> list[str]:
    """Words of ``input_text``: lowercased, the ``filters`` characters turned into ``split``."""
    if lower:
        input_text = input_text.lower()
    input_text = input_text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in input_text.split(split) if w]


def _texts(texts: Any, what: str) -> list:
    if isinstance(texts, (str, bytes)):
        raise ValueError(f"{what} expects a list of texts, got one string ({texts[:40]!r}); "
                         f"wrap it in a list: [text]")
    try:
        return list(texts)
    except TypeError:
        raise ValueError(f"{what} expects a list of texts, got {type(texts).__name__}") from None


class Tokenizer:
    """Keras's Tokenizer: builds a word index from texts and turns texts into id sequences.

    ``num_words``: only the ``num_words − 1`` most frequent words are used (ids below
    ``num_words``); ``oov_token``: a word (id 1) that stands for every unknown word;
    ``char_level``: every character is a token.
    """

    def __init__(self, num_words: int | None = None, filters: str = FILTERS, lower: bool = True,
                 split: str = " ", char_level: bool = False, oov_token: str | None = None,
                 analyzer: Callable[[str], list[str]] | None = None,
                 document_count: int = 0) -> None:
        if num_words is not None and (not isinstance(num_words, int) or num_words < 1):
            raise ValueError(f"Tokenizer: num_words must be a positive integer or None, "
                             f"got {num_words!r}")
        self.num_words = num_words
        self.filters = filters
        self.lower = lower
        self.split = split
        self.char_level = char_level
        self.oov_token = oov_token
        self.analyzer = analyzer
        self.document_count = document_count
        self.word_counts: OrderedDict[str, int] = OrderedDict()
        self.word_docs: defaultdict[str, int] = defaultdict(int)
        self.index_docs: defaultdict[int, int] = defaultdict(int)
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}

    # ------------------------------------------------------------------ fitting
    def _tokens(self, text) -> list[str]:
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return list(text)
        if not isinstance(text, str):
            raise ValueError(f"Tokenizer: each text must be a string (or a list of words), got "
                             f"{type(text).__name__}: {text!r:.40}")
        if self.analyzer is not None:
            return self.analyzer(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts: Iterable) -> None:
        """Counts the words of ``texts`` and (re)builds ``word_index``."""
        for text in _texts(texts, "Tokenizer.fit_on_texts"):
            self.document_count += 1
            seq = self._tokens(text)
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(seq):
                self.word_docs[w] += 1
        by_count = sorted(self.word_counts.items(), key=lambda kv: -kv[1])  # stable: ties in order
        vocab = ([] if self.oov_token is None else [self.oov_token]) + [w for w, _ in by_count]
        self.word_index = {w: i for i, w in enumerate(vocab, start=1)}
        self.index_word = {i: w for w, i in self.word_index.items()}
        for w, c in self.word_docs.items():
            self.index_docs[self.word_index[w]] = c

    def fit_on_sequences(self, sequences: Iterable) -> None:
        """Counts documents per id (for ``mode="tfidf"``) from id sequences."""
        sequences = list(sequences)
        self.document_count += len(sequences)
        for seq in sequences:
            for i in set(seq):
                self.index_docs[i] += 1

    def _require_fitted(self, what: str) -> None:
        if not self.word_index:
            raise ValueError(f"Tokenizer.{what}: the tokenizer has no vocabulary yet; call "
                             f"fit_on_texts(texts) first")

    # ------------------------------------------------------------------ converting
    def texts_to_sequences(self, texts: Iterable) -> list[list[int]]:
        """Each text as a list of word ids (unknown words dropped, or the oov id)."""
        return list(self.texts_to_sequences_generator(texts))

    def texts_to_sequences_generator(self, texts: Iterable):
        self._require_fitted("texts_to_sequences")
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        for text in _texts(texts, "Tokenizer.texts_to_sequences"):
            ids = []
            for w in self._tokens(text):
                i = self.word_index.get(w)
                if i is not None and not (self.num_words and i >= self.num_words):
                    ids.append(i)
                elif oov is not None:
                    ids.append(oov)
            yield ids

    def sequences_to_texts(self, sequences: Iterable) -> list[str]:
        """Each id sequence back as text (words joined by spaces)."""
        return list(self.sequences_to_texts_generator(sequences))

    def sequences_to_texts_generator(self, sequences: Iterable):
        self._require_fitted("sequences_to_texts")
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        for seq in sequences:
            words = []
            for i in seq:
                word = self.index_word.get(int(i))
                if word is not None and not (self.num_words and i >= self.num_words):
                    words.append(word)
                elif oov is not None:
                    words.append(self.index_word[oov])
            yield " ".join(words)

    def texts_to_matrix(self, texts: Iterable, mode: str = "binary") -> np.ndarray:
        """(len(texts), num_words) bag-of-words matrix; mode binary, count, tfidf or freq."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences: Iterable, mode: str = "binary") -> np.ndarray:
        if mode not in MODES:
            raise ValueError(f"Tokenizer: mode must be one of {', '.join(MODES)}, got {mode!r}")
        if self.num_words:
            width = self.num_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise ValueError("Tokenizer.sequences_to_matrix: give num_words or call "
                             "fit_on_texts first")
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Tokenizer: mode 'tfidf' needs document counts; call fit_on_texts "
                             "or fit_on_sequences first")
        sequences = list(sequences)
        x = np.zeros((len(sequences), width))
        for row, seq in enumerate(sequences):
            counts = Counter(int(j) for j in seq if j < width)
            for j, c in counts.items():
                if mode == "count":
                    x[row, j] = c
                elif mode == "freq":
                    x[row, j] = c / len(seq)
                elif mode == "binary":
                    x[row, j] = 1
                else:   # tf-idf, weighting scheme 2: (1 + log tf) · log(1 + N / (1 + df))
                    x[row, j] = (1 + np.log(c)) * np.log(
                        1 + self.document_count / (1 + self.index_docs.get(j, 0)))
        return x

    # ------------------------------------------------------------------ saving
    def get_config(self) -> dict[str, Any]:
        return {"num_words": self.num_words, "filters": self.filters, "lower": self.lower,
                "split": self.split, "char_level": self.char_level, "oov_token": self.oov_token,
                "document_count": self.document_count,
                "word_counts": json.dumps(self.word_counts),
                "word_docs": json.dumps(self.word_docs),
                "index_docs": json.dumps(self.index_docs),
                "index_word": json.dumps(self.index_word),
                "word_index": json.dumps(self.word_index)}

    def to_json(self, **kwargs) -> str:
        """Keras's JSON form; read back with :func:`tokenizer_from_json`."""
        return json.dumps({"class_name": "Tokenizer", "config": self.get_config()}, **kwargs)


def tokenizer_from_json(json_string: str) -> Tokenizer:
    """A Tokenizer from :meth:`Tokenizer.to_json` output (also Keras's)."""
    try:
        config = dict(json.loads(json_string)["config"])
        tables = {k: json.loads(config.pop(k)) for k in
                  ("word_counts", "word_docs", "index_docs", "index_word", "word_index")}
        tokenizer = Tokenizer(**config)
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"tokenizer_from_json: not a Tokenizer JSON string ({e})") from None
    tokenizer.word_counts = OrderedDict(tables["word_counts"])
    tokenizer.word_docs = defaultdict(int, tables["word_docs"])
    tokenizer.index_docs = defaultdict(int, {int(k): v for k, v in tables["index_docs"].items()})
    tokenizer.index_word = {int(k): v for k, v in tables["index_word"].items()}
    tokenizer.word_index = tables["word_index"]
    return tokenizer


# ---------------------------------------------------------------------- TextVectorization
PUNCTUATION = re.compile(r"[!\"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~']")
PAD, OOV = "", "[UNK]"


class TextVectorization:
    """Keras's ``TextVectorization`` (output_mode "int") as a preprocessing object.

    ``adapt(texts)`` builds the vocabulary: ``""`` (padding, id 0), ``"[UNK]"`` (unknown words,
    id 1), then words by frequency, at most ``max_tokens`` entries in all. Calling it on texts
    gives an int64 array (len(texts), output_sequence_length): ids padded with 0 or truncated
    at the end; without ``output_sequence_length``, padded to the longest text.
    """

    STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
    SPLIT = ("whitespace", "character")

    def __init__(self, max_tokens: int | None = None,
                 standardize: str | Callable | None = "lower_and_strip_punctuation",
                 split: str | Callable | None = "whitespace",
                 output_sequence_length: int | None = None,
                 vocabulary: list[str] | None = None) -> None:
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 3):
            raise ValueError(f"TextVectorization: max_tokens must be an integer >= 3 (padding, "
                             f"[UNK] and at least one word) or None, got {max_tokens!r}")
        if isinstance(standardize, str) and standardize not in self.STANDARDIZE:
            raise ValueError(f"TextVectorization: standardize must be one of "
                             f"{', '.join(self.STANDARDIZE)}, None or a function, got "
                             f"{standardize!r}")
        if isinstance(split, str) and split not in self.SPLIT:
            raise ValueError(f"TextVectorization: split must be 'whitespace', 'character', None "
                             f"or a function, got {split!r}")
        if output_sequence_length is not None and (not isinstance(output_sequence_length, int)
                                                   or output_sequence_length < 1):
            raise ValueError(f"TextVectorization: output_sequence_length must be a positive "
                             f"integer or None, got {output_sequence_length!r}")
        self.max_tokens = max_tokens
        self.standardize = standardize
        self.split = split
        self.output_sequence_length = output_sequence_length
        self._vocab: list[str] = []
        self._index: dict[str, int] = {}
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    def tokens(self, text: str) -> list[str]:
        """The tokens of one text after standardization and splitting."""
        if not isinstance(text, str):
            raise ValueError(f"TextVectorization: each text must be a string, got "
                             f"{type(text).__name__}: {text!r:.40}")
        s = self.standardize
        if callable(s):
            text = s(text)
        elif s is not None:
            if s.startswith("lower"):
                text = text.lower()
            if s.endswith("strip_punctuation"):
                text = PUNCTUATION.sub("", text)
        if callable(self.split):
            return list(self.split(text))
        if self.split == "character":
            return list(text)
        if self.split is None:
            return [text]
        return text.split()

    def adapt(self, texts: Iterable[str]) -> None:
        """Builds the vocabulary from ``texts``."""
        counts: Counter[str] = Counter()
        for text in _texts(texts, "TextVectorization.adapt"):
            counts.update(self.tokens(text))
        counts.pop(PAD, None)
        counts.pop(OOV, None)
        words = [w for w, _ in sorted(counts.items(), key=lambda kv: -kv[1])]  # stable
        if self.max_tokens is not None:
            words = words[:self.max_tokens - 2]
        self.set_vocabulary([PAD, OOV] + words)

    def set_vocabulary(self, vocabulary: list[str]) -> None:
        """Uses ``vocabulary`` (with or without the leading "" and "[UNK]" entries)."""
        vocab = [str(w) for w in vocabulary]
        if vocab[:2] != [PAD, OOV]:
            vocab = [PAD, OOV] + [w for w in vocab if w not in (PAD, OOV)]
        twice = [w for w, c in Counter(vocab).items() if c > 1]
        if twice:
            raise ValueError(f"TextVectorization: the vocabulary lists {twice[0]!r} twice")
        self._vocab = vocab
        self._index = {w: i for i, w in enumerate(vocab)}

    def get_vocabulary(self) -> list[str]:
        return list(self._vocab)

    @property
    def vocabulary(self) -> list[str]:
        return self.get_vocabulary()

    def vocabulary_size(self) -> int:
        return len(self._vocab)

    def __call__(self, texts) -> np.ndarray:
        if not self._vocab:
            raise ValueError("TextVectorization: no vocabulary yet; call adapt(texts) first")
        single = isinstance(texts, str)
        rows = [[self._index.get(w, 1) for w in self.tokens(t)]
                for t in ([texts] if single else _texts(texts, "TextVectorization"))]
        length = self.output_sequence_length
        if length is None:
            length = max((len(r) for r in rows), default=0)
        out = np.zeros((len(rows), length), np.int64)
        for i, r in enumerate(rows):
            r = r[:length]
            out[i, :len(r)] = r
        return out[0] if single else out

    def get_config(self) -> dict[str, Any]:
        """JSON-serializable settings and vocabulary (standardize/split only by name)."""
        for arg in ("standardize", "split"):
            if callable(getattr(self, arg)):
                raise ValueError(f"TextVectorization: a custom {arg} function cannot be saved")
        return {"max_tokens": self.max_tokens, "standardize": self.standardize,
                "split": self.split, "output_sequence_length": self.output_sequence_length,
                "vocabulary": self.get_vocabulary() or None}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TextVectorization:
        return cls(**config)
