"""Elementwise ops (Keras 3's ``keras.ops`` names): arithmetic with broadcasting, powers, exp/log,
trigonometry, rounding, comparisons and logic — each forward next to its vector-Jacobian product.

Results keep the inputs' float dtype (float32 in the engine); integer inputs of functions that
need floats (``exp``, ``sqrt`` ...) are computed in the engine's float dtype, as Keras does.
Gradients of broadcast inputs are summed back to the input's shape (:func:`unbroadcast`).
Comparisons, logic, ``sign`` and rounding have no gradient: they return plain arrays.
"""
from __future__ import annotations

import math

import numpy as np

from engine import backend
from engine.ops.tape import as_data, record, unbroadcast


def _float(a) -> np.ndarray:
    """``a`` as a float array (ints, bools and Python scalars in the engine's float dtype)."""
    a = np.asarray(a)
    return a if a.dtype.kind == "f" else a.astype(backend.floatx())


def _is_f64(a) -> bool:
    return isinstance(a, (np.ndarray, np.generic)) and a.dtype == np.float64


def _result(y: np.ndarray, a, b) -> np.ndarray:
    """numpy promotes int arrays with Python floats to float64; Keras gives floatx."""
    y = np.asarray(y)
    if y.dtype == np.float64 and not (_is_f64(a) or _is_f64(b)):
        return y.astype(backend.floatx())
    return y


def _shape(a) -> tuple:
    return np.shape(a)


# ------------------------------------------------------------------ unary, with gradient
def _unary(name: str, f, df, doc: str):
    """An elementwise op y = f(x) whose gradient is ``df(x, y, g)``."""

    def op(x):
        xd = _float(as_data(x))
        y = f(xd)
        return record(y, (x,), lambda g, need: (df(xd, y, g),))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return (1 / (1 + np.exp(-x))).astype(x.dtype, copy=False)


negative = _unary("negative", np.negative, lambda x, y, g: -g, "−x.")
exp = _unary("exp", np.exp, lambda x, y, g: g * y, "eˣ.")
expm1 = _unary("expm1", np.expm1, lambda x, y, g: g * (y + 1), "eˣ − 1, exact for small x.")
exp2 = _unary("exp2", np.exp2, lambda x, y, g: g * y * x.dtype.type(math.log(2)), "2ˣ.")
log = _unary("log", np.log, lambda x, y, g: g / x, "Natural logarithm.")
log1p = _unary("log1p", np.log1p, lambda x, y, g: g / (1 + x), "log(1 + x), exact for small x.")
log2 = _unary("log2", np.log2, lambda x, y, g: g / (x * x.dtype.type(math.log(2))), "log₂ x.")
log10 = _unary("log10", np.log10, lambda x, y, g: g / (x * x.dtype.type(math.log(10))),
               "log₁₀ x.")
sqrt = _unary("sqrt", np.sqrt, lambda x, y, g: g / (2 * y), "√x.")
rsqrt = _unary("rsqrt", lambda x: 1 / np.sqrt(x), lambda x, y, g: g * (-0.5) * y / x, "1/√x.")
square = _unary("square", np.square, lambda x, y, g: g * 2 * x, "x².")
reciprocal = _unary("reciprocal", lambda x: 1 / x, lambda x, y, g: -g * y * y, "1/x.")
abs = absolute = _unary("absolute", np.abs, lambda x, y, g: g * np.sign(x), "|x| (gradient "
                        "sign(x), 0 at 0).")
sin = _unary("sin", np.sin, lambda x, y, g: g * np.cos(x), "Sine.")
cos = _unary("cos", np.cos, lambda x, y, g: -g * np.sin(x), "Cosine.")
tan = _unary("tan", np.tan, lambda x, y, g: g * (1 + y * y), "Tangent.")
sinh = _unary("sinh", np.sinh, lambda x, y, g: g * np.cosh(x), "Hyperbolic sine.")
cosh = _unary("cosh", np.cosh, lambda x, y, g: g * np.sinh(x), "Hyperbolic cosine.")
tanh = _unary("tanh", np.tanh, lambda x, y, g: g * (1 - y * y), "Hyperbolic tangent.")
arcsin = _unary("arcsin", np.arcsin, lambda x, y, g: g / np.sqrt(1 - x * x), "Inverse sine.")
arccos = _unary("arccos", np.arccos, lambda x, y, g: -g / np.sqrt(1 - x * x), "Inverse cosine.")
arctan = _unary("arctan", np.arctan, lambda x, y, g: g / (1 + x * x), "Inverse tangent.")
arcsinh = _unary("arcsinh", np.arcsinh, lambda x, y, g: g / np.sqrt(x * x + 1),
                 "Inverse hyperbolic sine.")
