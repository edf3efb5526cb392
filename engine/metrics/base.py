"""The metric base classes, as Keras 3's ``keras.metrics``: :class:`Metric` (state in
variables made by ``add_variable``, ``update_state`` / ``result`` / ``reset_state``),
:class:`MeanMetricWrapper` (the weighted mean of per-sample values — most built-in metrics),
:class:`Mean` and :class:`Sum`; and the target-shaping helpers the built-ins share. Updates are
a few vectorized numpy calls: they run on every training step."""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from engine.layers.base import _snake


def _weights_for(sample_weight, shape: tuple) -> np.ndarray:
    """Per-sample weights (N,) or (N, 1) broadcast to ``shape`` (N, ...)."""
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == len(shape) + 1 and w.shape[-1] == 1:
        w = w[..., 0]
    w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))
    return np.broadcast_to(w, shape)


class Metric:
    """Keras 3's base: a subclass makes its state with :meth:`add_variable` in ``__init__``,
    accumulates it in ``update_state(y_true, y_pred, sample_weight=None)`` and reports it in
    ``result()``; ``reset_state()`` (by default: every variable back to 0) runs between epochs.
    Its name defaults to the snake_case class name (``CategoricalTruePositives`` →
    ``categorical_true_positives``)."""

    def __init__(self, dtype=None, name: str | None = None):
        own = type(self).__dict__.get("name")         # a built-in's Keras name
        self.name = name or (own if isinstance(own, str) else _snake(type(self).__name__))
        self._dtype = np.dtype(getattr(dtype, "name", dtype) or "float32").name
        self._variables: list = []

    # ------------------------------------------------------------ state
    @property
    def dtype(self) -> str:
        return self.__dict__.get("_dtype", "float32")

    @property
    def where(self) -> str:
        """How error messages name this metric."""
        return f"metric '{self.name}'"

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation: str = "sum",
                     name: str | None = None):
        """A state variable (not trained): ``.assign`` / ``.assign_add`` / arithmetic, read with
        ``np.asarray`` — as a Keras Variable."""
        if "_variables" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() in __init__ "
                               f"before add_variable()")
        from engine.layers.base import Weight
        var = Weight(self, name or f"variable_{len(self._variables)}", tuple(shape),
                     initializer if initializer is not None else "zeros", trainable=False,
                     dtype=dtype or self.dtype)
        self._variables.append(var)
        return var

    def add_weight(self, shape=(), initializer=None, dtype=None, name: str | None = None):
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype, name=name)

    @property
    def variables(self) -> list:
        """This metric's variables, then those of metrics held as attributes."""
        out = list(self.__dict__.get("_variables", []))
        for value in self.__dict__.values():
            if isinstance(value, Metric) and value is not self:
                out.extend(value.variables)
        return out

    def reset_state(self) -> None:
        for v in self.variables:
            v.assign(np.zeros(v.shape, dtype=v.dtype))

    def reset_states(self) -> None:      # Keras 2's name
        self.reset_state()

    # ------------------------------------------------------------ computing
    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update_state(y_true, "
                                  f"y_pred, sample_weight=None)")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must define result()")

    def __call__(self, *args, **kwargs):
        """Update with one batch and return the result so far."""
        self.update_state(*args, **kwargs)
        return self.result()

    # ------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<metric {self.name}>"


def config_from_init(metric: Metric) -> dict[str, Any]:
    """A built-in metric's config: name, dtype and its constructor's other arguments, read back
    from the attributes of the same names."""
    cfg = {"name": metric.name, "dtype": metric.dtype}
    for p in list(inspect.signature(type(metric).__init__).parameters)[1:]:
        if p not in ("name", "dtype", "fn", "kwargs") and hasattr(metric, p):
            cfg[p] = getattr(metric, p)
    return cfg


class MeanMetricWrapper(Metric):
    """The (weighted) mean over all samples of ``fn(y_true, y_pred, **kwargs)`` — Keras's
    ``keras.metrics.MeanMetricWrapper``. Built-in metrics define ``values(y_true, y_pred)``
    instead of passing ``fn``."""

    def __init__(self, fn=None, name: str | None = None, dtype=None, **kwargs):
        super().__init__(dtype=dtype, name=name or getattr(fn, "__name__", None))
        self._fn, self._fn_kwargs = fn, kwargs
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        values = np.asarray(self.values(np.asarray(y_true), np.asarray(y_pred)),
                            dtype=np.float64)
        if sample_weight is None:
            self.total += float(np.sum(values))
            self.count += values.size
        else:
            w = _weights_for(sample_weight, values.shape)
            self.total += float(np.sum(values * w))
            self.count += float(np.sum(w))

    def values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        if self._fn is None:
            raise NotImplementedError(f"metric {self.name!r} defines neither values() nor fn")
        from engine.ops.tape import as_data
        return np.asarray(as_data(self._fn(y_true, y_pred, **self._fn_kwargs)))

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def get_config(self) -> dict:
        return config_from_init(self)


class Mean(MeanMetricWrapper):
    """Weighted mean of the values given: ``update_state(values, sample_weight=None)``."""
    name = "mean"

    def __init__(self, name: str | None = None, dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, values, sample_weight=None) -> None:  # type: ignore[override]
        from engine.ops.tape import as_data
        v = np.asarray(as_data(values), dtype=np.float64)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += v.size
        else:
            w = _weights_for(sample_weight, v.shape)
            self.total += float(np.sum(v * w))
            self.count += float(np.sum(w))


class Sum(Mean):
    """Weighted sum of the values given."""
    name = "sum"

    def result(self) -> float:
        return self.total


def _labels(y_true, y_pred):
    """Integer labels shaped like ``y_pred`` without its class axis."""
    y = np.asarray(y_true)
    return y.reshape(y_pred.shape[:-1]).astype(np.int64)


def _like(y_true, y_pred):
    """y_true reshaped to y_pred's shape when they hold as many values ((N,) vs (N, 1))."""
    return y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true


def _truth_like(y_true, y_pred) -> np.ndarray:
    """Boolean targets shaped like y_pred: one-hot from class numbers when y_true is sparse."""
    y = np.asarray(y_true)
    if y.size != y_pred.size:
        onehot = np.zeros(y_pred.shape, dtype=bool)
        np.put_along_axis(onehot, _labels(y, y_pred)[..., None], True, axis=-1)
        return onehot
    return y.reshape(y_pred.shape) > 0.5
