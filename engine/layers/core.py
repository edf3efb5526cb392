"""Core layers: InputLayer, Dense, Activation, Dropout, Flatten, Reshape, and activation layers."""
from __future__ import annotations

import numpy as np

from engine import activations, backend
from engine import threading_policy as policy
from engine.kernels import sparse_rows
from engine.kernels.activations import column_sums
from engine.kernels.dropout import (CHUNK, PARALLEL_MIN, dropout_backward,
                                    dropout_backward_serial, dropout_forward,
                                    dropout_forward_serial)
from engine.kernels.gemm import matmul, matmul_pair
from engine.layers.base import KerasTensor, Layer, Node
from engine.registry import Param, register

_ACTIVATION = Param("activation", "activation", None, "Function applied to the output "
                    "(relu, sigmoid, softmax, tanh ...); empty means linear.", optional=True)
_USE_BIAS = Param("use_bias", "bool", True, "Add a learned bias vector.")


def _initializer(name: str, default: str, what: str) -> Param:
    return Param(name, "initializer", default, f"How the {what} is initialized.", advanced=True)


def _regularizer(name: str, what: str) -> Param:
    return Param(name, "regularizer", None, f"Penalty on the {what} added to the loss "
                 "(l1, l2, l1_l2).", optional=True, advanced=True)


def _constraint(name: str, what: str) -> Param:
    return Param(name, "constraint", None, f"Constraint applied to the {what} after each "
                 "update (max_norm, non_neg, unit_norm).", optional=True, advanced=True)


def weight_params(kernel_init: str = "glorot_uniform") -> list[Param]:
    """The initializer/regularizer/constraint parameters every kernel+bias layer has."""
    return [
        _initializer("kernel_initializer", kernel_init, "kernel"),
        _initializer("bias_initializer", "zeros", "bias"),
        _regularizer("kernel_regularizer", "kernel"),
        _regularizer("bias_regularizer", "bias"),
        _constraint("kernel_constraint", "kernel"),
        _constraint("bias_constraint", "bias"),
    ]


ACTIVATION_PARAM = _ACTIVATION
USE_BIAS_PARAM = _USE_BIAS


@register("Input", "The model's input: the shape of one sample (without the batch axis).",
          [Param("shape", "shape", None, "Shape of one sample, e.g. (28, 28, 1) or (784,).",
                 optional=True),
           Param("batch_size", "int", None, "Fixed batch size (usually left empty).",
                 optional=True, min=1, advanced=True),
           Param("sparse", "bool", False, "Sparse input (not supported; kept for Keras "
                 "configs).", advanced=True)],
          n_inputs=0, key_params=("shape",))
class InputLayer(Layer):
    """The source of a model's graph; holds the input shape and dtype."""

    def __init__(self, *args, **kwargs):
        batch_shape = kwargs.pop("batch_shape", None) or kwargs.pop("batch_input_shape", None)
        input_shape = kwargs.pop("input_shape", None)
        super().__init__(*args, **kwargs)
        if self.sparse:
            raise ValueError(f"{self.where}: sparse inputs are not supported")
        if batch_shape is not None:
            self.shape = tuple(batch_shape)[1:]
            self.batch_size = tuple(batch_shape)[0]
        elif input_shape is not None:
            self.shape = tuple(input_shape)
        if self.shape is None:
            raise ValueError(f"{self.where}: argument 'shape' is required, e.g. shape=(784,)")
        self.shape = tuple(None if d in (None, -1) else int(d) for d in self.shape)
        self.batch_shape = (self.batch_size,) + self.shape
        self.built = True
        self.input_shape = self.output_shape = self.batch_shape
        node = Node(self, [], [self.batch_shape], self.dtype)
        self._nodes.append(node)
        node.outputs[0].name = self.name

    def get_config(self):
        cfg = super().get_config()
        cfg["shape"] = list(self.shape)
        cfg["batch_shape"] = list(self.batch_shape)
        return cfg

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return None


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None,
          sparse=False, tensor=None) -> KerasTensor:
    """A symbolic input tensor, as ``keras.Input``: ``x = Input(shape=(784,))``."""
    if tensor is not None:
        raise ValueError("Input: argument 'tensor' is not supported")
    if shape is None and batch_shape is None:
        raise ValueError("Input: give the shape of one sample, e.g. Input(shape=(28, 28, 1))")
    if isinstance(shape, int):
        shape = (shape,)
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name,
                       batch_shape=batch_shape, sparse=sparse)
    return layer.output


