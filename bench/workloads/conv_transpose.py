"""Keras's convolutional denoising autoencoder (keras-io examples/vision/autoencoder.py) on
28×28×1 MNIST: Conv2D 32 3×3 'same' relu → MaxPooling 2 'same', twice → Conv2DTranspose 32 3×3
stride 2 'same' relu, twice → Conv2D 1 3×3 'same' sigmoid; adam, binary crossentropy against
the input; batch 128; 3,200 images per epoch."""
from __future__ import annotations

from bench.workloads.harness import compare, engine_rates

BATCH = 128
SAMPLES = 3200

TWINS = {
    "torch": r"""
x = torch.from_numpy(d["x"]).permute(0, 3, 1, 2).contiguous(); y = x
model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.ConvTranspose2d(32, 32, 3, 2, 1, 1), nn.ReLU(),
                      nn.ConvTranspose2d(32, 32, 3, 2, 1, 1), nn.ReLU(),
                      nn.Conv2d(32, 1, 3, padding=1))
lossf = nn.BCEWithLogitsLoss()
""",
    "keras": r"""
model = keras.Sequential([keras.Input((28, 28, 1)),
    L.Conv2D(32, (3, 3), activation="relu", padding="same"), L.MaxPooling2D((2, 2), padding="same"),
    L.Conv2D(32, (3, 3), activation="relu", padding="same"), L.MaxPooling2D((2, 2), padding="same"),
    L.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same"),
    L.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same"),
    L.Conv2D(1, (3, 3), activation="sigmoid", padding="same")])
model.compile("adam", "binary_crossentropy")
""",
}


def build_engine():
    from engine.layers import Conv2D, Conv2DTranspose, MaxPooling2D
    from engine.models import Sequential
    model = Sequential([
        Conv2D(32, (3, 3), activation="relu", padding="same", input_shape=(28, 28, 1)),
        MaxPooling2D((2, 2), padding="same"),
        Conv2D(32, (3, 3), activation="relu", padding="same"),
        MaxPooling2D((2, 2), padding="same"),
        Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same"),
        Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same"),
        Conv2D(1, (3, 3), activation="sigmoid", padding="same")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def _data():
    from bench.workloads.mnist_data import load_mnist
    x, _ = load_mnist(SAMPLES)
    return x[..., None], x[..., None]


def main_results(epochs: int, peers) -> dict:
    x, y = _data()
    return compare(build_engine, x, y, BATCH, epochs, TWINS, peers)


def train_for_memory() -> None:
    x, y = _data()
    engine_rates(build_engine, x, y, BATCH, 1)
