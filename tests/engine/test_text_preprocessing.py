"""pad_sequences, Tokenizer and TextVectorization, checked against what Keras 3 returns."""
import json
from pathlib import Path

import numpy as np
import pytest

from engine.preprocessing.sequence import pad_sequences
from engine.preprocessing.text import (TextVectorization, Tokenizer, text_to_word_sequence,
                                       tokenizer_from_json)

FIX = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "keras" /
                  "text_preprocessing.json").read_text())


@pytest.mark.parametrize("case", FIX["tokenizers"], ids=lambda c: str(c["kwargs"]) or "default")
def test_tokenizer_matches_keras(case):
    tok = Tokenizer(**case["kwargs"])
    tok.fit_on_texts(FIX["texts"])
    assert tok.word_index == case["word_index"]
    seqs = tok.texts_to_sequences(FIX["texts"] + ["unseen words and the cat"])
    assert seqs == case["sequences"]
    assert tok.sequences_to_texts(seqs) == case["texts_back"]
    for mode, want in case["matrix"].items():
        np.testing.assert_allclose(tok.texts_to_matrix(FIX["texts"][:3], mode=mode), want)


@pytest.mark.parametrize("case", FIX["pad"], ids=lambda c: str(c["kwargs"]))
def test_pad_sequences_matches_keras(case):
    got = pad_sequences([[1, 2, 3], [4, 5], [], [6, 7, 8, 9, 10]], **case["kwargs"])
    np.testing.assert_array_equal(got, case["result"])
    assert got.dtype == np.dtype(case["kwargs"].get("dtype", "int32"))


def test_pad_sequences_of_vectors_and_edge_cases():
    seqs = [np.ones((2, 3)), np.zeros((4, 3))]
    assert pad_sequences(seqs, dtype="float32").shape == (2, 4, 3)
    assert pad_sequences([], maxlen=5).shape == (0, 5)
    assert pad_sequences([[1, 2]], maxlen=0).shape == (1, 0)
    np.testing.assert_array_equal(pad_sequences(np.array([[1, 2, 3]]), maxlen=2), [[2, 3]])


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match="'padding' must be 'pre' or 'post', got 'middle'"):
        pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match="'truncating' must be"):
        pad_sequences([[1]], truncating="both")
    with pytest.raises(ValueError, match="item 1 is not one: 5"):
        pad_sequences([[1], 5])
    with pytest.raises(ValueError, match="sequence 0 is text .*texts_to_sequences"):
        pad_sequences(["hello world"])
    with pytest.raises(ValueError, match="use dtype=object"):
        pad_sequences([[1]], value="x")
    with pytest.raises(ValueError, match="elements of sequence 1 have shape"):
        pad_sequences([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="'maxlen' must be a non-negative integer"):
        pad_sequences([[1]], maxlen=-1)


def test_tokenizer_json_roundtrip_and_options():
    tok = Tokenizer(num_words=4, oov_token="?")
    tok.fit_on_texts(FIX["texts"])
    again = tokenizer_from_json(tok.to_json())
    assert again.word_index == tok.word_index and again.index_word == tok.index_word
    assert again.texts_to_sequences(["the cat ran"]) == tok.texts_to_sequences(["the cat ran"])
    assert again.word_counts["the"] == 4 and again.document_count == len(FIX["texts"])
    assert text_to_word_sequence("Hello, World!") == ["hello", "world"]
    listed = Tokenizer()
    listed.fit_on_texts([["A", "b"], ["a"]])         # pre-split texts
    assert listed.word_index == {"a": 1, "b": 2}


def test_tokenizer_errors():
    tok = Tokenizer()
    with pytest.raises(ValueError, match="no vocabulary yet; call fit_on_texts"):
        tok.texts_to_sequences(["a b"])
    with pytest.raises(ValueError, match=r"got one string .* wrap it in a list"):
        tok.fit_on_texts("a whole text")
    with pytest.raises(ValueError, match="each text must be a string"):
        tok.fit_on_texts([1, 2])
    tok.fit_on_texts(["a b"])
    with pytest.raises(ValueError, match="mode must be one of"):
        tok.texts_to_matrix(["a"], mode="onehot")
    with pytest.raises(ValueError, match="num_words must be a positive integer"):
        Tokenizer(num_words=0)
    with pytest.raises(ValueError, match="not a Tokenizer JSON"):
        tokenizer_from_json('{"config": {}}')


def test_text_vectorization():
    texts = ["The cat sat.", "the cat ran", "A dog!"]
    tv = TextVectorization(max_tokens=5, output_sequence_length=4)
    tv.adapt(texts)
    assert tv.get_vocabulary() == ["", "[UNK]", "the", "cat", "sat"]
    np.testing.assert_array_equal(tv(["the dog sat", "cat"]), [[2, 1, 4, 0], [3, 0, 0, 0]])
    assert tv(["the cat sat on the mat today"]).shape == (1, 4)          # truncated at the end
    assert tv("cat").tolist() == [3, 0, 0, 0]
    free = TextVectorization()
    free.adapt(texts)
    assert free(["a dog", "the cat sat"]).shape == (2, 3)             # padded to the longest
    again = TextVectorization.from_config(json.loads(json.dumps(tv.get_config())))
    np.testing.assert_array_equal(again(texts), tv(texts))
    chars = TextVectorization(split="character", standardize="lower")
    chars.adapt(["abba"])
    assert chars.get_vocabulary()[2:] == ["a", "b"] and chars.vocabulary_size() == 4


def test_text_vectorization_errors():
    with pytest.raises(ValueError, match="no vocabulary yet; call adapt"):
        TextVectorization()(["a"])
    with pytest.raises(ValueError, match="max_tokens must be an integer >= 3"):
        TextVectorization(max_tokens=2)
    with pytest.raises(ValueError, match="standardize must be one of"):
        TextVectorization(standardize="upper")
    with pytest.raises(ValueError, match="lists 'a' twice"):
        TextVectorization(vocabulary=["a", "b", "a"])
    with pytest.raises(ValueError, match="custom split function cannot be saved"):
        TextVectorization(split=str.split).get_config()
