"""Training speed with 0, 1 and 2 busy background processes: engine vs PyTorch and Keras.

    python -m bench.under_load [workload ...] [--loads 0,1,2] [--epochs 3] [--rounds 1]
                               [--no-peers]

Every workload in bench/workloads/ (a module with ``main_results(epochs, peers)``; by default
all of them) runs at each load level: this script starts the busy processes itself
(bench/load.py: pure-Python spin loops, stopped when the level ends and bounded in time), then
runs the engine and the peers one after the other under that load, each a warm-up epoch and
``--epochs`` timed epochs (median samples/s). It prints one table per workload with the ratio
engine / best peer and the issue-16 target (idle: MLP 3x, CNN 2x, LSTM 1.5x, a module's
IDLE_TARGET; 2 busy processes: 1.0x), and a summary. Before each level it records the machine's
load average and how busy the cores were *before* our own load started: figures taken while
other people's programs ran are not idle figures. ``make bench`` runs this script.

This machine's speed drifts by up to 2x within an hour (the seed CNN's Keras twin ran at 5,038
and 9,992 samples/s in two runs 40 minutes apart, 2026-12-05), so one engine run against one
peer run can land on either side of a target. ``--rounds N`` repeats each workload with its
peers N times in a row and reports the median of the N rounds' own ratios, with their range.
"""
from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: F401  (first: the threading policy sets its defaults before numpy loads)
from bench.load import busy_processes, cpu_busy_fraction, load_average
from bench.workloads import peers as peer_runs
from bench.workloads.peers import median
from engine import threading_policy

LOADED_TARGET = 1.0          # with two busy processes: at least the best peer
NOT_WORKLOADS = {"peers", "mnist_data"}


def discover() -> list[str]:
    import bench.workloads as pkg
    names = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name in NOT_WORKLOADS or info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"bench.workloads.{info.name}")
        if hasattr(mod, "main_results"):
            names.append(info.name)
    order = {"mlp": 0, "cnn": 1, "lstm": 2}
    return sorted(names, key=lambda n: (order.get(n, 9), n))


def idle_target(name: str) -> float:
    return float(getattr(importlib.import_module(f"bench.workloads.{name}"), "IDLE_TARGET", 1.0))


def run_level(names: list[str], busy: int, epochs: int, peers: tuple, rounds: int = 1) -> dict:
    """Every workload under ``busy`` busy processes, ``rounds`` times in a row (the engine and
    its peers back to back each time)."""
    before = {"load_avg": load_average(), "cpu_busy": cpu_busy_fraction(1.0)}
    print(f"\n### {busy} busy process(es); before starting them: load average "
          f"{before['load_avg']:.2f}, cores {100 * before['cpu_busy']:.0f}% busy", flush=True)
    results, per_round = {}, {}
    with busy_processes(busy):
        for name in names:
            mod = importlib.import_module(f"bench.workloads.{name}")
            runs = []
            for k in range(rounds):
                t = time.perf_counter()
                try:
                    runs.append(mod.main_results(epochs, peers))
                except Exception as e:  # noqa: BLE001 - one broken workload must not end the run
                    print(f"  {name}: failed: {type(e).__name__}: {e}")
                    break
                rates = ", ".join(f"{key} {v:,.0f}" for key, v in runs[-1].items())
                label = f"{name} {k + 1}/{rounds}" if rounds > 1 else name
                print(f"  {label:12s} {rates}  ({time.perf_counter() - t:.0f} s)", flush=True)
            if runs:
                results[name], per_round[name] = combine(runs), runs
    return {"busy": busy, "before": before, "results": results, "rounds": per_round}


def combine(runs: list[dict]) -> dict:
    """One workload's rates over rounds: each framework's median."""
    return {key: median([r[key] for r in runs if key in r])
            for key in dict.fromkeys(k for r in runs for k in r)}


def ratio(rates: dict) -> tuple[str, float] | None:
    peers = {k: v for k, v in rates.items() if k != "engine"}
    if not peers or "engine" not in rates:
        return None
    best = max(peers, key=peers.get)
    return best, rates["engine"] / peers[best]


