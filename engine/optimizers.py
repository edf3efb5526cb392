"""Optimizers with Keras 3's defaults and update formulas, applied by one fused numba kernel per
step over the model's flat parameter buffer (``apply(params, grads)``).

``learning_rate`` is a plain settable property (callbacks change it between steps) or a
``schedules.LearningRateSchedule`` evaluated at ``iterations``.
"""
from __future__ import annotations

import math
import warnings
from numbers import Real
from typing import Any

import numpy as np

from engine import optimizers_schedules as schedules  # noqa: F401  (keras.optimizers.schedules)
from engine import threading_policy as policy
from engine.kernels import optimizers as K
from engine.optimizers_schedules import LearningRateSchedule
from engine.optimizers_schedules import get as get_schedule

# Keras 3 arguments we accept for compatibility but do not implement: warn when they are set
_IGNORED = {"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
            "loss_scale_factor": None, "gradient_accumulation_steps": None}


# What one parameter's update costs, in the floating-point operations that threading_policy's
# thresholds count. Adam, serial vs 2 threads (update_parallel in kernels/optimizers.py),
# median of 200 (2026-12-03), with the worker already awake / asleep (waking it: ~76 µs on an
# idle machine, threading_policy.py): 101,770 parameters (seed MLP) 55 vs 44 / 72 vs 146 µs,
# 250,000 119 vs 79 / 163 vs 209, 693,962 (seed CNN) 293 vs 192 / 442 vs 402, 2,000,000
# 1,084 vs 777 / 1,128 vs 1,003. Workers sleep by default, so 10 per parameter puts the
# threshold (policy.PARALLEL_MIN_FLOPS) at 400,000 parameters.
UPDATE_FLOPS_PER_PARAM = 10