arccosh = _unary("arccosh", np.arccosh, lambda x, y, g: g / np.sqrt(x * x - 1),
                 "Inverse hyperbolic cosine.")
arctanh = _unary("arctanh", np.arctanh, lambda x, y, g: g / (1 - x * x),
                 "Inverse hyperbolic tangent.")
sigmoid = _unary("sigmoid", _sigmoid, lambda x, y, g: g * y * (1 - y), "1 / (1 + e⁻ˣ).")


def _erf(x: np.ndarray) -> np.ndarray:
    from engine.kernels.special import erf as erf_kernel
    return erf_kernel(x)


erf = _unary("erf", _erf, lambda x, y, g: g * x.dtype.type(2 / math.sqrt(math.pi)) * np.exp(-x * x),
             "The error function.")
erfc = _unary("erfc", lambda x: 1 - _erf(x),
              lambda x, y, g: -g * x.dtype.type(2 / math.sqrt(math.pi)) * np.exp(-x * x),
              "1 − erf(x).")


def positive(x):
    """+x (the input itself)."""
    return x


# ------------------------------------------------------------------ unary, no gradient
def _constant(name: str, f, doc: str):
    def op(x):
        return f(as_data(x))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc + " No gradient (piecewise constant)."
    return op


sign = _constant("sign", np.sign, "−1, 0 or 1.")
floor = _constant("floor", np.floor, "Round down.")
ceil = _constant("ceil", np.ceil, "Round up.")
trunc = _constant("trunc", np.trunc, "Round towards zero.")
isnan = _constant("isnan", np.isnan, "True where NaN.")
isinf = _constant("isinf", np.isinf, "True where ±inf.")
isfinite = _constant("isfinite", np.isfinite, "True where neither NaN nor inf.")
logical_not = _constant("logical_not", np.logical_not, "Elementwise NOT.")
signbit = _constant("signbit", np.signbit, "True where the sign bit is set.")


def round(x, decimals=0):
    """Round half to even to ``decimals`` places. No gradient."""
    return np.round(as_data(x), decimals)


# ------------------------------------------------------------------ binary, with gradient
def _binary(name: str, f, dfa, dfb, doc: str):
    """y = f(a, b) with broadcasting; ``dfa(a, b, y, g)`` / ``dfb`` are the unreduced gradients."""

    def op(x1, x2):
        a, b = as_data(x1), as_data(x2)
        y = _result(f(a, b), a, b)

        def vjp(g, need):
            return (unbroadcast(dfa(a, b, y, g), _shape(a)) if need[0] else None,
                    unbroadcast(dfb(a, b, y, g), _shape(b)) if need[1] else None)
        return record(y, (x1, x2), vjp)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _keep(a, g):
    return np.broadcast_to(g, np.broadcast_shapes(np.shape(a), g.shape))


add = _binary("add", np.add, lambda a, b, y, g: g, lambda a, b, y, g: g, "x1 + x2.")
subtract = _binary("subtract", np.subtract, lambda a, b, y, g: g, lambda a, b, y, g: -g,
                   "x1 − x2.")
multiply = _binary("multiply", np.multiply, lambda a, b, y, g: g * b, lambda a, b, y, g: g * a,
                   "x1 · x2.")
divide = true_divide = _binary("divide", np.true_divide, lambda a, b, y, g: g / b,
                               lambda a, b, y, g: -g * y / b, "x1 / x2.")


def _pow_db(a, b, y, g):
    a = np.asarray(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 0, g * y * np.log(np.where(a > 0, a, 1)), 0).astype(y.dtype)


def _pow_da(a, b, y, g):
    with np.errstate(divide="ignore", invalid="ignore"):
        return g * b * np.power(a, np.asarray(b) - 1)


power = _binary("power", np.power, _pow_da, _pow_db, "x1 ** x2 (gradient in x2 where x1 > 0).")


def _pick(a, b, y, g, first: bool):
    # ties send the gradient to x1, as numpy's argmax picks the first
    mask = (np.asarray(a) >= np.asarray(b)) if first else (np.asarray(a) < np.asarray(b))
    return np.where(mask, g, 0).astype(g.dtype, copy=False)


def _pick_min(a, b, y, g, first: bool):
    mask = (np.asarray(a) <= np.asarray(b)) if first else (np.asarray(a) > np.asarray(b))
    return np.where(mask, g, 0).astype(g.dtype, copy=False)


