"""The seed tutorial's CIFAR-10 CNN, with only the imports changed from Keras.

Data: CIFAR-10 through engine.datasets.cifar10 (downloaded once into the data set cache, 163 MB,
sha256-checked); offline and without a cached copy, random images with CIFAR-10's shapes, so the script still shows the model training end to end.
It says which one it used. Pass --epochs N to change the seed's 10 epochs.
Run: .venv/bin/python examples/cifar10_cnn.py [--epochs 1] [--limit 2000]
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine as keras  # noqa: E402  (was: import keras)
from engine.layers import Conv2D, Dense, Flatten, MaxPooling2D  # noqa: E402  (keras.layers)
from engine.models import Sequential  # noqa: E402  (was: keras.models)
import engine.utils  # noqa: E402,F401  (keras.utils)


def load_data():
    try:
        from engine.datasets import cifar10
        return cifar10.load_data(), "CIFAR-10"
    except OSError as e:  # no cached copy and no network (DatasetUnavailableError), or damaged
        print(f"CIFAR-10 is not available here ({type(e).__name__}: {e}); "
              f"training on RANDOM images with CIFAR-10's shapes instead")
        r = np.random.default_rng(0)
        return ((r.integers(0, 256, (5000, 32, 32, 3), dtype=np.uint8), r.integers(0, 10, (5000, 1))),
                (r.integers(0, 256, (1000, 32, 32, 3), dtype=np.uint8), r.integers(0, 10, (1000, 1)))), \
            "random stand-in data"


ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=10)
ap.add_argument("--limit", type=int, default=None, help="use only the first N training images")
args = ap.parse_args()

((x_train, y_train), (x_test, y_test)), source = load_data()
if args.limit:
    x_train, y_train = x_train[:args.limit], y_train[:args.limit]
x_train = x_train.astype('float32') / 255
x_test = x_test.astype('float32') / 255
y_train = keras.utils.to_categorical(y_train, 10)
y_test = keras.utils.to_categorical(y_test, 10)

model = Sequential()
model.add(Conv2D(32, (3, 3), activation='relu', input_shape=(32, 32, 3)))
model.add(MaxPooling2D((2, 2)))
model.add(Conv2D(64, (3, 3), activation='relu'))
model.add(MaxPooling2D((2, 2)))
model.add(Flatten())
model.add(Dense(10, activation='softmax'))
model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=2)
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"data: {source}; test accuracy {accuracy:.4f}")
