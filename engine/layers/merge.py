"""Merge layers: combine a list of tensors (Keras's Merge family)."""
from __future__ import annotations

import numpy as np

from engine.layers.base import Layer
from engine.registry import Param, register


class _Elementwise(Layer):
    """Base of merges over inputs of one shape (size-1 axes broadcast, as in Keras)."""

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        for i, s in enumerate(shapes[1:], start=1):
            if len(s) != rank:
                raise ValueError(f"{self.where}: input {i} has rank {len(s)} (shape {s}), "
                                 f"input 0 has rank {rank} (shape {shapes[0]})")
        out = [shapes[0][0]]
        for axis in range(1, rank):
            sizes = {s[axis] for s in shapes} - {None, 1}
            if len(sizes) > 1:
                listed = ", ".join(str(s) for s in shapes)
                raise ValueError(f"{self.where}: inputs must have the same shape, got {listed}")
            if sizes:
                out.append(sizes.pop())
            else:
                out.append(None if any(s[axis] is None for s in shapes) else 1)
        return tuple(out)

    def _reduce_to(self, grad, shape):
        """Sum ``grad`` over the axes where an input of ``shape`` was broadcast."""
        if grad.shape == shape:
            return grad
        axes = tuple(i for i, (g, s) in enumerate(zip(grad.shape, shape)) if s == 1 and g != 1)
        return grad.sum(axis=axes, keepdims=True)


@register("Merge", "Adds its inputs elementwise (all of one shape).", [], n_inputs=None)
class Add(_Elementwise):
    def forward(self, xs, training=False):
        self._shapes = [x.shape for x in xs]
        out = xs[0] + xs[1]
        for x in xs[2:]:
            out += x
        return out

    def backward(self, dy):
        return [self._reduce_to(dy, s) for s in self._shapes]


@register("Merge", "Subtracts the second input from the first.", [], n_inputs=2)
class Subtract(_Elementwise):
    def forward(self, xs, training=False):
        self._shapes = [x.shape for x in xs]
        return xs[0] - xs[1]

    def backward(self, dy):
        return [self._reduce_to(dy, self._shapes[0]), self._reduce_to(-dy, self._shapes[1])]


@register("Merge", "Multiplies its inputs elementwise.", [], n_inputs=None)
class Multiply(_Elementwise):
    def forward(self, xs, training=False):
        self._xs = xs
        out = xs[0] * xs[1]
        for x in xs[2:]:
            out = out * x
        return out

    def backward(self, dy):
        grads = []
        for i, xi in enumerate(self._xs):
            g = dy
            for j, xj in enumerate(self._xs):
                if j != i:
                    g = g * xj
            grads.append(self._reduce_to(g, xi.shape))
        return grads


@register("Merge", "Averages its inputs elementwise.", [], n_inputs=None)
class Average(_Elementwise):
    def forward(self, xs, training=False):
        self._shapes = [x.shape for x in xs]
        out = xs[0] + xs[1]
        for x in xs[2:]:
            out += x
        return out * out.dtype.type(1.0 / len(xs))

    def backward(self, dy):
        g = dy * dy.dtype.type(1.0 / len(self._shapes))
        return [self._reduce_to(g, s) for s in self._shapes]


class _Extreme(_Elementwise):
    _pick = staticmethod(np.maximum)

    def forward(self, xs, training=False):
        self._xs = xs
        out = xs[0]
        for x in xs[1:]:
            out = self._pick(out, x)
        self._out = out
        return out

    def backward(self, dy):
        # the gradient flows to the first input that attains the extreme value
        taken = np.zeros(dy.shape, dtype=bool)
        grads = []
        for x in self._xs:
            win = (np.broadcast_to(x, dy.shape) == self._out) & ~taken
            taken |= win
            grads.append(self._reduce_to(np.where(win, dy, 0).astype(dy.dtype), x.shape))
        return grads


@register("Merge", "Elementwise maximum of its inputs.", [], n_inputs=None)
class Maximum(_Extreme):
    _pick = staticmethod(np.maximum)


@register("Merge", "Elementwise minimum of its inputs.", [], n_inputs=None)
class Minimum(_Extreme):
    _pick = staticmethod(np.minimum)


@register("Merge", "Joins its inputs along one axis (the last by default).",
          [Param("axis", "axis", -1, "Axis to join along; other axes must match.")],
          n_inputs=None, key_params=("axis",))
class Concatenate(Layer):
    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        axis = self.axis if self.axis >= 0 else rank + self.axis
        if not 1 <= axis < rank:
            raise ValueError(f"{self.where}: argument 'axis' {self.axis} is out of range for "
                             f"inputs of rank {rank}")
        for i, s in enumerate(shapes[1:], start=1):
            if len(s) != rank:
                raise ValueError(f"{self.where}: input {i} has rank {len(s)} (shape {s}), "
                                 f"input 0 has rank {rank} (shape {shapes[0]})")
            for a in range(1, rank):
                if a != axis and None not in (s[a], shapes[0][a]) and s[a] != shapes[0][a]:
                    raise ValueError(
                        f"{self.where}: inputs must match on every axis except axis {self.axis}; "
                        f"input 0 has shape {shapes[0]}, input {i} has shape {s} (axis {a} differs)")
        sizes = [s[axis] for s in shapes]
        total = None if any(v is None for v in sizes) else sum(sizes)
        out = list(shapes[0])
        out[axis] = total
        return tuple(out)

    def forward(self, xs, training=False):
        axis = self.axis if self.axis >= 0 else xs[0].ndim + self.axis
        self._splits = np.cumsum([x.shape[axis] for x in xs])[:-1]
        self._axis = axis
        return np.concatenate(xs, axis=axis)

    def backward(self, dy):
        return [np.ascontiguousarray(g) for g in np.split(dy, self._splits, axis=self._axis)]
