"""The seed CIFAR-10 CNN (examples/cifar10_cnn.py): Conv2D 32 3×3 relu → MaxPooling 2 →
Conv2D 64 3×3 relu → MaxPooling 2 → Flatten → Dense 10 softmax; adam; batch 32; 3,200 random
32×32×3 images per epoch (the speed does not depend on the pictures)."""
from __future__ import annotations

from bench.workloads.harness import image_memory, image_results

BATCH = 32
SAMPLES = 3200

TWINS = {
    "torch": r"""
x = torch.from_numpy(d["x"]).permute(0, 3, 1, 2).contiguous(); y = torch.from_numpy(d["y"])
model = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                      nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 6 * 64, 10))
lossf = nn.CrossEntropyLoss()
""",
    "keras": r"""
model = keras.Sequential([keras.Input((32, 32, 3)), L.Conv2D(32, (3, 3), activation="relu"),
    L.MaxPooling2D((2, 2)), L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
    L.Flatten(), L.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
""",
}


def build_engine():
    from engine.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from engine.models import Sequential
    model = Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=(32, 32, 3)),
                        MaxPooling2D((2, 2)), Conv2D(64, (3, 3), activation="relu"),
                        MaxPooling2D((2, 2)), Flatten(), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main_results(epochs: int, peers) -> dict:
    return image_results(build_engine, SAMPLES, (32, 32, 3), BATCH, epochs, TWINS, peers)


def train_for_memory() -> None:
    image_memory(build_engine, SAMPLES, (32, 32, 3), BATCH)
