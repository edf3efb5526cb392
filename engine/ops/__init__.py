"""``engine.ops``: Keras 3's ``keras.ops`` — the numpy-like core, ``ops.nn`` and the core ops —
on numpy, differentiable by a tape.

Where things live (each op's forward sits next to its vector-Jacobian product):

=====================  ==================================================================
``tape.py``            Tensor, Tape, recording and reverse-mode differentiation
``operators.py``       Python operators (``+ - * / @ [] <``) of tensors and weights
``math_ops.py``        elementwise arithmetic, exp/log/trig, where, clip, comparisons
``reductions.py``      sum, mean, max/min, prod, std/var, logsumexp, cumsum, arg*
``shape_ops.py``       reshape, transpose, concatenate/stack/split, tile/repeat, indexing
``products.py``      matmul, dot, tensordot, einsum, norm
``linalg.py``        ops.linalg: inv, solve, det, slogdet, cholesky, qr, svd, eig ...
``numpy_extra.py``   the rarer numpy functions (median, quantile, diff, cross, kron, bincount
                     ...) and ops.math's segment_sum/segment_max/extract_sequences
``creation.py``        zeros/ones/full(_like), arange, linspace, eye
``core.py``            convert_to_tensor, shape, cast, stop_gradient, scatter, control flow
``nn.py``              activations, softmax, crossentropies, one_hot, moments, attention
``nn_conv.py``         conv, depthwise/separable conv, max_pool, average_pool
=====================  ==================================================================

Without a recording tape every op returns a plain numpy array.
"""
from engine.ops import linalg, nn  # noqa: F401  (keras.ops.nn.relu, keras.ops.linalg.inv)
from engine.ops.core import (  # noqa: F401
    associative_scan,
    cast,
    cond,
    convert_to_numpy,
    convert_to_tensor,
    custom_gradient,
    dtype,
    fori_loop,
    is_tensor,
    map,
    ndim,
    saturate_cast,
    scan,
    scatter,
    scatter_update,
    shape,
    size,
    slice_update,
    stop_gradient,
    switch,
    vectorized_map,
    while_loop,
)
from engine.ops.creation import (  # noqa: F401
    arange,
    array,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    identity,
    linspace,
    logspace,
    meshgrid,
    ones,
    ones_like,
    tri,
    zeros,
    zeros_like,
)
from engine.ops.products import dot, einsum, inner, matmul, norm, outer, tensordot, vdot  # noqa: F401
from engine.ops.math_ops import (  # noqa: F401
    abs,
    absolute,
    add,
    allclose,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    ceil,
    clip,
    cos,
    cosh,
    divide,
    divide_no_nan,
    equal,
    erf,
    erfc,
    exp,
    exp2,
    expm1,
    floor,
    floor_divide,
    greater,
    greater_equal,
    hypot,
    isclose,
    isfinite,
    isinf,
    isnan,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    nan_to_num,
    negative,
    not_equal,
    positive,
    power,
    reciprocal,
    round,
    rsqrt,
    sign,
    signbit,
    sin,
    sinh,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    true_divide,
    trunc,
    where,
)
from engine.ops.nn import (  # noqa: F401
    batch_normalization,
    binary_crossentropy,
    categorical_crossentropy,
    celu,
    dot_product_attention,
    elu,
    gelu,
    glu,
    hard_shrink,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    layer_normalization,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    mish,
    moments,
    multi_hot,
    normalize,
    one_hot,
    psnr,
    relu,
    relu6,
    rms_normalization,
    selu,
    sigmoid,
    silu,
    soft_shrink,
    softmax,
    softplus,
    softsign,
    sparse_categorical_crossentropy,
    sparse_plus,
    squareplus,
    swish,
    tanh_shrink,
    threshold,
)
from engine.ops.nn_conv import (average_pool, conv, conv_transpose,  # noqa: F401
                                depthwise_conv, max_pool, separable_conv)
