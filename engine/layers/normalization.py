"""BatchNormalization and LayerNormalization over the last axis (Keras 3 formulas);
BatchNormalization's passes are numba kernels (engine/kernels/normalization.py)."""
from __future__ import annotations

import numba
import numpy as np

from engine.kernels import normalization as K
from engine.layers.base import Layer
from engine.registry import Param, register


def _init(name, default, what):
    return Param(name, "initializer", default, f"Initial value of {what}.", advanced=True)


def _reg(name, what):
    return Param(name, "regularizer", None, f"Penalty on {what}.", optional=True, advanced=True)


def _con(name, what):
    return Param(name, "constraint", None, f"Constraint on {what}.", optional=True, advanced=True)


@register("Normalization", "Normalizes each channel with batch statistics while training and "
          "with moving averages at inference, then scales (gamma) and shifts (beta).",
          [Param("axis", "axis", -1, "The channel axis (only -1 is supported)."),
           Param("momentum", "float", 0.99, "Momentum of the moving averages.", min=0.0, max=1.0),
           Param("epsilon", "float", 1e-3, "Added to the variance to avoid division by zero.",
                 min=0.0),
           Param("center", "bool", True, "Learn an offset beta."),
           Param("scale", "bool", True, "Learn a scale gamma."),
           _init("beta_initializer", "zeros", "beta"), _init("gamma_initializer", "ones", "gamma"),
           _init("moving_mean_initializer", "zeros", "the moving mean"),
           _init("moving_variance_initializer", "ones", "the moving variance"),
           _reg("beta_regularizer", "beta"), _reg("gamma_regularizer", "gamma"),
           _con("beta_constraint", "beta"), _con("gamma_constraint", "gamma")],
          key_params=("momentum",))
class BatchNormalization(Layer):
    supports_masking = True

    def _validate(self):
        if self.axis not in (-1,) and not (isinstance(self.axis, tuple) and self.axis == (-1,)):
            raise ValueError(f"{self.where}: argument 'axis' must be -1 (channels last), "
                             f"got {self.axis}")

    def build(self, input_shape):
        c = input_shape[-1]
        if c is None:
            raise ValueError(f"{self.where}: the channel axis must have a known size")
        shape = (c,)
        # Keras's weight order: gamma, beta, moving_mean, moving_variance
        self.gamma = self.add_weight("gamma", shape, self.gamma_initializer,
                                     self.gamma_regularizer, self.gamma_constraint) \
            if self.scale else None
        self.beta = self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer,
                                    self.beta_constraint) if self.center else None
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape,
                                               self.moving_variance_initializer, trainable=False)

    def fuse_next(self, layer) -> bool:
        """Whether training may run this layer and ``layer`` (the next one, the only reader of
        its output) as one kernel: a relu (Activation('relu') or ReLU()) after it."""
        act = getattr(layer, "_act", None)
        return (layer.spec.type_name in ("Activation", "ReLU") and act is not None
                and act.name == "relu")

    def forward_fused(self, x, relu_layer):
        """Training forward of this layer and the relu after it (see :meth:`fuse_next`);
        :meth:`backward` then takes the gradient of the relu's output."""
        return self._forward(x, True, relu=True)

    def forward(self, x, training=False):
        return self._forward(x, training, relu=False)

    def _forward(self, x, training, relu: bool):
        c = x.shape[-1]
        x2 = np.ascontiguousarray(x).reshape(-1, c)
        dtype = x2.dtype
        workers = numba.get_num_threads()
        if training:
            mean, var = K.batch_moments(x2, workers)
            m = self.momentum
            for w, v in ((self.moving_mean, mean), (self.moving_variance, var)):
                w.value[...] = w.value * dtype.type(m) + (v * (1 - m)).astype(dtype)
        else:
            mean = self.moving_mean.value.astype(np.float64)
            var = self.moving_variance.value.astype(np.float64)
        inv = 1.0 / np.sqrt(var + self.epsilon)
        gamma = self.gamma.value if self.gamma is not None else 1.0
        beta = self.beta.value if self.beta is not None else np.zeros(c, dtype)
        mean_x = mean.astype(dtype)
        # y = (x − mean)·γ/σ + β (then the fused relu), in one pass
        y = K.affine(x2, mean_x, (gamma * inv).astype(dtype), beta.astype(dtype), relu,
                     workers)
        self._cache = (x2, y if relu else y[:0], mean_x, inv, training)
        return y.reshape(x.shape)

    def backward(self, dy):
        # y = γ·x̂ + β, x̂ = (x − μ)/σ;  dβ = Σ dy,  dγ = Σ dy·x̂;  training (μ, σ of the batch,
        # M rows): dx = γ/σ · (dy − dβ/M − x̂·dγ/M), otherwise dx = γ/σ · dy
        # (with a fused relu, dy is the relu's output gradient: the kernels take dy·[y > 0])
        x2, y2, mean_x, inv, training = self._cache
        dtype = x2.dtype
        workers = numba.get_num_threads()
        dy2 = np.ascontiguousarray(dy).reshape(x2.shape)
        s_dy, s_dyx = K.grad_sums(dy2, x2, y2, workers)
        dbeta = s_dy
        dgamma = inv * (s_dyx - mean_x.astype(np.float64) * s_dy)
        if self.beta is not None:
            self.beta.grad[...] = dbeta
        if self.gamma is not None:
            self.gamma.grad[...] = dgamma
        for w in (self.moving_mean, self.moving_variance):
            w.grad[...] = 0
        g = inv * (self.gamma.value if self.gamma is not None else 1.0)
        rows = x2.shape[0]
        if training:
            b, c0 = -g * dgamma * inv / rows, -g * dbeta / rows
        else:
            b, c0 = np.zeros_like(g), np.zeros_like(g)
        dx = K.input_grad(dy2, x2, y2, mean_x, g.astype(dtype), b.astype(dtype),
                          c0.astype(dtype), workers)
        return dx.reshape(dy.shape)


