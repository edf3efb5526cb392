"""A LayerLoom project: the graph, its layout and view, the data source, the training settings,
the history of every training run and the trained weights. Saved as a ``.loom`` file (see
:mod:`engine.io.project_file`)."""
from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from engine.graph import GraphDocument


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

    STATUSES = ("running", "completed", "stopped", "diverged", "failed")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        _require(isinstance(data, dict), "a training run must be an object")
        rec = cls()
        checks = {"id": str, "started": (int, float), "finished": (int, float, type(None)),
                  "settings": dict, "history": dict, "batch_history": dict, "status": str,
                  "message": str}
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


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ProjectError(message)


class Project:
    AUTOSAVE_SUFFIX = ".autosave"

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
        model = self.graph.to_model()
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
        self.runs.append(record)

    # ---------------------------------------------------------------- files
    @classmethod
    def load(cls, path) -> Project:
        from engine.io.project_file import read_project
        return read_project(cls, Path(path))

    def save(self, path=None) -> Path:
        from engine.io.project_file import write_project
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ProjectError("the project has no file yet; choose where to save it")
        write_project(self, target, keep_backup=True)
        self.path = target
        autosave = self.autosave_path(target)
        if autosave.exists():
            autosave.unlink()
        return target

    @classmethod
    def autosave_path(cls, path) -> Path:
        path = Path(path)
        return path.with_name(path.name + cls.AUTOSAVE_SUFFIX)

    def autosave(self, fallback_dir: Path | None = None) -> Path:
        """Write the side file that the app offers to restore after a crash."""
        from engine.io.project_file import write_project
        if self.path is not None:
            target = self.autosave_path(self.path)
        else:
            folder = fallback_dir or Path.home() / ".layerloom"
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / ("untitled.loom" + self.AUTOSAVE_SUFFIX)
        write_project(self, target, keep_backup=False)
        return target

    @classmethod
    def find_autosave(cls, path) -> Path | None:
        """The autosave of ``path`` when it is newer than the file itself."""
        path = Path(path)
        side = cls.autosave_path(path)
        if side.is_file() and (not path.exists() or side.stat().st_mtime > path.stat().st_mtime):
            return side
        return None