from engine.ops.reductions import (  # noqa: F401
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    argsort,
    average,
    count_nonzero,
    cumprod,
    cumsum,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from engine.ops.shape_ops import (  # noqa: F401
    append,
    array_split,
    broadcast_to,
    concatenate,
    copy,
    diag,
    diagonal,
    expand_dims,
    flatten,
    flip,
    get_item,
    hstack,
    moveaxis,
    pad,
    ravel,
    repeat,
    reshape,
    roll,
    slice,
    sort,
    split,
    squeeze,
    stack,
    swapaxes,
    take,
    take_along_axis,
    tile,
    trace,
    transpose,
    tril,
    triu,
    unstack,
    vstack,
)
from engine.ops.numpy_extra import (argpartition, bincount, cbrt, column_stack,  # noqa: F401
                                    correlate, corrcoef, cross, deg2rad, diff, digitize,
                                    dsplit, dstack, extract_sequences, fliplr, flipud, fmod,
                                    heaviside, histogram, hsplit, isin, kron, ldexp,
                                    logaddexp2, median, nanmax, nanmean, nanmin, nanprod,
                                    nanstd, nansum, nanvar, nonzero, percentile, ptp, quantile,
                                    rad2deg, rot90, searchsorted, segment_max, segment_sum,
                                    select, sinc, trapezoid, unique, unravel_index, vander,
                                    vsplit)
from engine.ops.linalg import logdet  # noqa: F401
from engine.ops.tape import Tape, Tensor  # noqa: F401


def top_k(x, k, sorted=True):
    """(values, indices) of the k largest entries along the last axis; values carry the
    gradient back to where they came from."""
    import numpy as _np

    from engine.ops.tape import as_data as _data
    xd = _np.asarray(_data(x))
    idx = _np.argsort(-xd, axis=-1, kind="stable")[..., :int(k)]
    return take_along_axis(x, idx, axis=-1), idx.astype(_np.int32)


def in_top_k(targets, predictions, k):
    import numpy as _np

    from engine.ops.tape import as_data as _data
    p = _np.asarray(_data(predictions))
    t = _np.asarray(_data(targets)).astype(_np.int64)
    target_scores = _np.take_along_axis(p, t[:, None], axis=-1)
    return (_np.sum(p > target_scores, axis=-1) < int(k))



def _any_symbolic(args, kwargs) -> bool:
    # (this module's any/all/sum are ops: loops only here)
    for a in (*args, *kwargs.values()):
        if getattr(a, "_keras_tensor", False):
            return True
        if isinstance(a, (list, tuple)):
            for v in a:
                if getattr(v, "_keras_tensor", False):
                    return True
    return False


def _symbolic_aware(fn):
    """``fn`` that, given symbolic tensors (building a Functional model), adds an op step to
    the graph instead of computing (engine/layers/op_call.py)."""
    import functools

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if _any_symbolic(args, kwargs):
            from engine.layers.op_call import symbolic_op
            return symbolic_op(fn.__name__, args, kwargs)
        return fn(*args, **kwargs)
    op.__wrapped_op__ = fn
    return op


def _wrap_namespace(namespace: dict, names) -> None:
    for name in names:
        fn = namespace.get(name)
        if callable(fn) and not isinstance(fn, type) and not name.startswith("_") and \
                not hasattr(fn, "__wrapped_op__") and getattr(fn, "__module__", "").startswith(
                    "engine.ops"):
            namespace[name] = _symbolic_aware(fn)


_wrap_namespace(globals(), [n for n in list(globals()) if n not in ("custom_gradient",)])
_wrap_namespace(vars(nn), [n for n in list(vars(nn)) if n not in ("apply_activation",)])


def __getattr__(name: str):
    # keras.ops.numpy.sum, keras.ops.math.logsumexp: the same functions, one flat namespace
    if name in ("numpy", "math"):
        import sys
        return sys.modules[__name__]
    raise AttributeError(f"module 'engine.ops' has no attribute {name!r}")
