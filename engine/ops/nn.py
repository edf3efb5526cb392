"""Neural-network ops (Keras 3's ``keras.ops.nn`` names): activations, softmax / log_softmax,
crossentropies, one_hot, moments and normalizations, dot-product attention. Convolution and
pooling are in :mod:`engine.ops.nn_conv`.

The activations the built-in layers use run the same code here (``engine.activations``: its
forward and its hand-written derivative, numba kernels included), so an ops-built layer computes
what the built-in one does. The rarer ones are compositions of ops, differentiated by the tape.
"""
from __future__ import annotations

import math

import numpy as np

from engine import activations as A
from engine import backend
from engine.ops import math_ops as m
from engine.ops import reductions as r
from engine.ops.math_ops import _float
from engine.ops.tape import as_data, record


def apply_activation(act: A.Activation, x):
    """Run the activation object ``act`` on ``x`` (its forward; its derivative on a tape)."""
    if isinstance(act, A._UserFunction):
        return act.fn(x)            # recorded op by op, if written with ops
    xd = _float(as_data(x))
    y = act.forward(xd)
    return record(y, (x,), lambda g, need: (act.backward(xd, y, np.asarray(g, xd.dtype)),))


def _activation(name: str, make, doc: str):
    """An op running the activation object ``make(**kwargs)`` (forward + derivative)."""

    def op(x, **kwargs):
        return apply_activation(make(**kwargs), x)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


_relu = _activation("relu", lambda: A.get("relu"), "max(x, 0).")
_relu6 = _activation("relu6", lambda: A.get("relu6"), "min(max(x, 0), 6).")
_leaky = _activation("leaky_relu", lambda negative_slope=0.2: A.Relu(None, negative_slope, 0.0),
                     "x if x > 0 else negative_slope·x.")
_elu = _activation("elu", lambda alpha=1.0: A.Elu(alpha), "x if x > 0 else alpha·(eˣ − 1).")
_selu = _activation("selu", lambda: A.get("selu"), "Scaled ELU (Klambauer et al.).")
_softplus = _activation("softplus", lambda: A.get("softplus"), "log(1 + eˣ).")
_softsign = _activation("softsign", lambda: A.get("softsign"), "x / (1 + |x|).")
_silu = _activation("silu", lambda: A.get("silu"), "x·sigmoid(x).")
_hard_sigmoid = _activation("hard_sigmoid", lambda: A.get("hard_sigmoid"),
                            "relu6(x + 3) / 6.")
_gelu_exact = _activation("gelu", lambda: A.get("gelu"), "x·Φ(x).")
_mish = _activation("mish", lambda: A.get("mish"), "x·tanh(softplus(x)).")
sigmoid = m.sigmoid
tanh = m.tanh


def relu(x):
    """max(x, 0)."""
    return _relu(x)


def relu6(x):
    """min(max(x, 0), 6)."""
    return _relu6(x)


