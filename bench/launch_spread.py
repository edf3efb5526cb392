"""Launch spread: the seed MLP's epoch time in 20 fresh processes (no process-wide slowdowns).

    python -m bench.launch_spread [--runs 20] [--busy N] [--old-policy]

Each run is a new Python process that imports the engine, trains the seed MLP (Flatten → Dense
128 relu → Dense 10 softmax, adam, batch 32, 12,800 MNIST images) for a warm-up epoch and then
times one epoch (wall clock, and CPU time: on a shared machine the wall-clock spread also
measures how much CPU each run was given); it also times the first Dense layer's product x @ W ((32, 784) @ (784, 128),
median of 300) and counts the process's threads. The script prints every run and the slowest /
fastest ratio (issue 16 target: >= 0.67). ``--busy N`` keeps N busy processes running
meanwhile (bench/load.py); ``--old-policy`` gives the children the engine's former settings
(OpenBLAS with two threads of its own, 2^20-cycle spin) for an A/B comparison.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import busy_processes, cpu_busy_fraction, load_average  # noqa: E402

TARGET = 0.67

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {root!r})
import engine
import numpy as np
from engine import threading_policy
from bench.workloads.mlp import BATCH, build_engine_mlp
from bench.workloads.mnist_data import load_mnist

x, y = load_mnist(12800)
model = build_engine_mlp()
model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)          # warm-up (numba cache, pages)
c0, t = os.times(), time.perf_counter()
model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
wall = time.perf_counter() - t
c1 = os.times()
dense = model.layers[1]
xb = x[:BATCH].reshape(BATCH, -1)
times = []
for _ in range(300):
    t = time.perf_counter(); dense.forward(xb); times.append(time.perf_counter() - t)
with open("/proc/self/status") as f:
    threads = next(int(l.split()[1]) for l in f if l.startswith("Threads:"))
print(json.dumps({{"rate": len(x) / wall, "cpu": (c1.user - c0.user) + (c1.system - c0.system),
                   "wall": wall, "dense_us": 1e6 * float(np.median(times)), "threads": threads,
                   "blas_threads": threading_policy.describe().get("blas_threads")}}))
"""


def run_once(env: dict) -> dict | None:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT))], env=env,
                         capture_output=True, text=True, timeout=900, check=False)
    if out.returncode != 0:
        print("  run failed:", out.stderr.strip().splitlines()[-1:])
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--busy", type=int, default=0, help="busy background processes meanwhile")
    ap.add_argument("--old-policy", action="store_true",
                    help="OpenBLAS with its own 2 threads (the engine before issue 16)")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.old_policy:
        env.update(LAYERLOOM_BLAS_THREADS="2", OPENBLAS_THREAD_TIMEOUT="20")
    print(f"launch spread: {args.runs} fresh processes, seed MLP, one timed epoch after a "
          f"warm-up; {args.busy} busy background process(es); "
          f"{'old' if args.old_policy else 'current'} threading policy")
    print(f"before: load average {load_average():.2f}, cores "
          f"{100 * cpu_busy_fraction(1.0):.0f}% busy (others' programs)")
    print(f"  {'run':>3s} {'samples/s':>10s} {'epoch s':>8s} {'cpu s':>6s} {'x@W µs':>7s} "
          f"{'threads':>7s} {'blas':>4s}")
    rates, cpu_rates = [], []
    with busy_processes(args.busy):
        for i in range(1, args.runs + 1):
            r = run_once(env)
            if r is None:
                continue
            rates.append(r["rate"])
            cpu_rates.append(r["rate"] * r["wall"] / max(r["cpu"], 1e-9))
            print(f"  {i:3d} {r['rate']:10,.0f} {r['wall']:8.3f} {r['cpu']:6.2f} "
                  f"{r['dense_us']:7.0f} {r['threads']:7d} {r['blas_threads']!s:>4s}",
                  flush=True)
    if len(rates) < 2:
        print("too few runs succeeded")
        return 1
    spread = min(rates) / max(rates)
    print(f"\nslowest / fastest = {min(rates):,.0f} / {max(rates):,.0f} = {spread:.2f} "
          f"(target >= {TARGET}: {'ok' if spread >= TARGET else 'BELOW'}); median "
          f"{sorted(rates)[len(rates) // 2]:,.0f} samples/s")
    # samples per CPU-second: what each process did with the time it got. While other people's
    # programs share the cores, wall-clock rates also measure how much CPU each run was given.
    print(f"per CPU-second: slowest / fastest = {min(cpu_rates) / max(cpu_rates):.2f} "
          f"(a process-wide slowdown such as threads spinning shows here too)")
    print(f"after: load average {load_average():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
