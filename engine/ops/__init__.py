"""``engine.ops``: Keras 3's ``keras.ops`` — the numpy-like core, ``ops.nn`` and the core ops —
on numpy, differentiable by a tape.

Where things live (each op's forward sits next to its vector-Jacobian product):

=====================  ==================================================================
``tape.py``            Tensor, Tape, recording and reverse-mode differentiation
``operators.py``       Python operators (``+ - * / @ [] <``) of tensors and weights
``math_ops.py``        elementwise arithmetic, exp/log/trig, where, clip, comparisons
``reductions.py``      sum, mean, max/min, prod, std/var, logsumexp, cumsum, arg*
``shape_ops.py``       reshape, transpose, concatenate/stack/split, tile/repeat, indexing
``linalg_ops.py``      matmul, dot, tensordot, einsum, norm
``creation.py``        zeros/ones/full(_like), arange, linspace, eye
``core.py``            convert_to_tensor, shape, cast, stop_gradient, scatter, control flow
``nn.py``              activations, softmax, crossentropies, one_hot, moments, attention
``nn_conv.py``         conv, depthwise/separable conv, max_pool, average_pool
=====================  ==================================================================

Without a recording tape every op returns a plain numpy array.
"""
from engine.ops import nn  # noqa: F401  (keras.ops.nn.relu ...)
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
from engine.ops.linalg_ops import dot, einsum, inner, matmul, norm, outer, tensordot, vdot  # noqa: F401
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
from engine.ops.nn_conv import average_pool, conv, depthwise_conv, max_pool, separable_conv  # noqa: F401
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

