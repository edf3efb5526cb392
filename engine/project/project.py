"""A LayerLoom project: the graph, its layout and view, the data source, the training settings,
the history of every training run and the trained weights. Saved as a ``.loom`` file (see
:mod:`engine.project.file`)."""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from engine.graph import GraphDocument, build_model


class ProjectError(ValueError):
    """A project file that cannot be read or written; the message is one line for people."""


@dataclass
class TrainingConfig:
    optimizer: str = "adam"
    optimizer_args: dict[str, Any] = field(default_factory=dict)
    loss: str = "categorical_crossentropy"
    metrics: list[str] = field(default_factory=lambda: ["accuracy"])
    batch_size: int = 32
    epochs: int = 5
    validation_split: float = 0.1
    early_stopping: dict[str, Any] | None = None   # EarlyStopping kwargs, or None for off
    reduce_lr: dict[str, Any] | None = None        # ReduceLROnPlateau kwargs, or None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        _require(isinstance(data, dict), "training settings must be an object")
        types = {"optimizer": str, "optimizer_args": dict, "loss": str, "metrics": list,
                 "batch_size": int, "epochs": int, "validation_split": (int, float),
                 "early_stopping": (dict, type(None)), "reduce_lr": (dict, type(None)),
                 "seed": (int, type(None))}
        known = {f.name for f in fields(cls)}
        values = {}
        for key, value in data.items():
            if key not in known:
                continue
            ok = isinstance(value, types[key]) and not (isinstance(value, bool) and
                                                        types[key] in (int, (int, float)))
            _require(ok, f"training setting '{key}' has the wrong type ({type(value).__name__})")
            values[key] = value
        cfg = cls(**values)
        _require(all(isinstance(m, str) for m in cfg.metrics), "metrics must be names")
        _require(cfg.batch_size >= 1 and cfg.epochs >= 0, "batch_size must be >= 1 and epochs >= 0")
        _require(0 <= cfg.validation_split < 1, "validation_split must be in [0, 1)")
        return cfg

    def compile_args(self) -> dict[str, Any]:
        """``model.compile`` arguments for these settings."""
        from engine import optimizers
        opt = optimizers.get({"class_name": self.optimizer, "config": dict(self.optimizer_args)})
        return {"optimizer": opt, "loss": self.loss, "metrics": list(self.metrics)}

    def callbacks(self) -> list:
        from engine import callbacks
        out = []
        if self.early_stopping is not None:
            out.append(callbacks.EarlyStopping(**self.early_stopping))
        if self.reduce_lr is not None:
            out.append(callbacks.ReduceLROnPlateau(**self.reduce_lr))
        return out


@dataclass
class RunRecord:
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started: float = field(default_factory=time.time)
    finished: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    batch_history: dict[str, list[float]] = field(default_factory=dict)
    status: str = "running"            # completed | stopped | diverged | failed | running
    message: str = ""
    # added later: a file without them opens with these defaults, and an older LayerLoom
    # reading a newer file ignores them
    name: str = ""                     # given when the run is added ("run 3"); renamable
    note: str = ""
    backend: str = "engine"            # what trained it: LayerLoom's engine, or e.g. Keras
    duration: float | None = None      # seconds of training, pauses excluded

    STATUSES = ("running", "completed", "stopped", "diverged", "failed")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        _require(isinstance(data, dict), "a training run must be an object")
        rec = cls()
        checks = {"id": str, "started": (int, float), "finished": (int, float, type(None)),
                  "settings": dict, "history": dict, "batch_history": dict, "status": str,
                  "message": str, "name": str, "note": str, "backend": str,
                  "duration": (int, float, type(None))}
        for key, typ in checks.items():
            if key in data:
                _require(isinstance(data[key], typ), f"training run field '{key}' has the wrong type")
                setattr(rec, key, data[key])
        _require(rec.status in cls.STATUSES, f"unknown run status {rec.status!r}")
        for name in ("history", "batch_history"):
            for k, v in getattr(rec, name).items():
                _require(isinstance(v, list) and all(
                    isinstance(x, (int, float)) or x is None for x in v),
                    f"run history '{k}' must be a list of numbers")
        return rec

    def display_name(self, number: int) -> str:
        """Its name, or ``run <number>`` for a run recorded before runs had names."""
        return self.name or f"run {number}"

    def epochs_trained(self) -> int:
        """Epochs this run finished (its longest per-epoch history)."""
        return max((len(v) for v in (self.history or {}).values()), default=0)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ProjectError(message)


class Project:
    def __init__(self, graph: GraphDocument | None = None):
        self.graph = graph or GraphDocument()
        self.view: dict[str, Any] = {}  # zoom and center once the app has shown it
        self.data_source: dict[str, Any] | None = None
        self.training = TrainingConfig()
        self.runs: list[RunRecord] = []
        self.weights: dict[str, list[np.ndarray]] | None = None
        self.path: Path | None = None

    @classmethod
    def new(cls) -> Project:
        return cls()

    # ---------------------------------------------------------------- weights
    def build_model(self):
        """The engine model of the graph, with the stored weights where they still fit."""
        model = build_model(self.graph)
        if self.weights:
            for layer in model.layers:
                arrays = self.weights.get(layer.name)
                if arrays is not None and len(arrays) == len(layer.weights) and all(
                        tuple(a.shape) == w.shape for a, w in zip(arrays, layer.weights)):
                    layer.set_weights(arrays)
        return model

    def store_weights(self, model) -> None:
        self.weights = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}

    def add_run(self, record: RunRecord) -> None:
        """Append a run; an unnamed one is called ``run N``, N one above the highest number
        already used, so names stay unique when runs are deleted."""
        if not record.name:
            used = [int(m.group(1)) for i, r in enumerate(self.runs, start=1)
                    if (m := re.fullmatch(r"run (\d+)", r.display_name(i)))]
            record.name = f"run {max(used + [len(self.runs)]) + 1}"
        self.runs.append(record)
