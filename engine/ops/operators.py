"""Python operators for traced tensors and weights: ``a + b``, ``x @ w``, ``-x``, ``x[i]``, ``x < 0``.

Each operator calls the op of the same meaning (``+`` → ``ops.add``), so it is recorded on the
tape like any op. numpy functions applied to them (``np.exp(t)``, or ``array + t``, which numpy
turns into ``np.add``) come back through ``__array_ufunc__`` and are mapped onto the ops too;
a numpy function without an op here computes on the plain data, and refuses while the tape
records a traced input (its gradient would silently be lost).
"""
from __future__ import annotations


def _m():
    from engine.ops import math_ops
    return math_ops


def _s():
    from engine.ops import shape_ops
    return shape_ops


def _r():
    from engine.ops import reductions
    return reductions


def _la():
    from engine.ops import products
    return products


# numpy ufunc name → (module getter, op name)
_UFUNCS = {
    "add": (_m, "add"), "subtract": (_m, "subtract"), "multiply": (_m, "multiply"),
    "divide": (_m, "divide"), "true_divide": (_m, "divide"), "floor_divide": (_m, "floor_divide"),
    "power": (_m, "power"), "negative": (_m, "negative"), "positive": (_m, "positive"),
    "absolute": (_m, "abs"), "exp": (_m, "exp"), "expm1": (_m, "expm1"), "log": (_m, "log"),
    "log1p": (_m, "log1p"), "log2": (_m, "log2"), "log10": (_m, "log10"),
    "sqrt": (_m, "sqrt"), "square": (_m, "square"), "tanh": (_m, "tanh"), "sin": (_m, "sin"),
    "cos": (_m, "cos"), "tan": (_m, "tan"), "sinh": (_m, "sinh"), "cosh": (_m, "cosh"),
    "arctan": (_m, "arctan"), "arcsin": (_m, "arcsin"), "arccos": (_m, "arccos"),
    "maximum": (_m, "maximum"), "minimum": (_m, "minimum"), "remainder": (_m, "mod"),
    "sign": (_m, "sign"), "reciprocal": (_m, "reciprocal"), "arctan2": (_m, "arctan2"),
    "logaddexp": (_m, "logaddexp"), "hypot": (_m, "hypot"),
    "equal": (_m, "equal"), "not_equal": (_m, "not_equal"), "less": (_m, "less"),
    "less_equal": (_m, "less_equal"), "greater": (_m, "greater"),
    "greater_equal": (_m, "greater_equal"), "logical_and": (_m, "logical_and"),
    "logical_or": (_m, "logical_or"), "logical_not": (_m, "logical_not"),
    "logical_xor": (_m, "logical_xor"), "matmul": (_la, "matmul"),
}


# numpy functions (not ufuncs) that run as the engine op of the same name on tensors/weights
_FUNCTIONS = frozenset({
    "sum", "mean", "max", "min", "amax", "amin", "prod", "std", "var", "cumsum", "cumprod",
    "concatenate", "stack", "hstack", "vstack", "split", "reshape", "transpose", "expand_dims",
    "squeeze", "ravel", "broadcast_to", "moveaxis", "swapaxes", "tile", "repeat", "flip", "roll",
    "pad", "take", "take_along_axis", "clip", "where", "dot", "tensordot", "einsum", "outer",
    "inner", "vdot", "trace", "diagonal", "tril", "triu", "sort", "average", "copy", "append",
    "diag", "nan_to_num", "argmax", "argmin", "argsort", "all", "any", "shape", "ndim", "size",
    "zeros_like", "ones_like", "full_like", "round", "isclose", "allclose", "count_nonzero",
})


def _flat_args(args):
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _flat_args(a)
        else:
            yield a


def _plain(a):
    from engine.ops.tape import as_data
    if isinstance(a, (list, tuple)):
        return type(a)(_plain(v) for v in a)
    return as_data(a) if isinstance(a, ArrayOperators) else a


class ArrayOperators:
    """Mixin: the Python operators of an array-like value, as engine ops."""

    __slots__ = ()

    def __add__(self, other):
        return _m().add(self, other)

    def __radd__(self, other):
        return _m().add(other, self)

    def __sub__(self, other):
        return _m().subtract(self, other)

    def __rsub__(self, other):
        return _m().subtract(other, self)

    def __mul__(self, other):
        return _m().multiply(self, other)

    def __rmul__(self, other):
        return _m().multiply(other, self)

    def __truediv__(self, other):
        return _m().divide(self, other)

    def __rtruediv__(self, other):
        return _m().divide(other, self)

    def __floordiv__(self, other):
        return _m().floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _m().floor_divide(other, self)

    def __mod__(self, other):
        return _m().mod(self, other)

    def __rmod__(self, other):
        return _m().mod(other, self)

    def __pow__(self, other):
        return _m().power(self, other)

    def __rpow__(self, other):
        return _m().power(other, self)

    def __matmul__(self, other):
        return _la().matmul(self, other)

    def __rmatmul__(self, other):
        return _la().matmul(other, self)

    def __neg__(self):
        return _m().negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _m().abs(self)

    def __invert__(self):
        return _m().logical_not(self)

    def __and__(self, other):
        return _m().logical_and(self, other)

    def __rand__(self, other):
        return _m().logical_and(other, self)

    def __or__(self, other):
        return _m().logical_or(self, other)

    def __ror__(self, other):
        return _m().logical_or(other, self)

    def __xor__(self, other):
        return _m().logical_xor(self, other)

    def __lt__(self, other):
        return _m().less(self, other)

    def __le__(self, other):
        return _m().less_equal(self, other)

    def __gt__(self, other):
        return _m().greater(self, other)

    def __ge__(self, other):
        return _m().greater_equal(self, other)

    def __getitem__(self, key):
        return _s().get_item(self, key)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    @property
    def T(self):
        return _s().transpose(self)

    # a few numpy-style methods (as torch tensors have), each the op of the same name
    def sum(self, axis=None, keepdims=False):
        return _r().sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _r().mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _r().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _r().min(self, axis=axis, keepdims=keepdims)

    def prod(self, axis=None, keepdims=False):
        return _r().prod(self, axis=axis, keepdims=keepdims)

    def std(self, axis=None, keepdims=False):
        return _r().std(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims=False):
        return _r().var(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        return _s().reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        return _s().transpose(self, (axes[0] if len(axes) == 1 else axes) or None)

    def flatten(self):
        return _s().flatten(self)

    def squeeze(self, axis=None):
        return _s().squeeze(self, axis=axis)

    def clip(self, min=None, max=None):
        return _m().clip(self, min, max)

    def astype(self, dtype):
        from engine.ops.core import cast
        return cast(self, dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from engine.ops.tape import as_data, is_traced
        entry = _UFUNCS.get(ufunc.__name__)
        if method == "__call__" and entry is not None and not kwargs:
            return getattr(entry[0](), entry[1])(*inputs)
        if any(is_traced(x) for x in inputs):
            raise TypeError(f"numpy's {ufunc.__name__}{'' if method == '__call__' else '.' + method}"
                            f" was applied to a traced tensor, which would lose its gradient; use "
                            f"the engine.ops function of the same name instead")
        return getattr(ufunc, method)(*[as_data(x) for x in inputs], **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from engine import ops
        from engine.ops.tape import is_traced
        name = func.__name__
        if name in _FUNCTIONS:
            return getattr(ops, name)(*args, **kwargs)
        if any(is_traced(a) for a in _flat_args(args)):
            raise TypeError(f"numpy's {name} was applied to a traced tensor, which would lose "
                            f"its gradient; use the engine.ops function of the same name instead")
        return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
