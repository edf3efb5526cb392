"""Inference speed of the seed models: predict at batch 256, and one sample's latency.

    python -m bench.inference [mlp] [cnn] [lstm] [--no-peers] [--repeats 5]

For each seed model (the MLP and CNN on MNIST, the IMDB LSTM on 200-token sequences) it prints
samples/s of ``predict`` over a few thousand samples at batch 256 (median of the repeats after
a warm-up) for the engine, PyTorch (``eval()`` + ``no_grad``) and Keras (``model.predict``) in
the same run, the ratio engine / best peer (issue 16 target: >= 1.0), and the latency of one
sample — engine ``model.predict(x[:1])`` (what the app's live "Try it" panel calls on every
stroke; target for the MLP: < 1 ms) and PyTorch's ``model(x[:1])`` — as median and 99th
percentile. The weights are untrained: speed does not depend on them.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: E402,F401  (first: the threading policy sets its defaults before numpy)
import numpy as np  # noqa: E402

from bench.workloads.peers import median, run_peer  # noqa: E402
from engine import threading_policy  # noqa: E402

BATCH = 256

# Each peer snippet defines `model` and `x` from DATA, then the shared timing code runs.
TORCH_MODELS = {
    "mlp": """nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10),
                          nn.Softmax(dim=1))""",
    "cnn": """nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
                          nn.Flatten(), nn.Linear(5408, 128), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(128, 10), nn.Softmax(dim=1))""",
    "lstm": """Net()""",
}
TORCH = r"""
import json, os, time, numpy as np, torch
torch.set_num_threads(int(os.environ["THREADS"]))
nn = torch.nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10000, 128); self.lstm = nn.LSTM(128, 128, batch_first=True)
        self.out = nn.Linear(128, 1)
    def forward(self, ids):
        seq, (h, c) = self.lstm(self.emb(ids))
        return torch.sigmoid(self.out(h[-1]))
d = np.load(os.environ["DATA"]); kind = str(d["kind"])
x = torch.from_numpy(d["x"].astype(np.int64) if kind == "lstm" else d["x"])
if kind == "cnn": x = x.reshape(-1, 1, 28, 28)
model = MODEL.eval(); B = int(d["batch"]); rates = []; lat = []
with torch.no_grad():
    for r in range(int(d["repeats"]) + 1):
        t = time.perf_counter()
        out = torch.cat([model(x[i:i + B]) for i in range(0, len(x), B)])
        if r: rates.append(len(x) / (time.perf_counter() - t))
    for _ in range(int(d["single"])):
        t = time.perf_counter(); model(x[:1]); lat.append(time.perf_counter() - t)
print(json.dumps({"rates": rates, "latency": lat, "version": torch.__version__}))
"""

KERAS_MODELS = {
    "mlp": """[keras.Input((28, 28)), L.Flatten(), L.Dense(128, activation="relu"),
              L.Dense(10, activation="softmax")]""",
    "cnn": """[keras.Input((28, 28, 1)), L.Conv2D(32, (3, 3), activation="relu"),
              L.MaxPooling2D((2, 2)), L.Dropout(0.25), L.Flatten(),
              L.Dense(128, activation="relu"), L.Dropout(0.5), L.Dense(10, activation="softmax")]""",
    "lstm": """[keras.Input((200,), dtype="int32"), L.Embedding(10000, 128), L.LSTM(128),
               L.Dense(1, activation="sigmoid")]""",
}
KERAS = r"""
import json, os, time, numpy as np, keras
from keras import layers as L
d = np.load(os.environ["DATA"]); kind = str(d["kind"]); x = d["x"]
if kind == "cnn": x = x[..., None]
model = keras.Sequential(LAYERS); B = int(d["batch"]); rates = []
for r in range(int(d["repeats"]) + 1):
    t = time.perf_counter(); model.predict(x, batch_size=B, verbose=0)
    if r: rates.append(len(x) / (time.perf_counter() - t))
print(json.dumps({"rates": rates, "latency": [], "version": keras.__version__}))
"""


def engine_model(kind: str):
    if kind == "mlp":
        from bench.workloads.mlp import build_engine_mlp
        return build_engine_mlp()
    if kind == "cnn":
        from bench.workloads.cnn import build_engine_cnn
        return build_engine_cnn()
    from bench.workloads.lstm import build_engine_lstm
    return build_engine_lstm()


def data(kind: str) -> np.ndarray:
    if kind == "lstm":
        from bench.workloads.lstm import make_data
        return make_data(1024)[0]
    from bench.workloads.mnist_data import load_mnist
    x = load_mnist(10240)[0]
    return x[..., None] if kind == "cnn" else x


def latencies(fn, count: int) -> list[float]:
    out = []
    for _ in range(count):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def engine_results(kind: str, x: np.ndarray, repeats: int, single: int) -> dict:
    model = engine_model(kind)
    model.predict(x[:BATCH], batch_size=BATCH, verbose=0)            # warm-up (numba cache)
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.predict(x, batch_size=BATCH, verbose=0)
        rates.append(len(x) / (time.perf_counter() - t))
    x1 = x[:1]
    latencies(lambda: model.predict(x1, verbose=0), 50)
    return {"rates": rates, "latency": latencies(lambda: model.predict(x1, verbose=0), single)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=["mlp", "cnn", "lstm"])
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--single", type=int, default=1000, help="one-sample calls timed")
    args = ap.parse_args(argv)
    print(f"python {platform.python_version()} on {platform.machine()}; predict at batch {BATCH}, "
          f"median of {args.repeats} after a warm-up; policy {threading_policy.describe()}")
    misses = []
    for kind in args.models:
        x = data(kind)
        results = {"engine": engine_results(kind, x, args.repeats, args.single)}
        if not args.no_peers:
            arrays = {"x": x[..., 0] if kind == "cnn" else x, "kind": np.array(kind),
                      "batch": np.array(BATCH), "repeats": np.array(args.repeats),
                      "single": np.array(args.single)}
            for name, code in (("torch", TORCH.replace("MODEL", TORCH_MODELS[kind])),
                               ("keras", KERAS.replace("LAYERS", KERAS_MODELS[kind]))):
                r = run_peer(name, code, arrays)
                if r:
                    results[name] = r
        print(f"\n== {kind}: predict, {len(x):,} samples at batch {BATCH} ==")
        for name, r in results.items():
            line = f"  {name:7s} {median(r['rates']):12,.0f} samples/s"
            if r["latency"]:
                lat = np.asarray(r["latency"]) * 1e3
                line += (f"   one sample: median {np.median(lat):.3f} ms, "
                         f"p99 {np.percentile(lat, 99):.3f} ms")
            print(line)
        peers = {k: median(v["rates"]) for k, v in results.items() if k != "engine"}
        if peers:
            best = max(peers, key=peers.get)
            ratio = median(results["engine"]["rates"]) / peers[best]
            print(f"  engine / {best} = {ratio:.2f} (target >= 1.0)")
            if ratio < 1.0:
                misses.append(f"{kind} predict {ratio:.2f}x {best}")
        if kind == "mlp":
            lat = 1e3 * float(np.median(results["engine"]["latency"]))
            print(f"  engine one MLP sample: {lat:.3f} ms median (target < 1 ms)")
            if lat >= 1.0:
                misses.append(f"mlp one-sample latency {lat:.3f} ms")
    print("\nbelow target: " + ("; ".join(misses) if misses else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