@register("Normalization", "Normalizes each sample over its last axis, then scales and shifts.",
          [Param("axis", "axis", -1, "Axis to normalize (only -1 is supported)."),
           Param("epsilon", "float", 1e-3, "Added to the variance.", min=0.0),
           Param("center", "bool", True, "Learn an offset beta."),
           Param("scale", "bool", True, "Learn a scale gamma."),
           _init("beta_initializer", "zeros", "beta"), _init("gamma_initializer", "ones", "gamma"),
           _reg("beta_regularizer", "beta"), _reg("gamma_regularizer", "gamma"),
           _con("beta_constraint", "beta"), _con("gamma_constraint", "gamma")])
class LayerNormalization(Layer):
    supports_masking = True

    def _validate(self):
        if isinstance(self.axis, (list, tuple)) and len(self.axis) == 1:
            self.axis = self.axis[0]        # Keras 3 saves axis=-1 as [-1]
        if self.axis not in (-1,):
            raise ValueError(f"{self.where}: argument 'axis' must be -1, got {self.axis}")

    def build(self, input_shape):
        shape = (input_shape[-1],)
        self.gamma = self.add_weight("gamma", shape, self.gamma_initializer,
                                     self.gamma_regularizer, self.gamma_constraint) \
            if self.scale else None
        self.beta = self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer,
                                    self.beta_constraint) if self.center else None

    def forward(self, x, training=False):
        mean = x.mean(axis=-1, keepdims=True)
        var = x.var(axis=-1, keepdims=True)
        inv = (1.0 / np.sqrt(var + x.dtype.type(self.epsilon))).astype(x.dtype)
        xhat = (x - mean) * inv
        self._cache = (xhat, inv)
        y = xhat * self.gamma.value if self.gamma is not None else xhat.copy()
        if self.beta is not None:
            y += self.beta.value
        return y

    def backward(self, dy):
        xhat, inv = self._cache
        axes = tuple(range(dy.ndim - 1))
        if self.beta is not None:
            np.sum(dy, axis=axes, out=self.beta.grad)
        if self.gamma is not None:
            np.sum(dy * xhat, axis=axes, out=self.gamma.grad)
        dxhat = dy * self.gamma.value if self.gamma is not None else dy
        k = dy.shape[-1]
        return (inv / k) * (k * dxhat - dxhat.sum(-1, keepdims=True)
                            - xhat * (dxhat * xhat).sum(-1, keepdims=True))
