"""Automatic layered left-to-right layout with crossing reduction (Sugiyama-style).

Columns are the longest-path depth from the inputs; within a column nodes are ordered by the
barycenter of their neighbours, sweeping left→right and right→left a few times.
"""
from __future__ import annotations

COLUMN_GAP = 240.0
ROW_GAP = 130.0


def layered_layout(doc, sweeps: int = 4) -> dict[str, tuple[float, float]]:
    order, cyclic = doc.topological_order()
    depth: dict[str, int] = {}
    for nid in order:
        preds = [depth[e.src] for e in doc.in_edges(nid) if e.src in depth]
        depth[nid] = max(preds, default=-1) + 1
    last = max(depth.values(), default=-1) + 1
    for nid in sorted(cyclic):
        depth[nid] = last
    columns: dict[int, list[str]] = {}
    for nid in order + sorted(cyclic):
        columns.setdefault(depth[nid], []).append(nid)
    index = {nid: i for col in columns.values() for i, nid in enumerate(col)}

    def reorder(col_ids: list[str], neighbours) -> list[str]:
        def bary(nid):
            ns = [index[m] for m in neighbours(nid) if m in index]
            return sum(ns) / len(ns) if ns else index[nid]
        return sorted(col_ids, key=lambda n: (bary(n), index[n]))

    preds = {nid: [e.src for e in doc.in_edges(nid)] for nid in doc.nodes}
    succs = {nid: [e.dst for e in doc.out_edges(nid)] for nid in doc.nodes}
    keys = sorted(columns)
    for _ in range(sweeps):
        for k in keys[1:]:
            columns[k] = reorder(columns[k], preds.__getitem__)
            index.update({nid: i for i, nid in enumerate(columns[k])})
        for k in reversed(keys[:-1]):
            columns[k] = reorder(columns[k], succs.__getitem__)
            index.update({nid: i for i, nid in enumerate(columns[k])})
    positions = {}
    for k, col in columns.items():
        offset = -(len(col) - 1) * ROW_GAP / 2
        for i, nid in enumerate(col):
            positions[nid] = (k * COLUMN_GAP, offset + i * ROW_GAP)
    return positions
