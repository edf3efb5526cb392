"""A residual block on 32×32×3: Conv2D 32 3×3 'same' → BatchNormalization → relu, twice (the
second convolution reads 32 channels), + Add of the two relu outputs → GlobalAveragePooling2D
→ Dense 10 softmax; adam; batch 32; 3,200 random images per epoch."""
from __future__ import annotations

from bench.workloads.harness import image_memory, image_results

BATCH = 32
SAMPLES = 3200

TWINS = {
    "torch": r"""
x = torch.from_numpy(d["x"]).permute(0, 3, 1, 2).contiguous(); y = torch.from_numpy(d["y"])
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 32, 3, padding=1); self.b1 = nn.BatchNorm2d(32, eps=1e-3, momentum=0.01)
        self.c2 = nn.Conv2d(32, 32, 3, padding=1); self.b2 = nn.BatchNorm2d(32, eps=1e-3, momentum=0.01)
        self.out = nn.Linear(32, 10)
    def forward(self, v):
        a = F.relu(self.b1(self.c1(v))); b = F.relu(self.b2(self.c2(a)))
        return self.out((a + b).mean(dim=(2, 3)))
model = Net(); lossf = nn.CrossEntropyLoss()
""",
    "keras": r"""
inp = keras.Input((32, 32, 3))
a = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(32, 3, padding="same")(inp)))
b = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(32, 3, padding="same")(a)))
out = L.Dense(10, activation="softmax")(L.GlobalAveragePooling2D()(L.Add()([a, b])))
model = keras.Model(inp, out)
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
""",
}


def build_engine():
    from engine import Input
    from engine.layers import (
        Activation,
        Add,
        BatchNormalization,
        Conv2D,
        Dense,
        GlobalAveragePooling2D,
    )
    from engine.models import Model
    inp = Input((32, 32, 3))
    a = Activation("relu")(BatchNormalization()(Conv2D(32, 3, padding="same")(inp)))
    b = Activation("relu")(BatchNormalization()(Conv2D(32, 3, padding="same")(a)))
    out = Dense(10, activation="softmax")(GlobalAveragePooling2D()(Add()([a, b])))
    model = Model(inp, out)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main_results(epochs: int, peers) -> dict:
    return image_results(build_engine, SAMPLES, (32, 32, 3), BATCH, epochs, TWINS, peers)


def train_for_memory() -> None:
    image_memory(build_engine, SAMPLES, (32, 32, 3), BATCH)