maximum = _binary("maximum", np.maximum, lambda a, b, y, g: _pick(a, b, y, g, True),
                  lambda a, b, y, g: _pick(a, b, y, g, False),
                  "Elementwise maximum (ties: the gradient goes to x1).")
minimum = _binary("minimum", np.minimum, lambda a, b, y, g: _pick_min(a, b, y, g, True),
                  lambda a, b, y, g: _pick_min(a, b, y, g, False),
                  "Elementwise minimum (ties: the gradient goes to x1).")
mod = _binary("mod", np.mod, lambda a, b, y, g: _keep(a, g),
              lambda a, b, y, g: -g * np.floor_divide(a, b), "Remainder with the sign of x2.")
arctan2 = _binary("arctan2", np.arctan2,
                  lambda a, b, y, g: g * b / (a * a + b * b),
                  lambda a, b, y, g: -g * a / (a * a + b * b), "Angle of (x2, x1).")
logaddexp = _binary("logaddexp", np.logaddexp,
                    lambda a, b, y, g: g * np.exp(a - y), lambda a, b, y, g: g * np.exp(b - y),
                    "log(eˣ¹ + eˣ²) without overflow.")
hypot = _binary("hypot", np.hypot, lambda a, b, y, g: g * a / y, lambda a, b, y, g: g * b / y,
                "√(x1² + x2²).")


def divide_no_nan(x1, x2):
    """x1 / x2, and 0 where x2 == 0 (with gradient 0 there)."""
    b = as_data(x2)
    zero = np.asarray(b) == 0
    safe = where(zero, 1, x2) if zero.any() else x2
    return where(zero, 0, divide(x1, safe))


def floor_divide(x1, x2):
    """⌊x1 / x2⌋. No gradient."""
    a, b = as_data(x1), as_data(x2)
    return _result(np.floor_divide(a, b), a, b)


def square_difference(x1, x2):
    d = subtract(x1, x2)
    return multiply(d, d)


# ------------------------------------------------------------------ selection
def where(condition, x1=None, x2=None):
    """Elements of x1 where ``condition``, else of x2 (gradients go to the chosen side);
    with only ``condition``, the indices where it holds (as ``np.nonzero``)."""
    c = np.asarray(as_data(condition)).astype(bool)
    if x1 is None and x2 is None:
        return np.nonzero(c)
    if x1 is None or x2 is None:
        raise ValueError("where: give both x1 and x2, or neither")
    a, b = as_data(x1), as_data(x2)
    y = _result(np.where(c, a, b), a, b)

    def vjp(g, need):
        zero = g.dtype.type(0)
        return (None, unbroadcast(np.where(c, g, zero), _shape(a)) if need[1] else None,
                unbroadcast(np.where(c, zero, g), _shape(b)) if need[2] else None)
    return record(y, (condition, x1, x2), vjp)


def clip(x, x_min, x_max):
    """x limited to [x_min, x_max]; the gradient passes where x is inside."""
    xd = as_data(x)
    lo, hi = as_data(x_min), as_data(x_max)
    y = np.clip(xd, lo, hi)
    if isinstance(xd, np.ndarray) and y.dtype != xd.dtype and xd.dtype.kind == "f":
        y = y.astype(xd.dtype)

    def vjp(g, need):
        inside = (np.asarray(xd) >= lo) & (np.asarray(xd) <= hi)
        return (np.where(inside, g, g.dtype.type(0)), None, None)
    return record(y, (x, x_min, x_max), vjp)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN → ``nan``, ±inf → large finite numbers; the gradient passes where x was finite."""
    xd = as_data(x)
    y = np.nan_to_num(xd, nan=nan, posinf=posinf, neginf=neginf)
    return record(y, (x,), lambda g, need: (np.where(np.isfinite(xd), g, 0).astype(g.dtype),))


# ------------------------------------------------------------------ comparisons and logic
def _compare(name: str, f):
    def op(x1, x2):
        return f(as_data(x1), as_data(x2))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} (booleans, no gradient)."
    return op


equal = _compare("equal", np.equal)
not_equal = _compare("not_equal", np.not_equal)
less = _compare("less", np.less)
less_equal = _compare("less_equal", np.less_equal)
greater = _compare("greater", np.greater)
greater_equal = _compare("greater_equal", np.greater_equal)
logical_and = _compare("logical_and", np.logical_and)
logical_or = _compare("logical_or", np.logical_or)
logical_xor = _compare("logical_xor", np.logical_xor)


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return np.isclose(as_data(x1), as_data(x2), rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return bool(np.allclose(as_data(x1), as_data(x2), rtol=rtol, atol=atol, equal_nan=equal_nan))
