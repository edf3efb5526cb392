"""The common frame of a workload: time the engine's model epoch by epoch, and run the model's
PyTorch and Keras twins (their own venvs, bench/workloads/peers.py) in one training loop each.

A workload module gives the engine model (a function building it compiled), the data, and the
twins as short snippets that the templates below wrap in the same timing loop: one warm-up
epoch, then ``epochs`` timed ones, samples/s per epoch.

On a shared machine wall-clock rates say more about the neighbours than about the code; with
LAYERLOOM_BENCH_CLOCK=cpu every framework is timed by its process's CPU time instead (run it
with --threads 1: samples per CPU-second of one thread, nearly independent of other load).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

from bench.workloads.peers import median, run_peer

CLOCK_ENV = "LAYERLOOM_BENCH_CLOCK"


def clock() -> float:
    """The benchmark clock: wall time, or this process's CPU time (see the module docstring)."""
    return time.process_time() if os.environ.get(CLOCK_ENV) == "cpu" else time.perf_counter()

# The twin snippets see ``d`` (the npz: x, y, batch, epochs, plus the workload's own arrays),
# ``nn``/``F`` (torch.nn, torch.nn.functional) or ``L`` (keras.layers). A torch snippet defines
# ``model``, ``lossf`` and the tensors ``x``, ``y`` (channels-first images made once, outside
# the timed loop); a Keras snippet defines ``model``, compiled.
TORCH_TEMPLATE = r"""
import json, os, time, numpy as np, torch
torch.set_num_threads(int(os.environ["THREADS"]))
torch.manual_seed(0)
d = np.load(os.environ["DATA"]); nn = torch.nn; F = torch.nn.functional
clock = time.process_time if os.environ.get("LAYERLOOM_BENCH_CLOCK") == "cpu" else time.perf_counter
{snippet}
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
B = int(d["batch"]); n = len(x); rates = []
for epoch in range(int(d["epochs"]) + 1):
    t = clock(); perm = torch.randperm(n)
    for i in range(0, n, B):
        idx = perm[i:i + B]; opt.zero_grad(); loss = lossf(model(x[idx]), y[idx]); loss.backward(); opt.step()
    if epoch: rates.append(n / (clock() - t))
print(json.dumps({{"rates": rates, "version": torch.__version__}}))
"""

KERAS_TEMPLATE = r"""
import json, os, time, numpy as np, keras
from keras import layers as L
d = np.load(os.environ["DATA"]); x, y = d["x"], d["y"]
clock = time.process_time if os.environ.get("LAYERLOOM_BENCH_CLOCK") == "cpu" else time.perf_counter
{snippet}
class T(keras.callbacks.Callback):
    def on_epoch_begin(self, e, logs=None): self.t = clock()
    def on_epoch_end(self, e, logs=None): rates.append(len(x) / (clock() - self.t))
rates = []
model.fit(x, y, batch_size=int(d["batch"]), epochs=int(d["epochs"]) + 1, verbose=0, callbacks=[T()])
print(json.dumps({{"rates": rates[1:], "version": keras.__version__}}))
"""


def engine_rates(build: Callable, x, y, batch: int, epochs: int) -> list[float]:
    """Samples/s of each of ``epochs`` engine epochs after a warm-up epoch (numba compile)."""
    model = build()
    n = len(x[0]) if isinstance(x, list) else len(x)
    rates = []
    for epoch in range(epochs + 1):
        t = clock()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        if epoch:
            rates.append(n / (clock() - t))
    return rates


def peer_rates(name: str, snippet: str, arrays: dict[str, np.ndarray]) -> list[float] | None:
    """Samples/s of the twin ``snippet`` in peer ``name`` ('torch' or 'keras'), None if absent."""
    template = TORCH_TEMPLATE if name == "torch" else KERAS_TEMPLATE
    result = run_peer(name, template.format(snippet=snippet), arrays)
    return result["rates"] if result else None


def compare(build: Callable, x, y, batch: int, epochs: int, twins: dict[str, str], peers,
            extra: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Median samples/s of the engine and of every installed peer in ``peers`` (same data);
    each peer gets peers.THREADS threads (bench/throughput.py --threads)."""
    results = {"engine": median(engine_rates(build, x, y, batch, epochs))}
    arrays = {"x": x, "y": y, "batch": np.array(batch), "epochs": np.array(epochs),
              **(extra or {})}
    for name in ("torch", "keras"):
        if name in peers and name in twins:
            rates = peer_rates(name, twins[name], arrays)
            if rates:
                results[name] = median(rates)
    return results


def random_images(n: int, shape: tuple, classes: int, seed: int = 0):
    """(n, *shape) float32 images in [0, 1) and int64 labels: the speed does not depend on the
    pictures, and no download is needed."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, *shape), dtype=np.float32)
    return x, rng.integers(0, classes, n).astype(np.int64)


def image_results(build: Callable, samples: int, shape: tuple, batch: int, epochs: int,
                  twins: dict[str, str], peers) -> dict[str, float]:
    """:func:`compare` on ``samples`` random images of ``shape`` with 10 classes."""
    x, y = random_images(samples, shape, 10)
    return compare(build, x, y, batch, epochs, twins, peers)


def image_memory(build: Callable, samples: int, shape: tuple, batch: int) -> None:
    """One engine epoch after a warm-up on ``samples`` random images (for bench/memory.py)."""
    x, y = random_images(samples, shape, 10)
    engine_rates(build, x, y, batch, 1)
