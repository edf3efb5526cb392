"""The seed tutorial's IMDB LSTM, with only the imports (and the data loading) changed from Keras.

Data: the bundled real review sentences (UCI "Sentiment Labelled Sentences": 3,000 sentences from
IMDB, Amazon and Yelp reviews, positive/negative) in place of ``imdb.load_data(num_words=10000)``:
a fixed 80/20 split (2,400 train, 600 test), tokenized with Tokenizer(num_words=10000) fitted on
the training sentences. Keras 3.15 on this same script and data: 78.0-80.5% test accuracy.
Run: .venv/bin/python examples/imdb_lstm.py [--epochs N]
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.datasets import sentences  # noqa: E402  (was: from keras.datasets import imdb)
from engine.layers import LSTM, Dense, Embedding  # noqa: E402  (was: from keras.layers import ...)
from engine.models import Sequential  # noqa: E402  (was: from keras.models import Sequential)
from engine.preprocessing.sequence import pad_sequences  # noqa: E402  (was: keras.preprocessing...)
from engine.preprocessing.text import Tokenizer  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

# Load the data set (imdb.load_data gives word ids; the bundled sentences are text)
(x_train, y_train), (x_test, y_test) = sentences.load_data()
tokenizer = Tokenizer(num_words=10000)
tokenizer.fit_on_texts(x_train)
x_train = tokenizer.texts_to_sequences(x_train)
x_test = tokenizer.texts_to_sequences(x_test)

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
