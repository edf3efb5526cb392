"""Training throughput of the engine against PyTorch CPU and Keras, in the same run.

    python -m bench.throughput [mlp] [cnn] [lstm]  [--no-peers] [--epochs N]

Each workload prints samples/s (median of N epochs after a warm-up epoch) for every framework
that is installed, and the engine's ratio to the fastest peer. Peers live in their own venvs
(see bench/workloads/peers.py); they are never project dependencies.
"""
from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: E402,F401  (before numpy: it sets OpenBLAS's thread options, see there)


def report(name: str, results: dict[str, float]) -> None:
    print(f"\n== {name} (samples/s, median) ==")
    for fw, rate in results.items():
        print(f"  {fw:8s} {rate:12,.0f}")
    peers = {k: v for k, v in results.items() if k != "engine"}
    if peers:
        best = max(peers, key=peers.get)
        print(f"  engine / {best} = {results['engine'] / peers[best]:.2f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", default=["mlp", "cnn", "lstm"])
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus")
    peers = () if args.no_peers else ("torch", "keras")
    for name in args.workloads:
        try:
            mod = importlib.import_module(f"bench.workloads.{name}")
        except ModuleNotFoundError as e:
            print(f"\n== {name}: workload not available ({e}) ==")
            continue
        report(name, mod.main_results(args.epochs, peers))


if __name__ == "__main__":
    main()
