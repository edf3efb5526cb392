"""Predictions for the "Try it" panel from a snapshot of the weights (Qt-free).

The panel never runs the model being trained: :class:`SnapshotModel` builds its own copy of the
project's network from the graph (new layer objects), with its own execution lock
(``engine.models.functional.isolate_execution``), and loads weight snapshots into it — taken by
the training worker between two batches, or read from an idle model or the project file. So a
prediction never waits for a training step and a training step never waits for a prediction.
The panel predicts on a thread of its own (:mod:`app.training.prediction_service`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from app.training.run_setup import graph_key
from engine.graph import build_model
from engine.models.functional import isolate_execution


@dataclass
class Scores:
    """What the model says about one input: (label, value) pairs in class order."""

    pairs: list[tuple[str, float]]
    probabilities: bool           # values are class probabilities (else raw outputs)
    seconds: float                # time of the forward pass

    def ranked(self) -> list[tuple[str, float]]:
        """The pairs, best first."""
        return sorted(self.pairs, key=lambda kv: -kv[1])


class SnapshotModel:
    """A private model of ``graph`` for predictions from weight snapshots."""

    def __init__(self, graph):
        self.key = graph_key(graph)
        self.model = build_model(graph)
        isolate_execution(self.model)
        self.loaded = 0               # layers whose weights came from the last snapshot
        self.input_shape = tuple(self.model.inputs[0].shape[1:])
        self.input_dtype = str(getattr(self.model.inputs[0], "dtype", "float32"))

    def matches(self, graph) -> bool:
        return graph_key(graph) == self.key

    def load(self, weights: dict[str, list[np.ndarray]] | None) -> int:
        """Take the layers' weights from a snapshot (layer name → arrays) where the shapes
        fit; returns how many layers were loaded."""
        self.loaded = 0
        for layer in self.model.layers:
            arrays = (weights or {}).get(layer.name)
            if arrays is not None and len(arrays) == len(layer.weights) and all(
                    tuple(np.shape(a)) == tuple(w.shape) for a, w in zip(arrays, layer.weights)):
                layer.set_weights(arrays)
                self.loaded += 1
        return self.loaded

    @property
    def weighted_layers(self) -> int:
        return sum(1 for layer in self.model.layers if layer.weights)

    def predict(self, x: np.ndarray, class_names: list[str] | None = None) -> Scores:
        """Scores of one sample ``x`` (shape (1, *input_shape))."""
        t = time.perf_counter()
        out = self.model(x, training=False)
        seconds = time.perf_counter() - t
        if isinstance(out, list):
            out = out[0]
        return scores(np.asarray(out, dtype=np.float64).reshape(-1), class_names, seconds)


def scores(out: np.ndarray, class_names: list[str] | None, seconds: float = 0.0) -> Scores:
    """Label the model's output: a sigmoid unit → (positive, negative) probabilities; a
    probability vector → its classes; anything else (logits, regression) → raw values."""
    names = list(class_names or [])
    if out.size == 1:
        p = float(out[0])
        if 0.0 <= p <= 1.0:
            no, yes = (names[0], names[1]) if len(names) == 2 else ("0", "1")
            return Scores([(no, 1.0 - p), (yes, p)], True, seconds)
        return Scores([("output", p)], False, seconds)
    labels = names if len(names) == out.size else [str(i) for i in range(out.size)]
    probabilities = bool(np.all(out >= -1e-6) and abs(float(out.sum()) - 1.0) < 1e-3)
    return Scores([(labels[i], float(v)) for i, v in enumerate(out)], probabilities, seconds)