@register("Core", "Fully connected layer: output = activation(input · kernel + bias).",
          [Param("units", "int", None, "Number of output units.", min=1, suggested=64),
           _ACTIVATION, _USE_BIAS, *weight_params()],
          key_params=("units", "activation"))
class Dense(Layer):
    has_activation_output = True
    fresh_input_grad = True
    supports_masking = True

    def _validate(self):
        if self.units is None:
            raise ValueError(f"{self.where}: argument 'units' is required (number of outputs)")
        self._act = activations.get(self.activation)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"{self.where}: needs an input whose last axis has a known size, "
                             f"got shape {input_shape}")
        n_in = input_shape[-1]
        self.kernel = self.add_weight("kernel", (n_in, self.units), self.kernel_initializer,
                                      self.kernel_regularizer, self.kernel_constraint)
        self.bias = (self.add_weight("bias", (self.units,), self.bias_initializer,
                                     self.bias_regularizer, self.bias_constraint)
                     if self.use_bias else None)
        self.need_dx = True
        self.fused_output_grad = False
        self._sparse = sparse_rows.SparseRows()

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        self._x_shape = x.shape
        x2 = x.reshape(-1, x.shape[-1])
        w = self.kernel.value
        # a mostly-zero input (an image's background, multi-hot text) is multiplied by listing
        # its nonzeros when that is cheaper than sgemm (kernels/sparse_rows.py); outside
        # training in chunks of rows that keep no listing for a backward pass
        z = None if training else self._sparse.product(x2, w)
        self._listed = None if z is not None else self._sparse.scan(x2, self.units)
        if z is None:
            z = matmul(x2, w) if self._listed is None else sparse_rows.times(self._listed, w)
        y = activations.with_bias(self._act, z, self.bias)
        self._x2 = x2
        self._z = z
        self._y = y
        return y.reshape(self._x_shape[:-1] + (self.units,))

    def backward(self, dy):
        # z = x·W + b, y = act(z):  dz = act'(z)·dy, dW = xᵀ·dz, db = Σ dz, dx = dz·Wᵀ
        dy = dy.reshape(-1, self.units)
        dz = dy if self.fused_output_grad else self._act.backward(self._z, self._y, dy)
        if self.bias is not None:
            column_sums(dz, self.bias.grad)
        if self._listed is not None:                 # the forward pass listed x's nonzeros
            sparse_rows.weight_grad_of(self._listed, dz, self.kernel.grad)
            return matmul(dz, self.kernel.value.T).reshape(self._x_shape) if self.need_dx \
                else None
        # a mostly-zero dz (relu, Dropout after it) gives both products from its nonzeros
        done, dx = self._sparse.backward(self._x2, self.kernel.value, dz, self.kernel.grad,
                                         self.need_dx)
        if done:
            return None if dx is None else dx.reshape(self._x_shape)
        if not self.need_dx:
            matmul(self._x2.T, dz, self.kernel.grad)
            return None
        # dW and dx: one parallel region when both are big enough for the two cores
        return matmul_pair(self._x2.T, dz, self.kernel.grad,
                           dz, self.kernel.value.T).reshape(self._x_shape)


@register("Core", "Applies an activation function elementwise (softmax: over the last axis).",
          [Param("activation", "activation", "linear", "The function to apply.")],
          key_params=("activation",))
class Activation(Layer):
    has_activation_output = True
    supports_masking = True

    def _validate(self):
        self._act = activations.get(self.activation)
        self.fused_output_grad = False

    def forward(self, x, training=False):
        self._x = x
        self._y = self._act.forward(x)
        return self._y

    def backward(self, dy):
        return dy if self.fused_output_grad else self._act.backward(self._x, self._y, dy)


def _activation_layer(type_name: str, act_name: str, help: str, params: list[Param],
                      make_act) -> type:
    """A layer form of an activation (ReLU, LeakyReLU ...) declared once in the registry."""

    def _validate(self):
        self._act = make_act(self)
        self.fused_output_grad = False

    cls = type(type_name, (Activation,), {"_validate": _validate,
                                          "__doc__": help,
                                          "__module__": __name__})
    return register("Core", help, params, type_name=type_name)(cls)


ReLU = _activation_layer(
    "ReLU", "relu", "Rectified linear unit: max(x, 0), optionally capped and leaky.",
    [Param("max_value", "float", None, "Upper cap (e.g. 6 for ReLU6).", optional=True, min=0),
     Param("negative_slope", "float", 0.0, "Slope for x < threshold.", min=0),
     Param("threshold", "float", 0.0, "Values below it are scaled by the slope.")],
    lambda self: activations.Relu(self.max_value, self.negative_slope, self.threshold))
