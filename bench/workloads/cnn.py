"""Seed MNIST CNN workload: Conv2D 32 3×3 relu → MaxPooling 2 → Dropout .25 → Flatten →
Dense 128 relu → Dropout .5 → Dense 10 softmax; adam; batch 128."""
from __future__ import annotations

import time

import numpy as np

from bench.workloads.peers import median, run_peer

IDLE_TARGET = 2.0      # issue 16: engine / best peer on an idle machine
BATCH = 128

TORCH = r"""
import json, os, time, numpy as np, torch
torch.set_num_threads(int(os.environ["THREADS"]))
d = np.load(os.environ["DATA"]); x = torch.from_numpy(d["x"]).reshape(-1, 1, 28, 28); y = torch.from_numpy(d["y"])
nn = torch.nn
model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
                      nn.Linear(5408, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3); lossf = nn.CrossEntropyLoss()
B = int(d["batch"]); n = len(x); rates = []
for epoch in range(int(d["epochs"]) + 1):
    t = time.perf_counter(); perm = torch.randperm(n)
    for i in range(0, n, B):
        idx = perm[i:i + B]; opt.zero_grad(); loss = lossf(model(x[idx]), y[idx]); loss.backward(); opt.step()
    if epoch: rates.append(n / (time.perf_counter() - t))
print(json.dumps({"rates": rates, "version": torch.__version__}))
"""

KERAS = r"""
import json, os, time, numpy as np, keras
from keras import layers as L
d = np.load(os.environ["DATA"]); x, y = d["x"][..., None], d["y"]
model = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
    L.Dropout(0.25), L.Flatten(), L.Dense(128, activation="relu"), L.Dropout(0.5), L.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
class T(keras.callbacks.Callback):
    def on_epoch_begin(self, e, logs=None): self.t = time.perf_counter()
    def on_epoch_end(self, e, logs=None): rates.append(len(x) / (time.perf_counter() - self.t))
rates = []
model.fit(x, y, batch_size=int(d["batch"]), epochs=int(d["epochs"]) + 1, verbose=0, callbacks=[T()])
print(json.dumps({"rates": rates[1:], "version": keras.__version__}))
"""


def build_engine_cnn():
    from engine.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
    from engine.models import Sequential
    model = Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
                        MaxPooling2D((2, 2)), Dropout(0.25), Flatten(),
                        Dense(128, activation="relu"), Dropout(0.5),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def engine_cnn(x: np.ndarray, y: np.ndarray, epochs: int = 3) -> dict:
    model = build_engine_cnn()
    x = x[..., None]
    rates = []
    for epoch in range(epochs + 1):
        t = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        if epoch:
            rates.append(len(x) / (time.perf_counter() - t))
    return {"rates": rates}


def main_results(epochs: int, peers) -> dict:
    from bench.workloads.mnist_data import load_mnist
    x, y = load_mnist(12800)
    arrays = {"x": x, "y": y, "batch": np.array(BATCH), "epochs": np.array(epochs)}
    results = {"engine": median(engine_cnn(x, y, epochs)["rates"])}
    for name, code in (("torch", TORCH), ("keras", KERAS)):
        if name in peers:
            r = run_peer(name, code, arrays)
            if r:
                results[name] = median(r["rates"])
    return results


def train_for_memory() -> None:
    from bench.workloads.mnist_data import load_mnist
    x, y = load_mnist(12800)
    engine_cnn(x, y, epochs=1)
