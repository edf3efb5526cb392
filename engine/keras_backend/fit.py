"""``fit`` on Keras 3 for an engine model: the same call as ``Model.fit`` plus ``devices``.

The engine's callbacks run unchanged (the app's dashboard feed with pause/resume/stop, the
CLI's Ctrl-C, EarlyStopping, ReduceLROnPlateau...): a Keras callback forwards every hook to
them with a :class:`KerasModelView` as their ``model`` — ``stop_training``, the optimizer's
learning rate and the weights act on the Keras model. A non-finite loss stops training as on
the engine (``model.training_error``, naming the first layer whose weights went non-finite).
The trained weights, the optimizer's state and the history come back into the engine model.

Data-parallel over ``devices`` (> 1): ``keras.distribution.DataParallel`` on JAX,
``tf.distribute.MirroredStrategy`` on TensorFlow. Each batch is split over the devices, so the
batch size must divide evenly; a last partial batch that would not is trimmed (at most
``devices - 1`` samples, reported in the history's ``dropped_samples``).
"""
from __future__ import annotations

import contextlib
import math

import numpy as np

from engine.keras_backend import KerasBackendError
from engine.keras_backend.convert import (
    attach_state,
    compile_keras,
    copy_weights_back,
    first_nonfinite_layer,
    optimizer_back,
    to_keras,
)
from engine.keras_backend.probe import import_keras, list_devices


# ------------------------------------------------------------------ devices
def distribution_scope(keras, devices: int):
    """A context in which models are built and trained over ``devices`` devices."""
    if devices == 1:
        return contextlib.nullcontext()
    backend = keras.backend.backend()
    available = list_devices(keras)
    if devices > len(available):
        raise KerasBackendError(
            f"{devices} devices were asked for, but Keras ({backend}) sees "
            f"{len(available)}: {', '.join(available)}")
    if backend == "jax":
        return keras.distribution.DataParallel(devices=available[:devices]).scope()
    if backend == "tensorflow":
        import tensorflow as tf
        gpus = tf.config.list_logical_devices("GPU")
        names = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=names[:devices]).scope()
    raise KerasBackendError(f"data-parallel training over {devices} devices needs the JAX or "
                            f"TensorFlow backend; Keras runs on {backend} here")


def _first(x):
    return x[0] if isinstance(x, (list, tuple)) else x


def _take(x, n: int):
    return [a[:n] for a in x] if isinstance(x, (list, tuple)) else x[:n]


def even_for_devices(x, y, batch_size: int, devices: int) -> tuple:
    """``(x, y, dropped)``: the samples whose batches all split evenly over ``devices``."""
    if devices == 1:
        return x, y, 0
    if batch_size % devices:
        raise KerasBackendError(f"batch size {batch_size} does not split over {devices} "
                                f"devices; use a multiple of {devices}")
    n = len(_first(x))
    drop = (n % batch_size) % devices
    return _take(x, n - drop), (None if y is None else _take(y, n - drop)), drop


# ------------------------------------------------------------------ callbacks
class _OptimizerView:
    """The Keras optimizer as engine callbacks use one: a float ``learning_rate``.

    JAX detaches a model's variables for the length of an epoch, so the rate and the step
    count are read when Keras has them attached (train and epoch boundaries, where callbacks
    change the rate) and the step count is advanced per batch; a schedule is evaluated at it.
    """

    def __init__(self, optimizer, engine_optimizer):
        self._opt = optimizer
        self._schedule = getattr(engine_optimizer, "_lr", None)
        if isinstance(self._schedule, (int, float)):
            self._schedule = None
        self._lr = 0.0
        self.iterations = 0

    def refresh(self) -> None:
        """Read the rate and step count (only where Keras has its variables attached)."""
        self.iterations = int(np.asarray(self._opt.iterations))
        if self._schedule is None:
            self._lr = float(np.asarray(self._opt.learning_rate))

    @property
    def learning_rate(self) -> float:
        if self._schedule is not None:
            return float(self._schedule(self.iterations))
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self._opt.learning_rate = float(value)
        self._lr = float(value)

    lr = learning_rate


class KerasModelView:
    """What an engine callback sees as ``self.model`` while Keras trains: stopping, the
    learning rate and the weights act on the Keras model; everything else (names, outputs,
    metrics) is the engine model's."""

    def __init__(self, model, kmodel):
        self._engine, self._keras = model, kmodel
        self.optimizer = _OptimizerView(kmodel.optimizer, model.optimizer)

    @property
    def stop_training(self) -> bool:
        return bool(self._keras.stop_training)

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        self._keras.stop_training = bool(value)

    def get_weights(self) -> list[np.ndarray]:
        attach_state(self._keras)
        return [np.asarray(a) for a in self._keras.get_weights()]

    def set_weights(self, weights) -> None:
        self._keras.set_weights(weights)

    def sync_to_engine(self) -> None:
        """Copy the weights trained so far into the engine model (while training is paused,
        so the app can show activations of the current weights)."""
        copy_weights_back(self._keras, self._engine)

    def save(self, filepath, *args, **kwargs) -> None:
        copy_weights_back(self._keras, self._engine)
        self._engine.save(filepath, *args, **kwargs)

    def save_weights(self, filepath, *args, **kwargs) -> None:
        copy_weights_back(self._keras, self._engine)
        self._engine.save_weights(filepath, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._engine, name)


