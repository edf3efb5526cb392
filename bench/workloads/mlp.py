"""Seed MLP workload: Flatten → Dense 128 relu → Dense 10 softmax, adam, batch 32."""
from __future__ import annotations

import time

import numpy as np

from bench.workloads.peers import median, run_peer

IDLE_TARGET = 3.0      # issue 16: engine / best peer on an idle machine
BATCH = 32

TORCH = r"""
import json, os, time, numpy as np, torch
torch.set_num_threads(int(os.environ["THREADS"]))
d = np.load(os.environ["DATA"]); x = torch.from_numpy(d["x"]).reshape(len(d["x"]), -1); y = torch.from_numpy(d["y"])
model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3); lossf = torch.nn.CrossEntropyLoss()
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
d = np.load(os.environ["DATA"]); x, y = d["x"], d["y"]
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
class T(keras.callbacks.Callback):
    def on_epoch_begin(self, e, logs=None): self.t = time.perf_counter()
    def on_epoch_end(self, e, logs=None): rates.append(len(x) / (time.perf_counter() - self.t))
rates = []
model.fit(x, y, batch_size=int(d["batch"]), epochs=int(d["epochs"]) + 1, verbose=0, callbacks=[T()])
print(json.dumps({"rates": rates[1:], "version": keras.__version__}))
"""


def build_engine_mlp():
    from engine.layers import Dense, Flatten
    from engine.models import Sequential
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="relu"),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def engine_mlp(x: np.ndarray, y: np.ndarray, epochs: int = 3) -> dict:
    model = build_engine_mlp()
    rates = []
    for epoch in range(epochs + 1):      # epoch 0 warms up (numba compile, caches)
        t = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        if epoch:
            rates.append(len(x) / (time.perf_counter() - t))
    return {"rates": rates}


def run(x: np.ndarray, y: np.ndarray, epochs: int = 3, peers=("torch", "keras")) -> dict:
    arrays = {"x": x, "y": y, "batch": np.array(BATCH), "epochs": np.array(epochs)}
    results = {"engine": median(engine_mlp(x, y, epochs)["rates"])}
    for name, code in (("torch", TORCH), ("keras", KERAS)):
        if name in peers:
            r = run_peer(name, code, arrays)
            if r:
                results[name] = median(r["rates"])
    return results


def main_results(epochs: int, peers) -> dict:
    from bench.workloads.mnist_data import load_mnist
    x, y = load_mnist(12800)
    return run(x, y, epochs, peers)


def train_for_memory() -> None:
    """The seed MLP on 12,800 images, 3 epochs (for bench/memory.py)."""
    from bench.workloads.mnist_data import load_mnist
    x, y = load_mnist(12800)
    engine_mlp(x, y, epochs=2)