def round_ratios(runs: list[dict]) -> tuple[str, float, float, float] | None:
    """Over rounds: the peer best most often (the earliest on a tie), and the median, lowest and
    highest of each round's engine / best-peer ratio (each round's peers ran right after its
    engine, so the machine's drifts between rounds cancel in its ratio). None without peers."""
    each = [r for r in (ratio(run) for run in runs) if r is not None]
    if not each:
        return None
    names = [name for name, _ in each]
    values = [v for _, v in each]
    return max(names, key=names.count), median(values), min(values), max(values)


def report(levels: list[dict], names: list[str]) -> list[str]:
    """Prints the tables; returns the lines of workloads below target."""
    misses = []
    print("\n" + "=" * 78)
    print("samples/s (median of the timed epochs; over rounds, the median of the rounds); "
          "ratio = engine / best peer (over rounds, the median of each round's ratio)")
    for name in names:
        print(f"\n{name}")
        print(f"  {'busy':>4s} {'engine':>10s} {'torch':>10s} {'keras':>10s}  "
              f"{'ratio':>6s} {'vs':6s} {'target':>6s}")
        for level in levels:
            rates = level["results"].get(name)
            if rates is None:
                print(f"  {level['busy']:>4d}  failed")
                continue
            cells = " ".join(f"{rates[k]:10,.0f}" if k in rates else f"{'-':>10s}"
                             for k in ("engine", "torch", "keras"))
            runs = level.get("rounds", {}).get(name, [])
            spread = round_ratios(runs) if len(runs) > 1 else None
            r = spread[:2] if spread else ratio(rates)
            target = (idle_target(name) if level["busy"] == 0 else
                      LOADED_TARGET if level["busy"] >= 2 else None)
            if r is None:
                print(f"  {level['busy']:>4d} {cells}")
                continue
            mark = ""
            if target is not None:
                mark = f"{target:5.1f}x " + ("ok" if r[1] >= target else "BELOW")
                if r[1] < target:
                    misses.append(f"{name} with {level['busy']} busy: {r[1]:.2f}x {r[0]} "
                                  f"(target {target:.1f}x)")
            if spread:
                mark += f"  (rounds {spread[2]:.2f}-{spread[3]:.2f}x)"
            print(f"  {level['busy']:>4d} {cells}  {r[1]:5.2f}x {r[0]:6s} {mark}")
    return misses


def peer_versions() -> str:
    """The peers' versions as their runs printed them, e.g. "keras 3.15.1, torch 2.13.0"."""
    return ", ".join(f"{k} {v}" for k, v in sorted(peer_runs.VERSIONS.items())) or "none ran"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", help="default: every module in bench/workloads")
    ap.add_argument("--loads", default="0,1,2", help="busy process counts, e.g. 0,2")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1,
                    help="run each workload and its peers this many times in a row")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    names = args.workloads or discover()
    loads = [int(v) for v in args.loads.split(",") if v.strip()]
    peers = () if args.no_peers else ("torch", "keras")
    print(f"python {platform.python_version()} on {platform.machine()}; workloads "
          f"{', '.join(names)}; loads {loads}; {args.epochs} timed epochs after a warm-up"
          + (f"; {args.rounds} rounds" if args.rounds > 1 else ""))
    print("threading policy:", json.dumps(threading_policy.describe()))
    if args.rounds < 1:
        ap.error("--rounds expects a whole number >= 1")
    levels = [run_level(names, busy, args.epochs, peers, args.rounds) for busy in loads]
    misses = report(levels, names)
    print("peers: " + peer_versions())
    print("\nbelow target: " + ("; ".join(misses) if misses else "none"))
    quiet = all(lv["before"]["cpu_busy"] < 0.15 for lv in levels)
    print("machine was " + ("quiet" if quiet else
                            "NOT quiet (others' programs ran): figures are indicative"))
    if args.json:
        args.json.write_text(json.dumps({"policy": threading_policy.describe(),
                                         "peers": dict(peer_runs.VERSIONS), "levels": levels},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
