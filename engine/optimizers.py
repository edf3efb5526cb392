"""Optimizers with Keras 3's defaults and update formulas, applied by one fused numba kernel per
step over the model's flat parameter buffer (``apply(params, grads)``).

``learning_rate`` is a plain settable property (callbacks change it between steps) or a
``schedules.LearningRateSchedule`` evaluated at ``iterations``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.kernels import optimizers as K
from engine.optimizers_schedules import LearningRateSchedule
from engine.optimizers_schedules import get as get_schedule

schedules = __import__("engine.optimizers_schedules", fromlist=["x"])


class Optimizer:
    name = "optimizer"
    _state_names: tuple[str, ...] = ()

    def __init__(self, learning_rate=0.001, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None, **kwargs):
        unknown = set(kwargs) - {"use_ema", "ema_momentum", "ema_overwrite_frequency",
                                 "loss_scale_factor", "gradient_accumulation_steps", "decay"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown arguments {sorted(unknown)}")
        if sum(v is not None for v in (clipnorm, global_clipnorm)) > 1:
            raise ValueError(f"{type(self).__name__}: give only one of clipnorm, global_clipnorm")
        self.learning_rate = learning_rate
        self.weight_decay, self.clipnorm = weight_decay, clipnorm
        self.clipvalue, self.global_clipnorm = clipvalue, global_clipnorm
        if name:
            self.name = name
        self.iterations = 0
        self._n = None
        self.segments: list[tuple[int, int]] = []

    # ---------------------------------------------------------------- learning rate
    @property
    def learning_rate(self) -> float:
        lr = self._lr
        return float(lr(self.iterations)) if isinstance(lr, LearningRateSchedule) else lr

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, (LearningRateSchedule, dict)):
            self._lr = get_schedule(value)
            return
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{type(self).__name__}: learning_rate must be a number or a "
                             f"schedule, got {value!r}") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be >= 0, got {value}")
        self._lr = value

    lr = learning_rate

    # ---------------------------------------------------------------- state
    def build(self, n: int, segments: list[tuple[int, int]] | None = None) -> None:
        """Allocate state for ``n`` parameters (kept when ``n`` is unchanged)."""
        if segments is not None:
            self.segments = segments
        if self._n == n:
            return
        self._n = n
        self._allocate(n)

    def _allocate(self, n: int) -> None:
        for s in self._state_names:
            setattr(self, s, np.zeros(n, dtype=np.float32))

    def reset(self) -> None:
        self.iterations = 0
        if self._n is not None:
            self._allocate(self._n)

    def _state_like(self, params: np.ndarray) -> None:
        for s in self._state_names:
            arr = getattr(self, s)
            if arr.dtype != params.dtype:
                setattr(self, s, arr.astype(params.dtype))

    # ---------------------------------------------------------------- step
    def apply(self, params: np.ndarray, grads: np.ndarray) -> None:
        if self._n != params.size:
            self.build(params.size)
        self._state_like(params)
        lr = self.learning_rate
        if self.clipvalue is not None:
            K.clip_values(grads, float(self.clipvalue))
        if self.global_clipnorm is not None:
            norm = float(np.sqrt(np.dot(grads, grads)))
            if norm > self.global_clipnorm:
                K.scale(grads, self.global_clipnorm / norm)
        if self.clipnorm is not None:
            for a, b in self.segments or [(0, params.size)]:
                seg = grads[a:b]
                norm = float(np.sqrt(np.dot(seg, seg)))
                if norm > self.clipnorm:
                    K.scale(seg, self.clipnorm / norm)
        if self.weight_decay:
            K.scale(params, 1.0 - lr * self.weight_decay)
        self._update(params, grads, lr)
        self.iterations += 1

    def _update(self, params, grads, lr) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        lr = self._lr
        return {"name": self.name,
                "learning_rate": lr.get_config_dict() if isinstance(lr, LearningRateSchedule)
                else lr,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        import inspect
        accepted = set(inspect.signature(cls.__init__).parameters) | set(
            inspect.signature(Optimizer.__init__).parameters)
        return cls(**{k: v for k, v in config.items() if k in accepted and k != "self"})

    def get_config_dict(self) -> dict[str, Any]:
        return {"class_name": type(self).__name__, "config": self.get_config()}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} learning_rate={self.learning_rate:g}>"


class SGD(Optimizer):
    name = "SGD"

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self._state_names = ("m",) if self.momentum else ()

    def _update(self, params, grads, lr):
        f = params.dtype.type
        if self.momentum:
            K.sgd_momentum(params, grads, self.m, f(lr), f(self.momentum), self.nesterov)
        else:
            K.sgd(params, grads, f(lr))

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    name = "RMSprop"
    _state_names = ("v", "mg", "mom")

    def __init__(self, learning_rate=0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)

    def _update(self, params, grads, lr):
        f = params.dtype.type
        K.rmsprop(params, grads, self.v, self.mg, self.mom, f(lr), f(self.rho), f(1 - self.rho),
                  f(self.momentum), f(self.epsilon), self.centered)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    name = "Adagrad"
    _state_names = ("acc",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = float(initial_accumulator_value), \
            float(epsilon)

    def _allocate(self, n):
        self.acc = np.full(n, self.initial_accumulator_value, dtype=np.float32)

    def _update(self, params, grads, lr):
        f = params.dtype.type
        K.adagrad(params, grads, self.acc, f(lr), f(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value":
                self.initial_accumulator_value, "epsilon": self.epsilon}


class Adam(Optimizer):
    name = "Adam"
    _state_names = ("m", "v", "vmax")

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)

    def _allocate(self, n):
        self.m = np.zeros(n, dtype=np.float32)
        self.v = np.zeros(n, dtype=np.float32)
        self.vmax = np.zeros(n if self.amsgrad else 0, dtype=np.float32)

    def _update(self, params, grads, lr):
        t = self.iterations + 1
        alpha = lr * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        f = params.dtype.type
        args = (f(alpha), f(1 - self.beta_1), f(1 - self.beta_2), f(self.epsilon))
        if self.amsgrad:
            K.adam_amsgrad(params, grads, self.m, self.v, self.vmax, *args)
        else:
            K.adam(params, grads, self.m, self.v, *args)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    name = "AdamW"

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.004, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


class Nadam(Optimizer):
    name = "Nadam"
    _state_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.u_product = 1.0

    def reset(self):
        super().reset()
        self.u_product = 1.0

    def _update(self, params, grads, lr):
        # Keras 3: u_t = β1(1 − ½·0.96^t); the momentum cache is the running product of u_t
        t = self.iterations + 1
        u_t = self.beta_1 * (1 - 0.5 * 0.96 ** t)
        u_t1 = self.beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
        self.u_product *= u_t
        f = params.dtype.type
        K.nadam(params, grads, self.m, self.v, f(lr), f(1 - self.beta_1), f(1 - self.beta_2),
                f(self.epsilon), f(u_t1 / (1 - self.u_product * u_t1)),
                f((1 - u_t) / (1 - self.u_product)), f(1 / (1 - self.beta_2 ** t)))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


CLASSES = {c.__name__: c for c in (SGD, RMSprop, Adagrad, Adam, AdamW, Nadam)}
NAMES = {n.lower(): c for n, c in CLASSES.items()}


def get(identifier) -> Optimizer:
    """An optimizer from a name ('adam'), a Keras config dict, or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = NAMES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {identifier!r}; valid names: "
                             + ", ".join(sorted(NAMES)))
        return cls()
    if isinstance(identifier, dict):
        name = identifier.get("class_name", "")
        cls = CLASSES.get(name) or NAMES.get(str(name).lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {name!r}; valid: " + ", ".join(CLASSES))
        return cls.from_config(identifier.get("config") or {})
    raise ValueError(f"cannot interpret {identifier!r} as an optimizer; valid names: "
                     + ", ".join(sorted(NAMES)))
