"""BatchNormalization and LayerNormalization over the last axis (Keras 3 formulas)."""
from __future__ import annotations

import numpy as np

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

    def forward(self, x, training=False):
        c = x.shape[-1]
        x2 = x.reshape(-1, c)
        if training:
            mean = x2.mean(axis=0)
            var = x2.var(axis=0)
            m = x.dtype.type(self.momentum)
            self.moving_mean.value[...] = self.moving_mean.value * m + mean * (1 - m)
            self.moving_variance.value[...] = self.moving_variance.value * m + var * (1 - m)
        else:
            mean, var = self.moving_mean.value, self.moving_variance.value
        inv = (1.0 / np.sqrt(var + x.dtype.type(self.epsilon))).astype(x.dtype)
        xhat = (x2 - mean) * inv
        y = xhat * self.gamma.value if self.gamma is not None else xhat.copy()
        if self.beta is not None:
            y += self.beta.value
        self._cache = (xhat, inv, training)
        return y.reshape(x.shape)

    def backward(self, dy):
        # y = γ·x̂ + β;  training: dx = inv/M · (M·dx̂ − Σdx̂ − x̂·Σ(dx̂·x̂)),  dx̂ = dy·γ
        xhat, inv, training = self._cache
        dy2 = dy.reshape(xhat.shape)
        if self.beta is not None:
            np.sum(dy2, axis=0, out=self.beta.grad)
        if self.gamma is not None:
            np.sum(dy2 * xhat, axis=0, out=self.gamma.grad)
        for w in (self.moving_mean, self.moving_variance):
            w.grad[...] = 0
        dxhat = dy2 * self.gamma.value if self.gamma is not None else dy2
        if not training:
            return (dxhat * inv).reshape(dy.shape)
        m = xhat.shape[0]
        dx = (inv / m) * (m * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
        return dx.astype(dy.dtype, copy=False).reshape(dy.shape)


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
