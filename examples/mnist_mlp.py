"""The seed tutorial's MLP on real MNIST, with only the imports changed from Keras.

Data: the bundled real MNIST subset (resources/data/mnist_subset.npz: the first 24,000 training
images and the official 10,000 test images). Keras 3.15 on this same script and data: 96.4-96.7%.
Run: .venv/bin/python examples/mnist_mlp.py
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.layers import Dense, Flatten  # noqa: E402  (was: from keras.layers import ...)
from engine.models import Sequential  # noqa: E402  (was: from keras.models import Sequential)
from engine.utils import to_categorical  # noqa: E402  (was: from keras.utils import ...)


def load_data():
    bundled = Path(__file__).resolve().parents[1] / "resources" / "data" / "mnist_subset.npz"
    with np.load(bundled) as d:
        return (d["x_train"], d["y_train"]), (d["x_test"], d["y_test"])


(x_train, y_train), (x_test, y_test) = load_data()
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
y_train = to_categorical(y_train, 10)
y_test = to_categorical(y_test, 10)

model = Sequential()
model.add(Flatten(input_shape=(28, 28)))
model.add(Dense(128, activation="relu"))
model.add(Dense(10, activation="softmax"))
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.summary()
history = model.fit(x_train, y_train, epochs=5, batch_size=32, validation_split=0.1, verbose=2)
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print(f"test loss {loss:.4f}, test accuracy {acc:.4f} on {len(x_test)} images")
