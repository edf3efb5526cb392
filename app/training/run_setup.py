"""From a project to a training job and back, without Qt: which model to train (reused across
Train presses while the graph is unchanged), compiling it from the project's settings, the data
arrays with their validation split, the callbacks, and the run record saved afterwards.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.training.worker import RunOutcome, TrainingJob
from engine import initializers
from engine.io.atomic import atomic_path
from engine.models.data_adapter import split_validation
from engine.utils import to_categorical

MAX_BATCH_HISTORY = 2000      # per-batch points kept in a run record (evenly thinned)


class SetupError(Exception):
    """Training cannot start; the message is for the user, ``layer`` names the layer at fault."""

    def __init__(self, message: str, layer: str | None = None):
        super().__init__(message)
        self.layer = layer


# ------------------------------------------------------------------ graph and model
def first_problem(graph) -> tuple[str | None, str] | None:
    """(layer name or None, message) of the graph's first problem, or None if it can train."""
    problems = graph.problems()
    if not problems:
        return None
    node_id, message = problems[0]
    node = graph.nodes.get(node_id) if node_id else None
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return (node.name if node else None), f"{message}{more}"


def graph_key(graph) -> str:
    """What the model depends on: the graph without node positions."""
    data = graph.to_dict()
    for node in data.get("nodes", []):
        node.pop("position", None)
    return json.dumps(data, sort_keys=True, default=str)


def weights_fit(weights: dict[str, list] | None, model) -> bool:
    """True when stored ``weights`` (layer name → arrays) cover every weighted layer of
    ``model`` with the right shapes."""
    if not weights:
        return False
    for layer in model.layers:
        if not layer.weights:
            continue
        stored = weights.get(layer.name)
        if stored is None or len(stored) != len(layer.weights):
            return False
        if any(tuple(np.shape(a)) != tuple(w.shape) for a, w in zip(stored, layer.weights)):
            return False
    return True


def resume_epoch(runs: list) -> int:
    """The epoch the stored weights were trained to: the end of the last run that kept them."""
    for run in reversed(list(runs or [])):
        if run.status in ("completed", "stopped"):
            start = int((run.settings or {}).get("initial_epoch", 0))
            return start + len((run.history or {}).get("loss", []))
    return 0


