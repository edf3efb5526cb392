"""From a project to a training job and back, without Qt: which model to train (reused across
Train presses while the graph is unchanged), compiling it from the project's settings, the data
arrays with their validation split, the callbacks, and the run record saved afterwards.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from app.training.worker import RunOutcome, TrainingJob
from engine import initializers
from engine.models.data_adapter import split_validation
from engine.utils import to_categorical

MAX_BATCH_HISTORY = 2000      # per-batch points kept in a run record (evenly thinned)
# The Train button streams an image folder whose images would take more than this as one
# float32 array, or whose source says `streaming`: batches are decoded on background threads
# while the step runs (engine/data/prefetch.py), so the app's memory does not grow with the
# folder (20,000 images of 64×64×3 are 0.98 GB as one array).
STREAM_ABOVE_BYTES = 256 << 20
# Streamed data is evaluated (confusion matrix, worst samples) and previewed on a sample.
EVAL_SAMPLES = 1000
EVAL_BYTES = 32 << 20


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
class StreamedSource:
    """A data source the Train button streams rather than loads (see STREAM_ABOVE_BYTES)."""

    source: Any                # engine.data.DataSource
    decoded_bytes: int         # its images as one float32 array


@dataclass
class TrainingData:
    """The arrays of one run, after the validation split. Streamed data has batch Sequences
    as ``x_train`` / ``x_val`` (labels inside, ``y_*`` None) and an in-memory sample as the
    test set (``evaluation_label`` says what it is)."""

    x_train: Any
    y_train: Any
    x_val: Any = None
    y_val: Any = None
    x_test: Any = None
    y_test: Any = None
    class_names: list[str] = field(default_factory=list)
    evaluation_label: str | None = None

    @property
    def streamed(self) -> bool:
        return hasattr(self.x_train, "first_pass")

    @property
    def validation(self) -> Any:
        if self.x_val is None:
            return None
        return self.x_val if self.y_val is None else (self.x_val, self.y_val)

    @property
    def evaluation(self) -> tuple | None:
        """Scored after training: the test set when the data has one, else validation."""
        if self.x_test is not None and self.y_test is not None:
            return self.x_test, self.y_test
        return self.validation

    @property
    def evaluation_name(self) -> str:
        if self.evaluation_label:
            return self.evaluation_label
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


def load_data_source(project) -> DataArrays | StreamedSource:
    """Read the project's data source (an image folder too big to hold: only look at it)."""
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
        source = DataSource.from_dict(spec)
        size = source.decoded_bytes()
        if size is not None and (source.streaming or size > STREAM_ABOVE_BYTES):
            return StreamedSource(source, size)
        loaded = source.load()
    except (DataError, OSError, ValueError) as e:
        raise SetupError(f"the data could not be read: {e}") from None
    if loaded.y_train is None:
        raise SetupError(f"the data source has no labels (targets) to train on: {spec}")
    return DataArrays(loaded.x_train, loaded.y_train, loaded.x_test, loaded.y_test,
                      list(loaded.class_names or []))


def stream_data(streamed: StreamedSource, fraction: float, batch_size: int,
                loss: str) -> TrainingData:
    """Batch Sequences of a streamed source: ``fraction`` held out for validation (drawn
    with the source's seed, unless the source sets its own split), labels one-hot for
    categorical_crossentropy, and a decoded sample of the held-out images (or of the training
    images without one) for the evaluation and the previews."""
    from engine.data import DataError, DataSource
    from engine.data.streaming import sample_batches
    spec = streamed.source.to_dict()
    if fraction and not spec.get("validation_fraction"):
        spec["validation_fraction"] = float(fraction)
    if loss == "categorical_crossentropy":
        spec["one_hot"] = True
    try:
        data = DataSource.from_dict(spec).stream(batch_size=int(batch_size))
        held = data.test if data.test is not None else data.validation
        x_eval, y_eval = sample_batches(data.train if held is None else held, EVAL_SAMPLES,
                                        EVAL_BYTES)
    except (DataError, OSError, ValueError) as e:
        raise SetupError(f"the data could not be read: {e}") from None
    data.train.decoded = 0          # the sample is not the first pass
    what = "held-out" if held is not None else "training"
    label = f"a sample of {len(x_eval):,} {what} images (the data is streamed)"
    return TrainingData(data.train, None, data.validation, None, x_eval, y_eval,
                        list(data.class_names or []), evaluation_label=label)


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
    return replace(data, y_train=targets_for_loss(data.y_train, loss, n_out),
                   y_val=targets_for_loss(data.y_val, loss, n_out),
                   y_test=targets_for_loss(data.y_test, loss, n_out))


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
                       train=train, class_names=data.class_names,
                       run_on=getattr(config, "run_on", "engine"),
                       devices=int(getattr(config, "devices", 1)))


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
                       message=message, duration=round(outcome.seconds, 3) or None,
                       backend=outcome.backend,
                       devices=job.devices if job.run_on == "keras" else 1)
    project.add_run(record)
    return record


# ------------------------------------------------------------------ export
def export_h5(model, path: str | Path) -> Path:
    """The trained model (compiled: its training settings go with it) as a Keras file:
    ``.keras`` (Keras 3) or ``.h5`` (legacy HDF5), by the extension."""
    from engine.saving import save_model
    path = Path(path)
    save_model(model, str(path), overwrite=True)
    return path


def export_script(project, model, path: str | Path) -> Path:
    """A Keras script for the project; with a trained ``model``, its weights are saved next
    to the script (``<script>.weights.h5``) and loaded by it, as are the project's arrays when
    the script cannot read its data source by itself (``<script>_data.npz``)."""
    from engine.io.script_export import export_script as write_script
    return write_script(project, path, model=model)[0]
