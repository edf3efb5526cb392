"""Shape inference after one edit on a 200-node graph (the canvas re-infers on every edit).

    python -m bench.graph_inference

Builds a 200-node graph (a chain of Dense/Dropout/BatchNormalization blocks with residual Adds),
then times single edits: changing a Dense's units near the top (everything below re-infers its
input shapes) and near the bottom, renaming, and a full re-inference from a cold memo.
Prints median and max milliseconds; the target is < 5 ms per edit.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.graph import GraphDocument  # noqa: E402


def build(n_nodes: int = 200) -> tuple[GraphDocument, list[str]]:
    g = GraphDocument("bench")
    prev = g.add_node("InputLayer", {"shape": [64]}).id
    dense_ids = []
    while len(g.nodes) < n_nodes:
        d = g.add_node("Dense", {"units": 64, "activation": "relu"}).id
        g.connect(prev, d)
        dense_ids.append(d)
        b = g.add_node("BatchNormalization").id
        g.connect(d, b)
        add = g.add_node("Add").id
        g.connect(prev, add)
        g.connect(b, add)
        prev = add
    return g, dense_ids


def time_edit(fn, repeats: int = 30) -> list[float]:
    out = []
    for k in range(repeats):
        t = time.perf_counter()
        fn(k)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    g, dense = build()
    print(f"graph: {len(g.nodes)} nodes, {len(g.edges)} edges")
    top, bottom = dense[1], dense[-1]
    cases = {
        "units of a Dense near the top": lambda k: g.set_param(top, "units", 64 + (k % 2) * 8),
        "units of the last Dense": lambda k: g.set_param(bottom, "units", 32 + k % 2),
        "activation (shapes unchanged)": lambda k: g.set_param(top, "activation",
                                                               ("tanh", "relu")[k % 2]),
        "rename": lambda k: g.rename(top, f"layer_{k}"),
        "cold re-inference (memo cleared)": lambda k: (g._memo.clear(), g.infer_shapes()),
    }
    for name, fn in cases.items():
        ms = time_edit(fn)
        print(f"graph_inference {name}: median {statistics.median(ms):.2f} ms, "
              f"max {max(ms):.2f} ms")


if __name__ == "__main__":
    main()