LeakyReLU = _activation_layer(
    "LeakyReLU", "leaky_relu", "Leaky ReLU: x for x > 0, negative_slope·x otherwise.",
    [Param("negative_slope", "float", 0.3, "Slope for x < 0.", min=0)],
    lambda self: activations.Relu(None, self.negative_slope, 0.0))
ELU = _activation_layer(
    "ELU", "elu", "Exponential linear unit: x for x > 0, alpha·(exp(x) − 1) otherwise.",
    [Param("alpha", "float", 1.0, "Scale of the negative part.")],
    lambda self: activations.Elu(self.alpha))
Softmax = _activation_layer(
    "Softmax", "softmax", "Softmax over the last axis: probabilities that sum to 1.",
    [Param("axis", "axis", -1, "Axis to normalize (only -1 is supported).", advanced=True)],
    lambda self: activations.get("softmax") if self.axis in (-1,) else _bad_axis(self))


def _bad_axis(layer):
    raise ValueError(f"{layer.where}: argument 'axis' must be -1 (the last axis), got {layer.axis}")


@register("Regularization", "Randomly sets a fraction `rate` of inputs to 0 while training, "
          "scaling the rest by 1/(1−rate).",
          [Param("rate", "float", 0.5, "Fraction of the inputs to drop.", min=0.0, max=1.0),
           Param("noise_shape", "shape", None, "Shape of the dropout mask (None: the input's).",
                 optional=True, advanced=True),
           Param("seed", "int", None, "Random seed.", optional=True, advanced=True)],
          key_params=("rate",))
class Dropout(Layer):
    supports_masking = True

    def _validate(self):
        if self.rate >= 1.0:
            raise ValueError(f"{self.where}: argument 'rate' must be below 1 (1 drops everything),"
                             f" got {self.rate}")
        self._rng = np.random.default_rng(self.seed)

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        scale = x.dtype.type(1.0 / (1.0 - self.rate))
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for s, n in zip(x.shape, self.noise_shape))
            keep = self._rng.random(shape, dtype=np.float32) >= self.rate
            self._mask = keep.astype(x.dtype) * scale
            return x * self._mask
        x = np.ascontiguousarray(x)
        y = np.empty_like(x)
        keep = np.empty(x.shape, dtype=np.uint8)
        seed, threshold, scale = self.draw(x.dtype)
        args = (x.reshape(-1), seed, threshold, scale, y.reshape(-1), keep.reshape(-1))
        if x.size >= PARALLEL_MIN:
            dropout_forward(*args, -(-x.size // CHUNK), policy.threads())
        else:
            dropout_forward_serial(*args)
        self._mask = (keep, scale)
        return y

    def draw(self, dtype) -> tuple[int, int, np.floating]:
        """This training step's mask, as the kernels take it: (seed of the counter-based
        generator, threshold = rate · 2³², scale = 1 / (1 − rate) in ``dtype``). A
        convolution that runs this layer inside its own kernel (Conv2D.fuse_dropout) draws it
        here too, so a seed gives the same mask either way."""
        return (int(self._rng.integers(0, 2 ** 63)), int(self.rate * 2 ** 32),
                np.dtype(dtype).type(1.0 / (1.0 - self.rate)))

    def backward(self, dy):
        if self._mask is None:
            return dy
        if isinstance(self._mask, tuple):
            keep, scale = self._mask
            dy = np.ascontiguousarray(dy)
            dx = np.empty_like(dy)
            args = (dy.reshape(-1), keep.reshape(-1), scale, dx.reshape(-1))
            if dy.size >= PARALLEL_MIN:
                dropout_backward(*args, -(-dy.size // CHUNK), policy.threads())
            else:
                dropout_backward_serial(*args)
            return dx
        return dy * self._mask


@register("Reshaping", "Flattens each sample to one axis: (N, a, b, c) → (N, a·b·c).",
          [Param("data_format", "choice", "channels_last", "Only channels_last is supported.",
                 choices=("channels_last",), advanced=True)])
class Flatten(Layer):
    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        n = None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64))
        return (input_shape[0], n)

    def forward(self, x, training=False):
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self._x_shape)


@register("Reshaping", "Reshapes each sample to target_shape (one size may be -1).",
          [Param("target_shape", "shape", None, "New shape of one sample, e.g. (28, 28, 1).")],
          key_params=("target_shape",))
class Reshape(Layer):
    def _validate(self):
        if self.target_shape is None:
            raise ValueError(f"{self.where}: argument 'target_shape' is required, e.g. (28, 28, 1)")
        if sum(1 for d in self.target_shape if d in (-1, None)) > 1:
            raise ValueError(f"{self.where}: argument 'target_shape' may have only one unknown "
                             f"size (-1), got {self.target_shape}")

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        target = [(-1 if d is None else d) for d in self.target_shape]
        if any(d is None for d in rest):
            return (input_shape[0],) + tuple(None if d == -1 else d for d in target)
        n_in = int(np.prod(rest, dtype=np.int64))
        known = int(np.prod([d for d in target if d != -1], dtype=np.int64))
        if -1 in target:
            if known == 0 or n_in % known:
                raise ValueError(f"{self.where}: cannot reshape input {tuple(rest)} "
                                 f"({n_in} values) to {self.target_shape}")
            target[target.index(-1)] = n_in // known
        elif known != n_in:
            raise ValueError(f"{self.where}: cannot reshape input {tuple(rest)} ({n_in} values) "
                             f"to target_shape {self.target_shape} ({known} values)")
        return (input_shape[0],) + tuple(target)

    def forward(self, x, training=False):
        self._x_shape = x.shape
        out = self.compute_output_shape((None,) + x.shape[1:])
        return x.reshape((x.shape[0],) + out[1:])

    def backward(self, dy):
        return dy.reshape(self._x_shape)


@register("Reshaping", "Permutes the axes of each sample, e.g. dims=(2, 1) swaps two axes.",
          [Param("dims", "axis", None, "The new order of axes 1..n (batch axis excluded).",
           suggested=(2, 1))],
          key_params=("dims",))
class Permute(Layer):
    def _validate(self):
        dims = self.dims if isinstance(self.dims, tuple) else (self.dims,)
        if self.dims is None or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"{self.where}: argument 'dims' must be a permutation of "
                             f"1..n, e.g. (2, 1); got {self.dims}")
        self.dims = dims

    def compute_output_shape(self, input_shape):
        if len(input_shape) - 1 != len(self.dims):
            raise ValueError(f"{self.where}: dims {self.dims} has {len(self.dims)} axes, the "
                             f"input has {len(input_shape) - 1} (shape {input_shape})")
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def forward(self, x, training=False):
        return np.ascontiguousarray(x.transpose((0,) + self.dims))

    def backward(self, dy):
        inverse = np.argsort((0,) + self.dims)
        return np.ascontiguousarray(dy.transpose(inverse))


