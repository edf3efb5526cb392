"""Training throughput of the engine against PyTorch CPU and Keras, in the same run.

    python -m bench.throughput [WORKLOAD ... | seed | models | all]  [--no-peers] [--epochs N]
                               [--threads N] [--cpu-time]

Workloads are bench/workloads/*.py: the seeds (mlp, cnn, lstm, the default) and the models
beyond them (cifar_cnn, cnn150, resblock, conv1d_text, gru, simple_rnn, conv_transpose);
'seed', 'models' and 'all' name the groups (bench/workloads/__init__.py).

Each workload prints samples/s (median of N epochs after a warm-up epoch) for every framework
that is installed, and the engine's ratio to the fastest peer. Peers live in their own venvs
(see bench/workloads/peers.py); they are never project dependencies. By default the engine runs
under its threading policy (engine/threading_policy.py: numba's threads, one per core while the
machine is idle, BLAS single-threaded) and each peer gets 2 threads; --threads N gives every
framework N threads (the engine: at most N numba threads, BLAS still one). --cpu-time times each
by its CPU time instead of the wall clock: with --threads 1 a comparison of the code that holds
on a busy machine (the idle-machine figures need the wall clock and a quiet machine).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: E402,F401  (before numpy: it sets OpenBLAS's thread options, see there)
from bench import workloads  # noqa: E402
from bench.workloads import peers as peers_mod  # noqa: E402
from bench.workloads.harness import CLOCK_ENV  # noqa: E402
from engine import threading_policy  # noqa: E402

GROUPS = {"seed": workloads.SEED, "models": workloads.MODELS, "all": workloads.ALL}


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
    ap.add_argument("workloads", nargs="*", default=list(workloads.SEED))
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for every framework (default: the engine's threading policy, "
                         f"{peers_mod.THREADS} for each peer)")
    ap.add_argument("--cpu-time", action="store_true")
    args = ap.parse_args(argv)
    if args.cpu_time:
        os.environ[CLOCK_ENV] = "cpu"
    if args.threads is not None:
        if args.threads < 1:
            ap.error("--threads expects a whole number >= 1")
        # numba's threads only: BLAS keeps the policy's single thread (the engine's products
        # run on numba's threads; a second BLAS pool would spin against them)
        threading_policy.set_max_threads(args.threads)
        peers_mod.THREADS = args.threads
    clock = "CPU time" if args.cpu_time else "wall clock"
    who = (f"{args.threads} thread(s) per framework" if args.threads is not None else
           f"engine: its threading policy, peers: {peers_mod.THREADS} threads each")
    print(f"{who}, timed by the {clock}")
    print("threading policy: " + json.dumps(threading_policy.describe()))
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus")
    peers = () if args.no_peers else ("torch", "keras")
    names = [w for name in args.workloads for w in GROUPS.get(name, (name,))]
    for name in names:
        try:
            mod = importlib.import_module(f"bench.workloads.{name}")
        except ModuleNotFoundError as e:
            print(f"\n== {name}: workload not available ({e}) ==")
            continue
        report(name, mod.main_results(args.epochs, peers))


if __name__ == "__main__":
    main()
