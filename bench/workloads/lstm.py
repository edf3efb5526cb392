"""Seed IMDB workload: Embedding(10000, 128) → LSTM(128) → Dense(1, sigmoid); adam, binary
crossentropy, sequences of 200 token ids, batch 32, 3,200 sequences per epoch.

The data is synthetic (random ids, 'pre'-padded like pad_sequences output, labels from a
token count so that the task is learnable); the speed does not depend on the text.
"""
from __future__ import annotations

import time

import numpy as np

from bench.workloads.peers import median, run_peer

IDLE_TARGET = 1.5      # issue 16: engine / best peer on an idle machine
BATCH = 32
VOCAB = 10000
MAXLEN = 200
SAMPLES = 3200

TORCH = r"""
import json, os, time, numpy as np, torch
torch.set_num_threads(int(os.environ["THREADS"]))
d = np.load(os.environ["DATA"])
x = torch.from_numpy(d["x"].astype(np.int64)); y = torch.from_numpy(d["y"])
nn = torch.nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10000, 128); self.lstm = nn.LSTM(128, 128, batch_first=True)
        self.out = nn.Linear(128, 1)
    def forward(self, ids):
        seq, (h, c) = self.lstm(self.emb(ids))
        return self.out(h[-1]).squeeze(1)
model = Net(); opt = torch.optim.Adam(model.parameters(), lr=1e-3); lossf = nn.BCEWithLogitsLoss()
B = int(d["batch"]); n = len(x); rates = []
for epoch in range(int(d["epochs"]) + 1):
    t = time.perf_counter(); perm = torch.randperm(n)
    for i in range(0, n, B):
        idx = perm[i:i + B]; opt.zero_grad()
        loss = lossf(model(x[idx]), y[idx]); loss.backward(); opt.step()
    if epoch: rates.append(n / (time.perf_counter() - t))
print(json.dumps({"rates": rates, "version": torch.__version__}))
"""

KERAS = r"""
import json, os, time, numpy as np, keras
from keras import layers as L
d = np.load(os.environ["DATA"]); x, y = d["x"], d["y"]
model = keras.Sequential([keras.Input((x.shape[1],), dtype="int32"), L.Embedding(10000, 128),
                          L.LSTM(128), L.Dense(1, activation="sigmoid")])
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
class T(keras.callbacks.Callback):
    def on_epoch_begin(self, e, logs=None): self.t = time.perf_counter()
    def on_epoch_end(self, e, logs=None): rates.append(len(x) / (time.perf_counter() - self.t))
rates = []
model.fit(x, y, batch_size=int(d["batch"]), epochs=int(d["epochs"]) + 1, verbose=0, callbacks=[T()])
print(json.dumps({"rates": rates[1:], "version": keras.__version__}))
"""


def make_data(n: int = SAMPLES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 200) int32 token ids with 'pre' padding, and 0/1 float32 labels."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, size=(n, MAXLEN)).astype(np.int32)
    lengths = rng.integers(20, MAXLEN + 1, size=n)
    for i, length in enumerate(lengths):
        x[i, :MAXLEN - length] = 0
    y = ((x < 100).sum(axis=1) > np.median((x < 100).sum(axis=1))).astype(np.float32)
    return x, y


def build_engine_lstm():
    from engine.layers import LSTM, Dense, Embedding
    from engine.models import Sequential
    model = Sequential([Embedding(VOCAB, 128), LSTM(128), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def engine_lstm(x: np.ndarray, y: np.ndarray, epochs: int = 3) -> dict:
    """Train the workload; samples/s of each epoch after a warm-up epoch (numba compile)."""
    model = build_engine_lstm()
    rates = []
    for epoch in range(epochs + 1):
        t = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        if epoch:
            rates.append(len(x) / (time.perf_counter() - t))
    return {"rates": rates}


def torch_lstm(x: np.ndarray, y: np.ndarray, epochs: int = 3) -> dict | None:
    """The same workload in PyTorch (its own venv); None when PyTorch is not installed."""
    return run_peer("torch", TORCH, _arrays(x, y, epochs))


def keras_lstm(x: np.ndarray, y: np.ndarray, epochs: int = 3) -> dict | None:
    """The same workload in Keras 3 / TensorFlow (its own venv); None when not installed."""
    return run_peer("keras", KERAS, _arrays(x, y, epochs))


def _arrays(x, y, epochs) -> dict:
    return {"x": x, "y": y, "batch": np.array(BATCH), "epochs": np.array(epochs)}


def main_results(epochs: int, peers) -> dict:
    x, y = make_data()
    results = {"engine": median(engine_lstm(x, y, epochs)["rates"])}
    for name, run in (("torch", torch_lstm), ("keras", keras_lstm)):
        if name in peers:
            r = run(x, y, epochs)
            if r:
                results[name] = median(r["rates"])
    return results


def train_for_memory() -> None:
    """The workload, two epochs (for bench/memory.py)."""
    x, y = make_data()
    engine_lstm(x, y, epochs=1)