class ModelSession:
    """The model being trained: kept across Train presses (training continues from its
    weights) until the graph changes, a run diverges or fails, or the user resets."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.model = None
        self.graph_key: str | None = None
        self.compile_key: str | None = None
        self.epochs_done = 0

    def model_for(self, project) -> tuple[Any, bool]:
        """(model, rebuilt): the current model, or one built from the graph (with the
        project's stored weights when they fit; otherwise freshly initialised, seeded)."""
        key = graph_key(project.graph)
        if self.model is not None and key == self.graph_key:
            return self.model, False
        seed = getattr(project.training, "seed", None)
        if seed is not None:
            initializers.set_seed(seed)
        try:
            model = project.build_model()
        except ValueError as e:       # GraphError is a ValueError that may name a node
            node = project.graph.nodes.get(getattr(e, "node_id", None) or "")
            raise SetupError(f"the network cannot be built: {e}",
                             node.name if node else None) from None
        self.model, self.graph_key, self.compile_key = model, key, None
        fitted = weights_fit(getattr(project, "weights", None), model)
        self.epochs_done = resume_epoch(project.runs) if fitted else 0
        return model, True

    def compile(self, config) -> None:
        """Compile with the project's optimizer, loss and metrics; recompiled (fresh optimizer
        state) only when those settings changed."""
        key = json.dumps([config.optimizer, config.optimizer_args, config.loss,
                          list(config.metrics or [])], sort_keys=True, default=str)
        if key == self.compile_key:
            return
        try:
            self.model.compile(**config.compile_args())
        except (ValueError, TypeError) as e:
            raise SetupError(f"training settings: {e}") from None
        self.compile_key = key

    def after_run(self, outcome: RunOutcome) -> None:
        if outcome.status in ("completed", "stopped"):
            self.epochs_done = outcome.epochs_done
        elif outcome.status in ("diverged", "failed"):
            # the weights may be non-finite or half-updated: the next Train rebuilds from the
            # project's last stored (good) weights
            self.reset()


# ------------------------------------------------------------------ data
@dataclass
class DataArrays:
    """What a data source holds: ``x`` (n, ...) or a list of input arrays, targets ``y``, an
    optional test set and the class names."""

    x: Any
    y: Any
    x_test: Any = None
    y_test: Any = None
    class_names: list[str] = field(default_factory=list)


@dataclass
class TrainingData:
    """The arrays of one run, after the validation split."""

    x_train: Any
    y_train: Any
    x_val: Any = None
    y_val: Any = None
    x_test: Any = None
    y_test: Any = None
    class_names: list[str] = field(default_factory=list)

    @property
    def validation(self) -> tuple | None:
        return None if self.x_val is None else (self.x_val, self.y_val)

    @property
    def evaluation(self) -> tuple | None:
        """Scored after training: the test set when the data has one, else validation."""
        if self.x_test is not None and self.y_test is not None:
            return self.x_test, self.y_test
        return self.validation

    @property
    def evaluation_name(self) -> str:
        return "the test set" if self.x_test is not None else "the validation split"

    def preview(self) -> tuple[Any, Any, list[str]]:
        """(x, labels, class names) offered by the activation preview."""
        x, y = self.evaluation or (self.x_train, self.y_train)
        return x, y, self.class_names


def split_data(data: DataArrays, fraction: float) -> TrainingData:
    """Hold out the last ``fraction`` of the samples for validation, as Keras's
    ``validation_split`` does (no split when ``fraction`` is 0)."""
    x, y = data.x, data.y
    if not fraction:
        return TrainingData(x, y, None, None, data.x_test, data.y_test, list(data.class_names))
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    try:
        train, val = split_validation(xs + [y], float(fraction))
    except ValueError as e:
        raise SetupError(str(e)) from None
    k = len(xs)
    many = isinstance(x, (list, tuple))
    return TrainingData(list(train[:k]) if many else train[0], train[k],
                        list(val[:k]) if many else val[0], val[k],
                        data.x_test, data.y_test, list(data.class_names))


def load_data_source(project) -> DataArrays:
    """Read the project's data source."""
    from engine.data import DataError, DataSource
    spec = getattr(project, "data_source", None)
    if not spec:
        raise SetupError("choose a data source first (Data panel)")
    if spec.get("kind") == "keras_dataset" and not spec.get("path"):
        from engine.datasets import catalog
        if spec.get("name") in catalog.DATASETS and not catalog.is_downloaded(spec["name"]):
            info = catalog.info(spec["name"])
            raise SetupError(f"{info.title} is not downloaded yet: download it in the Data "
                             f"panel ({info.download_mb:.0f} MB), or point it to your copy")
    try:
        loaded = DataSource.from_dict(spec).load()
    except (DataError, OSError, ValueError) as e:
        raise SetupError(f"the data could not be read: {e}") from None
    if loaded.y_train is None:
        raise SetupError(f"the data source has no labels (targets) to train on: {spec}")
    return DataArrays(loaded.x_train, loaded.y_train, loaded.x_test, loaded.y_test,
                      list(loaded.class_names or []))


def targets_for_loss(y, loss: str, n_out: int | None):
    """Class labels in the form the loss expects: integer labels become one-hot rows for
    ``categorical_crossentropy``, one-hot rows become labels for the sparse loss; other
    targets are returned unchanged."""
    if y is None or n_out is None or n_out < 2 or isinstance(y, (list, tuple, dict)):
        return y
    a = np.asarray(y)
    if loss == "categorical_crossentropy" and (a.ndim == 1 or a.shape[1:] == (1,)) and \
            a.dtype.kind in "iu" and a.size and 0 <= a.min() and a.max() < n_out:
        return to_categorical(a, n_out)
    if loss == "sparse_categorical_crossentropy" and a.ndim == 2 and a.shape[1] == n_out:
        return a.argmax(axis=1)
    return y


def fit_to_model(data: TrainingData, model, loss: str) -> TrainingData:
    """``data`` with its targets in the form ``loss`` needs (single-output models)."""
    if len(model.outputs) != 1:
        return data
    n_out = model.outputs[0].shape[-1]
    return TrainingData(data.x_train, targets_for_loss(data.y_train, loss, n_out), data.x_val,
                        targets_for_loss(data.y_val, loss, n_out), data.x_test,
                        targets_for_loss(data.y_test, loss, n_out), data.class_names)


# ------------------------------------------------------------------ the job and its record
def make_callbacks(config) -> list:
    """EarlyStopping / ReduceLROnPlateau from the settings (``None`` = off)."""
    try:
        return config.callbacks()
    except (TypeError, ValueError) as e:
        raise SetupError(f"training settings: {e}") from None


def make_job(model, data: TrainingData, config, epochs_done: int, train: bool = True
             ) -> TrainingJob:
    """A job that trains ``config.epochs`` more epochs, continuing from ``epochs_done``."""
    if config.batch_size < 1 or config.epochs < 1:
        raise SetupError(f"training settings: batch size and epochs must be at least 1 "
                         f"(got {config.batch_size} and {config.epochs})")
    return TrainingJob(model, data.x_train, data.y_train, validation=data.validation,
                       evaluation=data.evaluation, batch_size=int(config.batch_size),
                       epochs=epochs_done + int(config.epochs), initial_epoch=epochs_done,
                       callbacks=make_callbacks(config) if train else [], seed=config.seed,
                       train=train, class_names=data.class_names)


def thin(x: np.ndarray, y: np.ndarray, limit: int = MAX_BATCH_HISTORY) -> tuple[list, list]:
    """At most ``limit`` evenly spaced points of (x, y), the last point always kept."""
    if len(x) <= limit:
        return x.tolist(), y.tolist()
    idx = np.unique(np.linspace(0, len(x) - 1, limit).round().astype(np.int64))
    return x[idx].tolist(), y[idx].tolist()


def record_run(project, job: TrainingJob, outcome: RunOutcome, started: float, buffer) -> Any:
    """Add a RunRecord of this run to ``project`` (settings used, per-epoch history, per-batch
    values thinned to ``MAX_BATCH_HISTORY`` points with their fractional epoch under "epoch")
    and return it."""
    from engine.project import RunRecord
    settings = project.training.to_dict()
    settings["initial_epoch"] = job.initial_epoch
    batch_history: dict[str, list[float]] = {}
    for name, series in buffer.metrics.items():
        start = int(np.searchsorted(series.batch_raw.x, job.initial_epoch, side="right"))
        bx, by = thin(series.batch_raw.x[start:], series.batch_raw.y[start:])
        if by and ("epoch" not in batch_history or len(bx) == len(batch_history["epoch"])):
            batch_history.setdefault("epoch", bx)
            batch_history[name] = [v if np.isfinite(v) else None for v in by]
    message = outcome.message
    if outcome.status == "diverged" and outcome.layer and outcome.layer not in message:
        message = f"{message} (layer '{outcome.layer}')"
    history = {k: [v if np.isfinite(v) else None for v in vals]
               for k, vals in outcome.history.items()}
    record = RunRecord(started=started, finished=time.time(), settings=settings,
                       history=history, batch_history=batch_history, status=outcome.status,
                       message=message, duration=round(outcome.seconds, 3) or None)
    project.add_run(record)
    return record


# ------------------------------------------------------------------ export
def export_h5(model, path: str | Path) -> Path:
    """The trained model as a Keras HDF5 file."""
    from engine.io.keras_h5 import save_model
    path = Path(path)
    save_model(model, str(path), overwrite=True)
    return path


def export_script(project, model, path: str | Path) -> Path:
    """A Keras script for the project; with a trained ``model``, its weights are saved next
    to the script (``<script>.weights.h5``) and loaded by it."""
    from engine.io.codegen import keras_script
    path = Path(path)
    weights_path = None
    if model is not None:
        weights_path = path.with_suffix(".weights.h5")
        model.save_weights(str(weights_path))
    text = keras_script(project.graph, project.training,
                        weights_path=None if weights_path is None else weights_path.name)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
