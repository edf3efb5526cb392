"""How long the Try it panel takes to predict one drawn MNIST digit, with nothing else running
in the process (``bench/ui_latency.py --try-it`` measures it while training runs).

    python -m bench.try_it_predict [--repeats 500]

For the seed MNIST MLP and CNN: the forward pass of one sample on the panel's private model
(on one numba thread, as on the panel's prediction thread),
and the whole step the panel runs per pen stroke (reading the 280×280 pad, MNIST-style
centring, scaling, the forward pass). A frame at 60 Hz is 16.7 ms. The last line reads
``try_it_predict mlp_ms=… cnn_ms=…`` (median of the whole step).
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=500)
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numba
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    from app.example_graph import mnist_cnn_graph
    from app.training.prediction import SnapshotModel
    from app.training.sketch_pad import SketchPad
    from bench.ui_latency import mlp_graph
    from engine.data.single_sample import image_sample, input_form
    numba.set_num_threads(1)                     # as on the panel's prediction thread
    app = QApplication.instance() or QApplication([])
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus")
    pad = SketchPad()
    for k in range(30):                          # a loop, like a drawn 0
        a = k / 30 * 2 * np.pi
        pad.add_point(QPointF(140 + 60 * np.sin(a), 140 - 80 * np.cos(a)), new_stroke=k == 0)
    medians = {}
    for name, graph in (("mlp", mlp_graph()), ("cnn", mnist_cnn_graph())):
        model = SnapshotModel(graph)
        form = input_form(model.input_shape, model.input_dtype,
                          {"kind": "bundled", "name": "mnist"})
        for _ in range(20):                       # warm-up (numba, caches)
            model.predict(image_sample(pad.pixels(), form, drawing=True))
        forward, whole = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            x = image_sample(pad.pixels(), form, drawing=True)
            scores = model.predict(x)
            whole.append(time.perf_counter() - t)
            forward.append(scores.seconds)
        f, w = np.asarray(forward) * 1000, np.asarray(whole) * 1000
        medians[name] = float(np.median(w))
        print(f"{name}: forward pass median {np.median(f):.2f} ms (p99 {np.percentile(f, 99):.2f})"
              f" · pad → probabilities median {np.median(w):.2f} ms (p99 "
              f"{np.percentile(w, 99):.2f}) over {args.repeats} predictions")
    del app
    print(f"try_it_predict mlp_ms={medians['mlp']:.2f} cnn_ms={medians['cnn']:.2f}")


if __name__ == "__main__":
    main()
