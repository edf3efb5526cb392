"""A deeper CIFAR-10 CNN, VGG-style: four blocks of Conv2D 3×3 'same' relu → MaxPooling 2 with
32, 64, 128 and 256 filters (32×32 down to 2×2), Flatten → Dense 10 softmax; adam; batch 32;
1,600 random 32×32×3 images per epoch. Its deep layers (many channels on small images) are the
ones engine/layers/conv.py runs by Winograd's F(2×2, 3×3) (WINOGRAD_*; their weight gradients as
im2col + sgemm)."""
from __future__ import annotations

from bench.workloads.harness import image_memory, image_results

BATCH = 32
SAMPLES = 1600
FILTERS = (32, 64, 128, 256)

TWINS = {
    "torch": r"""
x = torch.from_numpy(d["x"]).permute(0, 3, 1, 2).contiguous(); y = torch.from_numpy(d["y"])
blocks = []
for cin, cout in zip((3, 32, 64, 128), (32, 64, 128, 256)):
    blocks += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
model = nn.Sequential(*blocks, nn.Flatten(), nn.Linear(2 * 2 * 256, 10))
lossf = nn.CrossEntropyLoss()
""",
    "keras": r"""
blocks = []
for f in (32, 64, 128, 256):
    blocks += [L.Conv2D(f, (3, 3), padding="same", activation="relu"), L.MaxPooling2D((2, 2))]
model = keras.Sequential([keras.Input((32, 32, 3))] + blocks
                         + [L.Flatten(), L.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
""",
}


def build_engine():
    from engine.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from engine.models import Sequential
    layers = []
    for k, f in enumerate(FILTERS):
        extra = {"input_shape": (32, 32, 3)} if k == 0 else {}
        layers += [Conv2D(f, (3, 3), padding="same", activation="relu", **extra),
                   MaxPooling2D((2, 2))]
    model = Sequential(layers + [Flatten(), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main_results(epochs: int, peers) -> dict:
    return image_results(build_engine, SAMPLES, (32, 32, 3), BATCH, epochs, TWINS, peers)


def train_for_memory() -> None:
    image_memory(build_engine, SAMPLES, (32, 32, 3), BATCH)
