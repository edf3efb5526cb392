"""Canvas responsiveness on a 200-node graph (Qt offscreen): drag-move frame time and the cost
of one edit (shape inference + canvas refresh).

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.canvas_fps [--nodes 200] [--frames 120]

A frame is one mouse-move event of a node drag followed by a synchronous repaint of the canvas.
Scenarios: the whole graph in view (fit) dragging one node and a 20-node selection, and 100%
zoom dragging one node; each frame repaints the whole canvas (worst case) or, as on screen,
only the region that changed. Bar: p95 frame time of the full repaints < 16 ms (60 fps). The last line reads
``canvas_fps drag_p95_ms=… edit_ms=…``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication


def big_graph(n_nodes: int):
    """One input, ``branches`` parallel chains of Dense layers, concatenated, one output."""
    from engine.graph import GraphDocument
    doc = GraphDocument(name="bench")
    listeners, doc.listeners = doc.listeners, []
    inp = doc.add_node("InputLayer", {"shape": [64]}, "input")
    branches = 10
    per_branch = max(1, (n_nodes - 3) // branches)
    tails = []
    for b in range(branches):
        prev = inp
        for k in range(per_branch):
            node = doc.add_node("Dense", {"units": 16 + (k % 4) * 16, "activation": "relu"},
                                f"b{b}_dense{k}")
            doc.connect(prev.id, node.id)
            prev = node
        tails.append(prev)
    cat = doc.add_node("Concatenate", {}, "concat")
    for t in tails:
        doc.connect(t.id, cat.id)
    out = doc.add_node("Dense", {"units": 10, "activation": "softmax"}, "out")
    doc.connect(cat.id, out.id)
    doc.listeners = listeners
    doc.auto_layout()
    return doc


def _mouse(widget, kind, pos: QPointF, button, buttons) -> None:
    ev = QMouseEvent(kind, pos, widget.mapToGlobal(pos.toPoint()).toPointF(), button, buttons,
                     Qt.NoModifier)
    QApplication.sendEvent(widget, ev)


def drag_frames(window, node_ids: list[str], frames: int, full: bool = True) -> list[float]:
    """Press on the first node, move ``frames`` times, release; ms per frame.

    ``full``: every frame repaints the whole canvas (worst case); otherwise Qt repaints the
    region that changed, as it does on screen."""
    view, scene = window.view, window.scene
    app = QApplication.instance()
    scene.select_nodes(node_ids)
    item = scene.node_items[node_ids[0]]
    start = view.mapFromScene(item.sceneBoundingRect().center() + QPointF(0, 8))
    vp = view.viewport()
    _mouse(vp, QEvent.MouseButtonPress, QPointF(start), Qt.LeftButton, Qt.LeftButton)
    times = []
    for k in range(frames):
        dx = 60 * ((k % 40) / 40.0)
        pos = QPointF(start) + QPointF(dx + 1, (k % 7) * 3)
        t0 = time.perf_counter()
        _mouse(vp, QEvent.MouseMove, pos, Qt.NoButton, Qt.LeftButton)
        if full:
            vp.repaint()
        app.processEvents()
        times.append((time.perf_counter() - t0) * 1000)
    _mouse(vp, QEvent.MouseButtonRelease, QPointF(start + QPoint(5, 0)), Qt.LeftButton,
           Qt.NoButton)
    return times


def report(name: str, times: list[float]) -> float:
    times = sorted(times)
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"  {name:34s} median {statistics.median(times):6.2f} ms   p95 {p95:6.2f} ms   "
          f"max {times[-1]:6.2f} ms")
    return p95


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--frames", type=int, default=120)
    args = ap.parse_args(argv)
    from app.main import make_application
    from app.main_window import MainWindow
    app = make_application()
    settings = QSettings(str(Path(os.environ.get("TMPDIR", "/tmp")) / "ll_bench.ini"),
                         QSettings.IniFormat)
    window = MainWindow(settings=settings, restore_state=False, catch_exceptions=False)
    doc = big_graph(args.nodes)
    from engine.project import Project
    project = Project(graph=doc)
    project.view = {}
    window.set_project(project)
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    window.scene.flush()
    print(f"{len(doc.nodes)} nodes, {len(doc.edges)} edges, window 1600x1000 (offscreen)")

    worst = []
    window.view.fit_all()
    app.processEvents()
    print(f"whole graph in view (zoom {window.view.zoom():.0%}):")
    ids = list(doc.nodes)
    mid = ids[len(ids) // 2]
    worst.append(report("drag 1 node, full repaint", drag_frames(window, [mid], args.frames)))
    worst.append(report("drag 20 nodes, full repaint",
                        drag_frames(window, ids[40:60], args.frames)))
    report("drag 1 node, changed region only", drag_frames(window, [mid], args.frames, False))
    report("drag 20 nodes, changed region only",
           drag_frames(window, ids[40:60], args.frames, False))
    window.view.reset_zoom()
    window.view.center_on(window.scene.node_items[mid].sceneBoundingRect().center())
    app.processEvents()
    print("100% zoom:")
    worst.append(report("drag 1 node, full repaint", drag_frames(window, [mid], args.frames)))

    # one edit: command → document → shape inference → canvas refresh
    node = doc.node_by_name("b5_dense0")
    edits = []
    for k in range(40):
        t0 = time.perf_counter()
        window.editor.set_param(node.id, "units", 20 + k)
        window.scene.flush()
        edits.append((time.perf_counter() - t0) * 1000)
    infer = []
    for _ in range(20):
        t0 = time.perf_counter()
        doc.infer_shapes()
        infer.append((time.perf_counter() - t0) * 1000)
    print("edits:")
    report("set_param + canvas refresh", edits)
    report("infer_shapes (memoized)", infer)
    window.undo_stack.clear()
    window.mark_saved()
    print(f"canvas_fps drag_p95_ms={max(worst):.2f} edit_ms={statistics.median(edits):.2f}")


if __name__ == "__main__":
    main()
