"""The seed CNN that reads image folders at 150×150×3: Conv2D 32 3×3 relu → MaxPooling 2 →
Conv2D 64 3×3 relu → MaxPooling 2 → Flatten → Dense 64 relu → Dense 10 softmax; adam;
batch 32; 320 random images per epoch (in memory: the decoding is bench/data_throughput.py's)."""
from __future__ import annotations

from bench.workloads.harness import compare, engine_rates, random_images

BATCH = 32
SAMPLES = 320
SHAPE = (150, 150, 3)

TWINS = {
    "torch": r"""
x = torch.from_numpy(d["x"]).permute(0, 3, 1, 2).contiguous(); y = torch.from_numpy(d["y"])
model = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                      nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36 * 36 * 64, 64),
                      nn.ReLU(), nn.Linear(64, 10))
lossf = nn.CrossEntropyLoss()
""",
    "keras": r"""
model = keras.Sequential([keras.Input((150, 150, 3)), L.Conv2D(32, (3, 3), activation="relu"),
    L.MaxPooling2D((2, 2)), L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
    L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
""",
}


def build_engine():
    from engine.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from engine.models import Sequential
    model = Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=SHAPE),
                        MaxPooling2D((2, 2)), Conv2D(64, (3, 3), activation="relu"),
                        MaxPooling2D((2, 2)), Flatten(), Dense(64, activation="relu"),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main_results(epochs: int, peers) -> dict:
    x, y = random_images(SAMPLES, SHAPE, 10)
    return compare(build_engine, x, y, BATCH, epochs, TWINS, peers)


def train_for_memory() -> None:
    """Two epochs of 64 images at batch 32 (the data is 8.6 MB; the rest is the training)."""
    x, y = random_images(64, SHAPE, 10)
    engine_rates(build_engine, x, y, BATCH, 1)
