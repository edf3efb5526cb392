"""Training throughput of the seed IMDB LSTM workload: engine vs PyTorch vs Keras, one run.

    python bench/lstm_throughput.py [--epochs N] [--no-peers] [--rounds R]

Embedding(10000, 128) → LSTM(128) → Dense(1, sigmoid), adam, binary crossentropy, 3,200
sequences of 200 ids, batch 32 (bench/workloads/lstm.py). Every framework trains a warm-up
epoch and then N timed epochs; samples/s is the median. With --rounds R > 1 the engine and the
peers alternate R times (the machine's load changes over minutes; alternating keeps each
engine/peer pair close in time) and every round's ratio is printed. Peers run in their own venvs
(LAYERLOOM_TORCH_PYTHON / LAYERLOOM_KERAS_PYTHON, default /work/venv-torch, /work/venv-keras)
and are skipped with a message when absent. Also prints the engine's peak resident memory.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: E402,F401  (first, as a user script would: sets OpenBLAS options before numpy)
from bench.workloads.lstm import engine_lstm, keras_lstm, make_data, torch_lstm  # noqa: E402
from bench.workloads.peers import median  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args(argv)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus; "
          f"{args.epochs} timed epochs after a warm-up, median samples/s")
    x, y = make_data()
    peers = {} if args.no_peers else {"torch": torch_lstm, "keras": keras_lstm}
    for round_ in range(1, args.rounds + 1):
        rates = {"engine": median(engine_lstm(x, y, args.epochs)["rates"])}
        for name, run in peers.items():
            result = run(x, y, args.epochs)
            if result:
                rates[name] = median(result["rates"])
        print(f"\nround {round_}: " + ", ".join(f"{k} {v:,.0f}" for k, v in rates.items()))
        others = {k: v for k, v in rates.items() if k != "engine"}
        if others:
            best = max(others, key=others.get)
            print(f"  engine / {best} (the faster peer) = {rates['engine'] / others[best]:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nengine peak resident memory (this process, data included): {peak:,.0f} MB")


if __name__ == "__main__":
    main()
