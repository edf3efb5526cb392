"""Masks that travel with tensors, as Keras 3's ``_keras_mask``, and the Masking layer.

A mask marks the real timesteps of padded sequences: (batch, steps) booleans, made by
``Embedding(mask_zero=True)`` or :class:`Masking` and used by RNNs and layers whose ``call``
takes ``mask``. Inside a Functional model the Plan carries masks itself; here is what a user
sees outside it: an eager call's output array carries the mask it computed
(``embedding(x)._keras_mask``, :class:`MaskedArray`), and the next eager call takes it as its
input mask; a symbolic call's output :class:`~engine.layers.base.KerasTensor` carries a
symbolic mask (a boolean KerasTensor), so ``x._keras_mask`` answers "is a mask flowing here"
and a layer whose ``call`` needs ``mask`` gets one while its output shape is inferred.
"""
from __future__ import annotations

import numpy as np

from engine.layers.base import KerasTensor, Layer
from engine.registry import Param, register


class MaskedArray(np.ndarray):
    """An eager output with its mask (``_keras_mask``). Arithmetic on it gives plain arrays:
    a mask belongs to one layer's output, not to what is computed from it."""

    _keras_mask = None

    def __array_finalize__(self, obj) -> None:
        self._keras_mask = None

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(np.asarray(i) if isinstance(i, MaskedArray) else i for i in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(np.asarray(o) if isinstance(o, MaskedArray) else o
                                  for o in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)


def mask_of(x):
    """The mask an eager input carries (its first tensor's), or None."""
    if isinstance(x, (list, tuple)):
        return mask_of(x[0]) if x else None
    return getattr(x, "_keras_mask", None) if isinstance(x, np.ndarray) else None


def _default_compute_mask(layer) -> bool:
    return type(layer).compute_mask is Layer.compute_mask


def attach_eager(layer, inputs, out, in_mask):
    """``out`` with the mask ``layer`` computes for it (None: ``out`` unchanged)."""
    if in_mask is None and _default_compute_mask(layer):
        return out
    data = [np.asarray(x) for x in inputs] if isinstance(inputs, (list, tuple)) else \
        np.asarray(inputs)
    mask = layer.compute_mask(data, in_mask)
    if mask is None:
        return out
    if isinstance(out, (list, tuple)):
        masks = mask if isinstance(mask, (list, tuple)) else [mask] * len(out)
        return type(out)(_with_mask(o, m) for o, m in zip(out, masks))
    return _with_mask(out, mask)


def _with_mask(out, mask):
    if not isinstance(out, np.ndarray) or mask is None:
        return out
    masked = out.view(MaskedArray)
    masked._keras_mask = np.asarray(mask)
    return masked


# ---------------------------------------------------------------------- symbolic masks
def symbolic_mask_of(tensors) -> KerasTensor | None:
    for t in tensors:
        return getattr(t, "_keras_mask", None)
    return None


def mask_array(mask: KerasTensor, size: int) -> np.ndarray:
    """An all-True stand-in for a symbolic mask, unknown sizes set to ``size``."""
    return np.ones(tuple(size if d is None else d for d in mask.shape), dtype=bool)


def attach_symbolic(layer, tensors: list, outputs: list) -> None:
    """Give ``outputs`` the symbolic mask ``layer`` makes from ``tensors``: the input's mask
    when the layer passes it on, else what its ``compute_mask`` returns on stand-in zeros."""
    in_mask = symbolic_mask_of(tensors)
    if _default_compute_mask(layer):
        if in_mask is not None and layer.supports_masking:
            for t in outputs:
                t._keras_mask = in_mask
        return
    zeros = [np.zeros(tuple(2 if d is None else d for d in t.shape),
                      dtype=np.float32 if t.dtype in ("string", "bool") else np.dtype(t.dtype))
             for t in tensors]
    try:
        mask = layer.compute_mask(zeros if len(zeros) > 1 else zeros[0],
                                  None if in_mask is None else mask_array(in_mask, 2))
    except (ValueError, TypeError, IndexError, AssertionError):
        return                           # a compute_mask that cannot run on stand-ins
    if mask is None:
        return
    masks = list(mask) if isinstance(mask, (list, tuple)) else [mask] * len(outputs)
    for t, m in zip(outputs, masks):
        if m is not None:
            ndim = np.ndim(m)
            t._keras_mask = KerasTensor(tuple(t.shape[:ndim]), "bool")


@register("Core", "Marks padded timesteps: a step whose features all equal mask_value is "
          "skipped by the recurrent layers after it (and zeroed).",
          [Param("mask_value", "float", 0.0, "The feature value that means 'padding'.")],
          key_params=("mask_value",))
class Masking(Layer):
    """Keras's Masking: output = input × (any feature ≠ mask_value), mask = that test per
    step."""
    supports_masking = True

    def forward(self, x, training=False):
        self._keep = np.any(x != self.mask_value, axis=-1, keepdims=True)
        return x * self._keep.astype(x.dtype)

    def backward(self, dy):
        return dy * self._keep.astype(dy.dtype)

    def compute_mask(self, inputs, mask=None):
        return np.any(np.asarray(inputs) != self.mask_value, axis=-1)
