"""What the tape costs: an MLP written with engine.ops (user layers, a subclassed model) against
the same MLP of built-in Dense layers, trained the same way in the same run.

    python -m bench.ops_overhead [--epochs N] [--batch-size B] [--samples N]

Prints samples/s (median of N epochs after a warm-up epoch) for: built-in Sequential; a
Functional model of ops-built layers; a subclassed Model whose call() uses ops-built layers;
and the ratio built-in / ops-built (issue 14: within 3×). Figures are indicative when other
programs load the machine: say what ran beside it when you quote them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import engine as keras  # noqa: E402  (before numpy: it sets OpenBLAS's thread options)
import numpy as np  # noqa: E402

from engine import layers, ops  # noqa: E402

SIZES = (784, 256, 128, 10)


class OpsDense(keras.layers.Layer):
    """Dense written with ops: matmul + bias (+ relu)."""

    def __init__(self, units, relu=True, **kwargs):
        super().__init__(**kwargs)
        self.units, self.relu = units, relu

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="glorot_uniform")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, x):
        y = ops.matmul(x, self.w) + self.b
        return ops.relu(y) if self.relu else y


class OpsMLP(keras.Model):
    def __init__(self):
        super().__init__()
        self.blocks = [OpsDense(n) for n in SIZES[1:-1]] + [OpsDense(SIZES[-1], relu=False)]

    def call(self, x):
        for block in self.blocks:
            x = block(x)
        return ops.softmax(x)


def builtin():
    return keras.Sequential([keras.Input((SIZES[0],))]
                            + [layers.Dense(n, activation="relu") for n in SIZES[1:-1]]
                            + [layers.Dense(SIZES[-1], activation="softmax")])


def functional_ops():
    inp = keras.Input((SIZES[0],))
    x = inp
    for n in SIZES[1:-1]:
        x = OpsDense(n)(x)
    out = layers.Activation("softmax")(OpsDense(SIZES[-1], relu=False)(x))
    return keras.Model(inp, out)


def rate(make, x, y, epochs: int, batch_size: int) -> float:
    model = make()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)      # warm-up (numba, caches)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
        times.append(time.perf_counter() - t0)
    return len(x) / statistics.median(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--samples", type=int, default=8192)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], args.samples)
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {args.batch_size}, {args.samples} samples, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    results = {}
    for name, make in (("built-in Dense", builtin), ("ops layers, Functional", functional_ops),
                       ("ops layers, subclassed", OpsMLP)):
        results[name] = rate(make, x, y, args.epochs, args.batch_size)
        print(f"  {name:24s} {results[name]:10,.0f} samples/s")
    base = results["built-in Dense"]
    for name in list(results)[1:]:
        print(f"  built-in / {name}: {base / results[name]:.2f}x")


if __name__ == "__main__":
    main()