class Optimizer:
    """Base: state buffers of ``n`` elements (``build``), one fused kernel per ``apply``.

    Before the update, as Keras 3: gradients are clipped (only one of clipnorm — per weight
    when ``segments`` are known, else over the whole buffer —, global_clipnorm, clipvalue), then
    ``weight_decay`` shrinks the parameters by ``lr·weight_decay`` (decoupled, AdamW-style).
    Clipping rewrites ``grads`` in place.
    """
    name = "optimizer"
    _state_names: tuple[str, ...] = ()
    # the state buffers that decay towards 0 while a parameter's gradient stays 0 (moving
    # averages): every flush_every() steps their entries below K.TINY are set to 0, so that
    # they never become subnormal floats (kernels/optimizers.py); _rates: the attributes that
    # hold their rates of decay per step
    _decaying: tuple[str, ...] = ()
    _rates: tuple[str, ...] = ()

    def __init__(self, learning_rate=0.001, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None, **kwargs):
        who = type(self).__name__
        unknown = set(kwargs) - set(_IGNORED) - {"decay"}
        if unknown:
            raise TypeError(f"{who}: unknown arguments {sorted(unknown)}")
        if kwargs.get("decay") is not None:
            warnings.warn(f"{who}: argument 'decay' is no longer supported (Keras 3) and is "
                          f"ignored; use a learning-rate schedule", UserWarning, stacklevel=3)
        for k, default in _IGNORED.items():
            if k in kwargs and kwargs[k] != default:
                warnings.warn(f"{who}: argument {k!r} is not supported by this engine and is "
                              f"ignored", UserWarning, stacklevel=3)
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(f"{who}: give only one of clipnorm, clipvalue and global_clipnorm "
                             f"(got clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm})")
        for k, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                     ("global_clipnorm", global_clipnorm), ("weight_decay", weight_decay)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, Real)
                                  or not math.isfinite(v) or v < 0):
                raise ValueError(f"{who}: {k} must be a number >= 0 or None, got {v!r}")
        self.learning_rate = learning_rate
        self.weight_decay, self.clipnorm = weight_decay, clipnorm
        self.clipvalue, self.global_clipnorm = clipvalue, global_clipnorm
        if name:
            self.name = name
        self.iterations = 0
        self._n = None
        self.segments: list[tuple[int, int]] = []
        self.shapes: list[tuple[int, ...]] = []

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
    def build(self, n: int, segments: list[tuple[int, int]] | None = None,
              shapes: list[tuple[int, ...]] | None = None) -> None:
        """Allocate state for ``n`` parameters (kept when ``n`` and the layout are unchanged).
        ``segments``: the (start, stop) range of each weight in the flat buffer, for per-weight
        clipnorm; ``shapes``: each weight's shape, for optimizers whose state is per weight
        (Adafactor factors a matrix's second moment)."""
        layout = (list(segments or []), [tuple(s) for s in shapes or []])
        if shapes is not None and len(layout[1]) != len(layout[0]):
            raise ValueError(f"{type(self).__name__}.build: {len(layout[1])} shapes for "
                             f"{len(layout[0])} segments")
        changed = segments is not None and layout != (self.segments, self.shapes)
        if segments is not None:
            self.segments, self.shapes = layout
        if self._n == n and not changed:
            return
        self._n = n
        self._allocate(n)

    def _allocate(self, n: int) -> None:
        for s in self._state_names:
            setattr(self, s, np.zeros(n, dtype=np.float32))

    def reset(self) -> None:
        """Forget the step count and zero (re-initialize) the state buffers."""
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
        """One step: update the flat (n,) ``params`` in place from ``grads`` (same shape and
        dtype), then count the step in ``iterations``."""
        if grads.shape != params.shape or grads.dtype != params.dtype or params.ndim != 1:
            raise ValueError(f"{type(self).__name__}.apply: params and grads must be flat arrays "
                             f"of one shape and dtype, got {params.shape} {params.dtype} and "
                             f"{grads.shape} {grads.dtype}")
        if self._n != params.size:
            self.build(params.size)
        self._state_like(params)
        lr = self.learning_rate
        f = params.dtype.type
        if self.clipnorm is not None:  # g·c / max(‖g‖, c), per weight
            for a, b in self.segments or [(0, params.size)]:
                seg = grads[a:b]
                norm = float(np.sqrt(np.dot(seg, seg)))
                if norm > self.clipnorm:
                    K.scale(seg, f(self.clipnorm / norm))
        elif self.global_clipnorm is not None:
            norm = float(np.sqrt(np.dot(grads, grads)))
            if norm > self.global_clipnorm:
                K.scale(grads, f(self.global_clipnorm / norm))
        elif self.clipvalue is not None:
            K.clip_values(grads, f(self.clipvalue))
        if self.weight_decay:
            K.scale(params, f(1.0 - lr * self.weight_decay))
        self._update(params, grads, lr)
        if self._decaying and self.iterations % self.flush_every() == 0:
            for name in self._decaying:
                K.flush_tiny(getattr(self, name))
        self.iterations += 1

    def _update(self, params, grads, lr) -> None:
        raise NotImplementedError

    def flush_every(self) -> int:
        """How many steps apart the decaying state buffers are flushed: at most
        K.FLUSH_EVERY, fewer when they decay so fast (the smallest of the rates named in
        ``_rates``; a rate of 0 keeps no memory, so it does not count) that an entry just above
        K.TINY would become subnormal (below float32's smallest normal number) before the next
        flush."""
        rates = tuple(getattr(self, a) for a in self._rates)
        cached = self.__dict__.get("_flush_cache")
        if cached is not None and cached[0] == rates:   # asked every step: keep the log off it
            return cached[1]
        rate = min((r for r in rates if r > 0), default=1.0)
        every = K.FLUSH_EVERY
        if rate < 1.0:
            steps = math.log(K.TINY / float(np.finfo(np.float32).tiny)) / -math.log(rate)
            every = max(1, min(K.FLUSH_EVERY, int(steps)))
        self._flush_cache = (rates, every)
        return every

    def _on_threads(self, kind: int, params, grads, states, scalars) -> bool:
        """Runs update ``kind`` (kernels/optimizers.py) on numba's threads when the buffer is
        big enough for them; False when it should run serially on the calling thread."""
        n = params.size
        work = UPDATE_FLOPS_PER_PARAM * n
        nworkers = policy.workers(work, n)
        if nworkers == 1:
            return False
        empty = params[:0]
        s1, s2, s3 = (list(states) + [empty, empty, empty])[:3]
        K.update_parallel(kind, params, grads, s1, s2, s3, np.array(scalars, params.dtype),
                          policy.chunks(work, n, nworkers), nworkers)
        return True

    # ---------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        """Keras 3's optimizer config (the unsupported EMA/loss-scale keys at their defaults)."""
        lr = self._lr
        return {"name": self.name,
                "learning_rate": lr.get_config_dict() if isinstance(lr, LearningRateSchedule)
                else lr,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                **_IGNORED}

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
    """p −= lr·g; with momentum m = μm − lr·g, p += m (nesterov: p += μm − lr·g)."""
    name = "sgd"
    _rates = ("momentum",)

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self._state_names = self._decaying = ("m",) if self.momentum else ()

    def _update(self, params, grads, lr):
        f = params.dtype.type
        if self.momentum:
            if not self._on_threads(K.SGD_MOMENTUM, params, grads, [self.m],
                                    [lr, self.momentum, self.nesterov]):
                K.sgd_momentum(params, grads, self.m, f(lr), f(self.momentum), self.nesterov)
        elif not self._on_threads(K.SGD, params, grads, [], [lr]):
            K.sgd(params, grads, f(lr))

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """v = ρv + (1−ρ)g²; p −= lr·g/√(v + ε) (centered: v − ḡ²; momentum: on the increment)."""
    name = "rm_sprop"  # Keras 3's generated name
    _state_names = ("v", "mg", "mom")
    _decaying = ("v", "mg", "mom")
    _rates = ("rho", "momentum")

    def __init__(self, learning_rate=0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)

    def _allocate(self, n):
        self.v = np.zeros(n, dtype=np.float32)
        self.mg = np.zeros(n if self.centered else 0, dtype=np.float32)
        self.mom = np.zeros(n if self.momentum > 0 else 0, dtype=np.float32)

    def _update(self, params, grads, lr):
        f = params.dtype.type
        if not self._on_threads(K.RMSPROP, params, grads, [self.v, self.mg, self.mom],
                                [lr, self.rho, 1 - self.rho, self.momentum, self.epsilon,
                                 self.centered]):
            K.rmsprop(params, grads, self.v, self.mg, self.mom, f(lr), f(self.rho),
                      f(1 - self.rho), f(self.momentum), f(self.epsilon), self.centered)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    """acc += g²; p −= lr·g/√(acc + ε)."""
    name = "adagrad"
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
    """m, v moving averages of g, g²; p −= lr·√(1−β2ᵗ)/(1−β1ᵗ)·m/(√v + ε) (amsgrad: max v)."""
    name = "adam"
    _state_names = ("m", "v", "vmax")
    _decaying = ("m", "v")
    _rates = ("beta_1", "beta_2")

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
            if not self._on_threads(K.ADAM_AMSGRAD, params, grads, [self.m, self.v, self.vmax],
                                    args):
                K.adam_amsgrad(params, grads, self.m, self.v, self.vmax, *args)
        elif not self._on_threads(K.ADAM, params, grads, [self.m, self.v], args):
            K.adam(params, grads, self.m, self.v, *args)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004, as Keras)."""
    name = "adam_w"

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.004, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


class Nadam(Optimizer):
    """Adam with Nesterov momentum and Keras's momentum-cache schedule u_t = β1(1 − ½·0.96ᵗ)."""
    name = "nadam"
    _state_names = ("m", "v")
    _decaying = ("m", "v")
    _rates = ("beta_1", "beta_2")

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


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012) as Keras 3: E[g²] = ρE[g²] + (1−ρ)g²;
    Δ = −√(E[Δ²] + ε)/√(E[g²] + ε)·g; E[Δ²] = ρE[Δ²] + (1−ρ)Δ²; p += lr·Δ."""
    name = "adadelta"
    _state_names = ("acc_grad", "acc_delta")
    _decaying = ("acc_grad", "acc_delta")
    _rates = ("rho",)

    def __init__(self, learning_rate=0.001, rho: float = 0.95, epsilon: float = 1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _update(self, params, grads, lr):
        f = params.dtype.type
        K.adadelta(params, grads, self.acc_grad, self.acc_delta, f(lr), f(self.rho),
                   f(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adamax(Optimizer):
    """Adam with the infinity norm: m += (g − m)(1 − β1); u = max(β2·u, |g|);
    p −= lr/(1 − β1ᵗ)·m/(u + ε)."""
    name = "adamax"
    _state_names = ("m", "u")
    _decaying = ("m", "u")
    _rates = ("beta_1", "beta_2")

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _update(self, params, grads, lr):
        f = params.dtype.type
        t = self.iterations + 1
        K.adamax(params, grads, self.m, self.u, f(lr / (1 - self.beta_1 ** t)),
                 f(1 - self.beta_1), f(self.beta_2), f(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Lion(Optimizer):
    """Lion (Chen et al. 2023): p −= lr·sign(β1·m + (1 − β1)g); m = β2·m + (1 − β2)g."""
    name = "lion"
    _state_names = ("m",)
    _decaying = ("m",)
    _rates = ("beta_2",)

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.99,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(f"Lion: beta_1 must be in (0, 1], got {beta_1} (0 makes Lion "
                             f"SignSGD)")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)

    def _update(self, params, grads, lr):
        f = params.dtype.type
        K.lion(params, grads, self.m, f(lr), f(self.beta_1), f(self.beta_2))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class Ftrl(Optimizer):
    """Follow The Regularized Leader (McMahan et al. 2013) with Keras 3's options: per-weight
    learning rates from the accumulated g² (``learning_rate_power``), L1/L2 and L2-shrinkage
    regularization; ``beta`` adds β/(2·lr) to the L2 strength."""
    name = "ftrl"
    _state_names = ("acc", "linear")

    def __init__(self, learning_rate=0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0,
                 l2_shrinkage_regularization_strength: float = 0.0, beta: float = 0.0,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        for arg, value, ok in (
                ("initial_accumulator_value", initial_accumulator_value, ">= 0"),
                ("learning_rate_power", -learning_rate_power, "<= 0"),
                ("l1_regularization_strength", l1_regularization_strength, ">= 0"),
                ("l2_regularization_strength", l2_regularization_strength, ">= 0"),
                ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength,
                 ">= 0")):
            if value < 0:
                shown = -value if arg == "learning_rate_power" else value
                raise ValueError(f"Ftrl: {arg} must be {ok}, got {shown}")
        self.learning_rate_power = float(learning_rate_power)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.l1_regularization_strength = float(l1_regularization_strength)
        self.l2_regularization_strength = float(l2_regularization_strength)
        self.l2_shrinkage_regularization_strength = float(l2_shrinkage_regularization_strength)
        self.beta = float(beta)

    def _allocate(self, n):
        self.acc = np.full(n, self.initial_accumulator_value, dtype=np.float32)
        self.linear = np.zeros(n, dtype=np.float32)

    def _update(self, params, grads, lr):
        if lr <= 0:
            raise ValueError(f"Ftrl: learning_rate must be > 0 (it divides), got {lr}")
        f = params.dtype.type
        K.ftrl(params, grads, self.acc, self.linear, f(lr), f(-self.learning_rate_power),
               f(self.l1_regularization_strength),
               f(self.l2_regularization_strength + self.beta / (2.0 * lr)),
               f(self.l2_shrinkage_regularization_strength))

    def get_config(self):
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength":
                    self.l2_shrinkage_regularization_strength,
                "beta": self.beta}


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern 2018) as Keras 3: a weight with 2 or more axes keeps only
    row and column means of g² + ε1 over its last two axes (memory O(rows + cols)); others
    keep a full moving average. Decay β2ₜ = 1 − t^beta_2_decay; the step is
    max(ε2, rms(p))·min(lr, 1/√t) times g/√v, shrunk so its rms is at most clip_threshold.

    Needs each weight's shape (models give it in ``build``); without shapes every weight is
    treated as a vector."""
    name = "adafactor"

    def __init__(self, learning_rate=0.001, beta_2_decay: float = -0.8,
                 epsilon_1: float = 1e-30, epsilon_2: float = 1e-3,
                 clip_threshold: float = 1.0, relative_step: bool = True, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_2_decay, self.epsilon_1 = float(beta_2_decay), float(epsilon_1)
        self.epsilon_2, self.clip_threshold = float(epsilon_2), float(clip_threshold)
        self.relative_step = bool(relative_step)

    def _layout(self, n):
        """(start, stop, shape) of each weight; one vector when the layout is unknown."""
        if not self.segments:
            return [(0, n, (n,))]
        shapes = self.shapes or [(b - a,) for a, b in self.segments]
        return [(a, b, s) for (a, b), s in zip(self.segments, shapes)]

    def _allocate(self, n):
        # per weight: (r, c) row and column statistics of a matrix, or v of a vector
        self.state = []
        for a, b, shape in self._layout(n):
            if len(shape) >= 2:
                lead = int(np.prod(shape[:-2], dtype=np.int64))
                self.state.append((np.zeros((lead, shape[-2]), np.float32),
                                   np.zeros((lead, shape[-1]), np.float32)))
            else:
                self.state.append((np.zeros(b - a, np.float32),))

    def _state_like(self, params):
        if self.state and self.state[0][0].dtype != params.dtype:
            self.state = [tuple(s.astype(params.dtype) for s in st) for st in self.state]

    def _update(self, params, grads, lr):
        f = params.dtype.type
        t = self.iterations + 1
        # Keras 3 caps a constant rate by 1/√t whether or not relative_step is set
        rho = f(min(lr, 1 / math.sqrt(t)))
        beta2 = f(1 - t ** self.beta_2_decay)
        args = (rho, f(self.epsilon_1), f(self.epsilon_2), beta2, f(self.clip_threshold))
        for (a, b, shape), st in zip(self._layout(params.size), self.state):
            if len(shape) >= 2:
                r, c = st
                view = (r.shape[0], shape[-2], shape[-1])
                K.adafactor_matrix(params[a:b].reshape(view), grads[a:b].reshape(view), r, c,
                                   *args)
            else:
                K.adafactor_vector(params[a:b], grads[a:b], st[0], *args)

    def get_config(self):
        return {**super().get_config(), "beta_2_decay": self.beta_2_decay,
                "epsilon_1": self.epsilon_1, "epsilon_2": self.epsilon_2,
                "clip_threshold": self.clip_threshold, "relative_step": self.relative_step}


CLASSES = {c.__name__: c for c in (SGD, RMSprop, Adagrad, Adam, AdamW, Nadam, Adadelta,
                                    Adamax, Lion, Ftrl, Adafactor)}
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