def _floats(logs) -> dict[str, float]:
    return {k: float(np.asarray(v)) for k, v in (logs or {}).items()
            if np.size(np.asarray(v)) == 1}


def _bridge(keras, model, view, engine_callbacks):
    """A Keras callback that forwards every hook to the engine's callbacks."""

    class EngineCallbacks(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.cbs = engine_callbacks
            self.epoch = 0

        def on_train_begin(self, logs=None):
            view.optimizer.refresh()
            self.cbs.on_train_begin(_floats(logs))

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            view.optimizer.refresh()
            self.cbs.on_epoch_begin(epoch, _floats(logs))

        def on_train_batch_begin(self, batch, logs=None):
            self.cbs.on_train_batch_begin(batch, _floats(logs))

        def on_train_batch_end(self, batch, logs=None):
            view.optimizer.iterations += 1
            logs = _floats(logs)
            loss = logs.get("loss")
            if loss is not None and not math.isfinite(loss):
                from engine.models.functional import NonFiniteError
                layer = first_nonfinite_layer(view._keras, model)
                where = f" (the weights of layer '{layer.name}' hold NaN or inf)" if layer \
                    else ""
                model.training_error = NonFiniteError(
                    f"Training stopped at epoch {self.epoch + 1}, batch {batch + 1}: the loss "
                    f"became {loss} on Keras{where}", layer)
                view.stop_training = True
                return
            self.cbs.on_train_batch_end(batch, logs)

        def on_test_batch_end(self, batch, logs=None):
            """Nothing to forward; having the hook keeps Keras reading validation logs on the
            training thread — on JAX over several CPU devices, reads on Keras's helper
            threads can stall XLA's all-reduce for good (see codegen.distribution_callbacks)."""

        def on_epoch_end(self, epoch, logs=None):
            view.optimizer.refresh()
            self.cbs.on_epoch_end(epoch, _floats(logs))

        def on_train_end(self, logs=None):
            self.cbs.on_train_end(_floats(logs))

    return EngineCallbacks()


# ------------------------------------------------------------------ fit
def fit(model, x, y=None, batch_size: int = 32, epochs: int = 1, verbose: int = 0,
        callbacks=None, validation_split: float = 0.0, validation_data=None,
        shuffle: bool = True, initial_epoch: int = 0, seed: int | None = None,
        devices: int = 1):
    """Train the compiled engine ``model`` on Keras 3; returns the engine ``History``."""
    from engine.callbacks import CallbackList, History
    from engine.models.data_adapter import split_validation
    keras = import_keras()
    if not isinstance(devices, int) or devices < 1:
        raise KerasBackendError(f"devices must be a whole number >= 1, got {devices!r}")
    many = isinstance(x, (list, tuple))
    xs = list(x) if many else [x]
    if validation_data is None and validation_split:
        train, val = split_validation(xs + [y], float(validation_split))
        xs, y = list(train[:-1]), train[-1]
        validation_data = (list(val[:-1]) if many else val[0], val[-1])
    x = xs if many else xs[0]
    scope = distribution_scope(keras, devices)      # checks the devices first
    x, y, dropped = even_for_devices(x, y, batch_size, devices)
    if validation_data is not None:
        vx, vy, _ = even_for_devices(*validation_data[:2], batch_size, devices)
        validation_data = (vx, vy)
    model.training_error = None
    model.stop_training = False
    if seed is not None:
        keras.utils.set_random_seed(seed)
    with scope:
        kmodel = to_keras(keras, model)
        compile_keras(keras, model, kmodel)
        view = KerasModelView(model, kmodel)
        steps = math.ceil(len(_first(x)) / batch_size)
        cbs = CallbackList(list(callbacks or []), add_history=True, model=view,
                           epochs=epochs, steps=steps, verbose=verbose)
        kmodel.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                   callbacks=[_bridge(keras, model, view, cbs)],
                   validation_data=validation_data, shuffle=shuffle,
                   initial_epoch=initial_epoch)
    if model.training_error is None:
        copy_weights_back(kmodel, model)
        optimizer_back(kmodel, model)
    history = next(cb for cb in cbs.callbacks if isinstance(cb, History))
    history.dropped_samples = dropped
    model.history = history
    return history