def leaky_relu(x, negative_slope=0.2):
    """x if x > 0 else negative_slope·x."""
    return _leaky(x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    """x if x > 0 else alpha·(eˣ − 1)."""
    return _elu(x, alpha=alpha)


def selu(x):
    return _selu(x)


def softplus(x):
    return _softplus(x)


def softsign(x):
    return _softsign(x)


def silu(x):
    """x·sigmoid(x) (also called swish)."""
    return _silu(x)


swish = silu


def hard_sigmoid(x):
    return _hard_sigmoid(x)


def mish(x):
    return _mish(x)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _gelu_tanh_fwd(x):
    inner = x.dtype.type(_SQRT_2_OVER_PI) * (x + x.dtype.type(0.044715) * x * x * x)
    return 0.5 * x * (1 + np.tanh(inner)), inner


def gelu(x, approximate=True):
    """Gaussian error linear unit: the tanh approximation (default, as Keras's ops.gelu) or
    the exact x·Φ(x)."""
    if not approximate:
        return _gelu_exact(x)
    xd = _float(as_data(x))
    y, inner = _gelu_tanh_fwd(xd)

    def vjp(g, need):
        t = np.tanh(inner)
        dinner = xd.dtype.type(_SQRT_2_OVER_PI) * (1 + 3 * xd.dtype.type(0.044715) * xd * xd)
        return (g * (0.5 * (1 + t) + 0.5 * xd * (1 - t * t) * dinner),)
    return record(y, (x,), vjp)


def log_sigmoid(x):
    """log(sigmoid(x)) = −softplus(−x)."""
    return m.negative(softplus(m.negative(x)))


def hard_silu(x):
    """x·hard_sigmoid(x)."""
    return m.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def celu(x, alpha=1.0):
    """max(x, 0) + min(0, alpha·(e^(x/alpha) − 1))."""
    return m.add(m.maximum(x, 0.0), m.minimum(0.0, m.multiply(alpha, m.expm1(m.divide(x, alpha)))))


def glu(x, axis=-1):
    """Gated linear unit: a·sigmoid(b) for the two halves a, b of ``axis``."""
    from engine.ops.shape_ops import split
    a, b = split(x, 2, axis=axis)
    return m.multiply(a, m.sigmoid(b))


def hard_tanh(x):
    return m.clip(x, -1.0, 1.0)


def tanh_shrink(x):
    return m.subtract(x, m.tanh(x))


def soft_shrink(x, threshold=0.5):
    return m.where(m.greater(as_data(x), threshold), m.subtract(x, threshold),
                   m.where(m.less(as_data(x), -threshold), m.add(x, threshold),
                           m.multiply(x, 0.0)))


def hard_shrink(x, threshold=0.5):
    return m.where(m.greater(np.abs(as_data(x)), threshold), x, m.multiply(x, 0.0))


def squareplus(x, b=4):
    return m.divide(m.add(x, m.sqrt(m.add(m.square(x), b))), 2.0)


def sparse_plus(x):
    xd = as_data(x)
    mid = m.divide(m.square(m.add(x, 1.0)), 4.0)
    return m.where(np.less_equal(xd, -1), m.multiply(x, 0.0),
                   m.where(np.greater_equal(xd, 1), x, mid))


def threshold(x, threshold, default_value):
    return m.where(m.greater(as_data(x), threshold), x, default_value)


# ------------------------------------------------------------------ softmax
def softmax(x, axis=-1):
    """eˣ / Σ eˣ over ``axis`` (max-subtracted, so large logits are safe)."""
    xd = _float(as_data(x))
    if axis in (-1, xd.ndim - 1) and xd.ndim:
        act = A.get("softmax")
        y = act.forward(xd)
        return record(y, (x,), lambda g, need: (act.backward(xd, y, np.asarray(g, xd.dtype)),))
    e = np.exp(xd - np.max(xd, axis=axis, keepdims=True))
    y = e / np.sum(e, axis=axis, keepdims=True)
    return record(y, (x,), lambda g, need: (y * (g - np.sum(g * y, axis=axis, keepdims=True)),))


def log_softmax(x, axis=-1):
    """x − logsumexp(x) over ``axis``."""
    xd = _float(as_data(x))
    mx = np.max(xd, axis=axis, keepdims=True)
    lse = np.log(np.sum(np.exp(xd - mx), axis=axis, keepdims=True)) + mx
    y = xd - lse
    return record(y, (x,), lambda g, need: (g - np.exp(y) * np.sum(g, axis=axis, keepdims=True),))


# ------------------------------------------------------------------ losses (elementwise, as Keras)
def _clip_probs(output):
    eps = backend.EPSILON
    return m.clip(output, eps, 1.0 - eps)


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise −(t·log p + (1 − t)·log(1 − p)), p clipped to [ε, 1 − ε] (not reduced)."""
    if from_logits:
        # max(z, 0) − z·t + log(1 + e^−|z|)
        return m.add(m.subtract(m.maximum(output, 0.0), m.multiply(output, target)),
                     m.log1p(m.exp(m.negative(m.abs(output)))))
    p = _clip_probs(output)
    return m.negative(m.add(m.multiply(target, m.log(p)),
                            m.multiply(m.subtract(1.0, target), m.log(m.subtract(1.0, p)))))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """−Σ t·log p over ``axis`` (p normalized to sum 1, then clipped)."""
    if from_logits:
        return m.negative(r.sum(m.multiply(target, log_softmax(output, axis=axis)), axis=axis))
    p = m.divide(output, r.sum(output, axis=axis, keepdims=True))
    return m.negative(r.sum(m.multiply(target, m.log(_clip_probs(p))), axis=axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Categorical crossentropy with integer class ``target`` (shape of output without axis)."""
    t = np.asarray(as_data(target)).astype(np.int64)
    od = np.asarray(as_data(output))
    if t.ndim == od.ndim and t.shape[axis] == 1:
        t = np.squeeze(t, axis=axis)
    return categorical_crossentropy(one_hot(t, od.shape[axis], axis=axis, dtype=od.dtype),
                                    output, from_logits=from_logits, axis=axis)


# ------------------------------------------------------------------ encodings
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Integer tensor → one-hot along a new ``axis`` (negative ids give all-zero rows)."""
    idx = np.asarray(as_data(x)).astype(np.int64)
    n = int(num_classes)
    out = (idx[..., None] == np.arange(n)).astype(np.dtype(dtype) if dtype is not None
                                                     else backend.floatx())
    return np.moveaxis(out, -1, axis) if axis not in (-1, out.ndim - 1) else out


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """1 for every class id present in each row of ``inputs``."""
    num_classes = num_classes if num_classes is not None else kwargs.get("num_tokens")
    oh = one_hot(inputs, num_classes, axis=-1, dtype=dtype)
    out = np.max(oh, axis=-2) if oh.ndim > 1 else oh
    return np.moveaxis(out, -1, axis) if axis not in (-1, out.ndim - 1) else out


# ------------------------------------------------------------------ statistics and normalization
def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over ``axes``."""
    mean = r.mean(x, axis=axes, keepdims=True)
    variance = r.mean(m.square(m.subtract(x, mean)), axis=axes, keepdims=keepdims)
    if not keepdims:
        from engine.ops.shape_ops import squeeze
        mean = squeeze(mean, axis=axes)
    return mean, variance


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """(x − mean) / √(variance + ε) · scale + offset, the statistics given along ``axis``."""
    from engine.ops.shape_ops import reshape
    xd = np.asarray(as_data(x))
    shape = [1] * xd.ndim
    shape[int(axis) % xd.ndim] = xd.shape[int(axis)]

    def along(v):
        return v if v is None or np.ndim(as_data(v)) != 1 else reshape(v, shape)
    y = m.multiply(m.subtract(x, along(mean)), m.rsqrt(m.add(along(variance), epsilon)))
    if scale is not None:
        y = m.multiply(y, along(scale))
    if offset is not None:
        y = m.add(y, along(offset))
    return y


def normalize(x, axis=-1, order=2, epsilon=None):
    """x divided by its ``order``-norm along ``axis`` (at least ε)."""
    from engine.ops.products import norm
    eps = backend.EPSILON if epsilon is None else epsilon
    return m.divide(x, m.maximum(norm(x, ord=order, axis=axis, keepdims=True), eps))


def rms_normalization(x, scale=1, axis=-1, epsilon=None):
    eps = backend.EPSILON if epsilon is None else epsilon
    y = m.multiply(x, m.rsqrt(m.add(r.mean(m.square(x), axis=axis, keepdims=True), eps)))
    return m.multiply(y, scale)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    eps = 1e-3 if epsilon is None else epsilon
    mean, var = moments(x, axes=axis, keepdims=True)
    y = m.multiply(m.subtract(x, mean), m.rsqrt(m.add(var, eps)))
    if gamma is not None:
        y = m.multiply(y, gamma)
    if beta is not None:
        y = m.add(y, beta)
    return y


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """softmax(q·kᵀ·scale + bias, masked) · v for (batch, steps, heads, head_dim) tensors."""
    from engine.ops.products import einsum
    qd = np.asarray(as_data(query))
    scale = 1.0 / math.sqrt(qd.shape[-1]) if scale is None else scale
    logits = m.multiply(einsum("btnh,bsnh->bnts", query, key), scale)
    if attn_logits_soft_cap is not None:
        logits = m.multiply(m.tanh(m.divide(logits, attn_logits_soft_cap)), attn_logits_soft_cap)
    if bias is not None:
        logits = m.add(logits, bias)
    t, s = np.shape(as_data(logits))[-2:]
    keep = np.ones((t, s), bool)
    if is_causal:
        keep = np.tril(keep)
    if mask is not None:
        keep = keep & np.asarray(as_data(mask)).astype(bool)
    if not keep.all():
        logits = m.where(keep, logits, np.finfo(np.float32).min / 2)
    probs = softmax(logits, axis=-1)
    return einsum("bnts,bsnh->btnh", probs, value)


def psnr(x1, x2, max_val):
    mse = r.mean(m.square(m.subtract(x1, x2)))
    return m.subtract(20 * math.log10(max_val), m.multiply(10.0, m.log10(mse)))