@register("Reshaping", "Repeats a vector n times: (N, f) → (N, n, f).",
          [Param("n", "int", None, "How many times to repeat.", min=1, suggested=3)],
          key_params=("n",))
class RepeatVector(Layer):
    def _validate(self):
        if self.n is None:
            raise ValueError(f"{self.where}: argument 'n' is required")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{self.where}: needs a 2-D input (batch, features), got {input_shape}")
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, x, training=False):
        return np.repeat(x[:, None, :], self.n, axis=1)

    def backward(self, dy):
        return dy.sum(axis=1)


@register("Regularization", "Adds zero-centred Gaussian noise while training.",
          [Param("stddev", "float", None, "Standard deviation of the noise.", min=0,
                 suggested=0.1),
           Param("seed", "int", None, "Random seed.", optional=True, advanced=True)],
          key_params=("stddev",))
class GaussianNoise(Layer):
    supports_masking = True

    def _validate(self):
        if self.stddev is None:
            raise ValueError(f"{self.where}: argument 'stddev' is required")
        self._rng = np.random.default_rng(self.seed)

    def forward(self, x, training=False):
        if not training or self.stddev == 0:
            return x
        noise = self._rng.standard_normal(x.shape, dtype=np.float32).astype(x.dtype, copy=False)
        return x + noise * x.dtype.type(self.stddev)

    def backward(self, dy):
        return dy


def as_input_array(layer: InputLayer, x) -> np.ndarray:
    """Convert user data for ``layer``: float inputs to floatx, integer inputs kept integer,
    string inputs (for StringLookup) as Python strings."""
    if layer.dtype == "string":
        return np.asarray(x, dtype=object)
    if layer.dtype.startswith(("int", "uint")):
        arr = np.asarray(x)
        if arr.dtype.kind == "f":
            if arr.size and not np.all(arr == np.round(arr)):
                raise ValueError(f"input '{layer.name}' expects integer token ids (dtype "
                                 f"{layer.dtype}), got non-integer floats")
            arr = arr.astype(np.int64)
        return arr
    return backend.as_float(x)
