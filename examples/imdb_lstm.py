"""The seed tutorial's IMDB LSTM, with only the imports (and the data loading) changed from Keras.

Data: the bundled real review sentences (UCI "Sentiment Labelled Sentences": 3,000 sentences from
IMDB, Amazon and Yelp, positive/negative), tokenized with Tokenizer(num_words=10000) in place of
``imdb.load_data(num_words=10000)``; a fixed 80/20 split (seed 0): 2,400 train, 600 test.
Run: .venv/bin/python examples/imdb_lstm.py [--epochs N]
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.layers import LSTM, Dense, Embedding  # noqa: E402  (was: from keras.layers import ...)
from engine.models import Sequential  # noqa: E402  (was: from keras.models import Sequential)
from engine.preprocessing.sequence import pad_sequences  # noqa: E402  (was: keras.preprocessing...)
from engine.preprocessing.text import Tokenizer  # noqa: E402

import numpy as np  # noqa: E402  (after engine, which sets OpenBLAS's thread options first)

FILES = ("imdb_labelled.txt", "amazon_cells_labelled.txt", "yelp_labelled.txt")


def read_sentences() -> tuple[list[str], np.ndarray]:
    """The bundled sentences and 0/1 labels. Lines end in '\\n' only (the IMDB file holds U+0085,
    which str.splitlines() would split on) and the label follows the line's last tab."""
    folders = [ROOT / "resources" / "data" / "sentences", ROOT.parent / "shared" / "data" / "text"]
    folder = next((f for f in folders if (f / FILES[0]).is_file()), None)
    if folder is None:
        sys.exit(f"the bundled sentences are missing (looked in {', '.join(map(str, folders))})")
    texts, labels = [], []
    for name in FILES:
        for line in (folder / name).read_text(encoding="utf-8").split("\n"):
            if line.strip():
                text, _, label = line.rpartition("\t")
                texts.append(text.strip())
                labels.append(int(label))
    return texts, np.array(labels, dtype="float32")


def load_data(num_words: int, test_fraction: float = 0.2, seed: int = 0):
    """Keras's imdb.load_data return structure: lists of word-id lists and labels."""
    texts, labels = read_sentences()
    order = np.random.default_rng(seed).permutation(len(texts))
    cut = int(len(texts) * (1 - test_fraction))
    train, test = order[:cut], order[cut:]
    tokenizer = Tokenizer(num_words=num_words)
    tokenizer.fit_on_texts([texts[i] for i in train])
    to_ids = tokenizer.texts_to_sequences
    return ((to_ids([texts[i] for i in train]), labels[train]),
            (to_ids([texts[i] for i in test]), labels[test]))


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

# Load the data set
(x_train, y_train), (x_test, y_test) = load_data(num_words=10000)

# Preprocess the data
x_train = pad_sequences(x_train, maxlen=200)
x_test = pad_sequences(x_test, maxlen=200)

# Build the model
model = Sequential()
model.add(Embedding(10000, 128))
model.add(LSTM(128))
model.add(Dense(1, activation="sigmoid"))

# Compile the model
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

# Train the model
model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=2)

# Evaluate the model
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f} on {len(x_test)} sentences")
