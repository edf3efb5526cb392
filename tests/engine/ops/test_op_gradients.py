"""Finite-difference checks (float64) of every differentiable op in engine.ops, broadcasting
included; a last test makes sure no public op is left out of this table."""
import numpy as np
import pytest

from engine import ops
from engine import random as krandom
from engine.ops import Tape
from tests.opcheck import check_op

rng = np.random.default_rng(42)


def R(*shape):
    return rng.standard_normal(shape)


def P(*shape):  # positive, away from 0
    return rng.uniform(0.5, 2.0, shape)


def U(*shape):  # inside (-1, 1), away from the ends
    return rng.uniform(-0.8, 0.8, shape)


def distinct(*shape):  # no ties (max/min/sort)
    return rng.permutation(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape) \
        * 0.37 + R(*shape) * 0.01


# (test id, op name(s) covered, function, args, wrt)
CASES = [
    # ---- elementwise, unary
    ("negative", ["negative"], ops.negative, [R(3, 4)], (0,)),
    ("exp", ["exp"], ops.exp, [R(3, 4)], (0,)),
    ("expm1", ["expm1"], ops.expm1, [R(3, 4)], (0,)),
    ("exp2", ["exp2"], ops.exp2, [R(3, 4)], (0,)),
    ("log", ["log"], ops.log, [P(3, 4)], (0,)),
    ("log1p", ["log1p"], ops.log1p, [P(3, 4)], (0,)),
    ("log2", ["log2"], ops.log2, [P(3, 4)], (0,)),
    ("log10", ["log10"], ops.log10, [P(3, 4)], (0,)),
    ("sqrt", ["sqrt"], ops.sqrt, [P(3, 4)], (0,)),
    ("rsqrt", ["rsqrt"], ops.rsqrt, [P(3, 4)], (0,)),
    ("square", ["square"], ops.square, [R(3, 4)], (0,)),
    ("reciprocal", ["reciprocal"], ops.reciprocal, [P(3, 4)], (0,)),
    ("abs", ["abs", "absolute"], ops.abs, [R(3, 4)], (0,)),
    ("sin", ["sin"], ops.sin, [R(3, 4)], (0,)),
    ("cos", ["cos"], ops.cos, [R(3, 4)], (0,)),
    ("tan", ["tan"], ops.tan, [U(3, 4)], (0,)),
    ("sinh", ["sinh"], ops.sinh, [R(3, 4)], (0,)),
    ("cosh", ["cosh"], ops.cosh, [R(3, 4)], (0,)),
    ("tanh", ["tanh"], ops.tanh, [R(3, 4)], (0,)),
    ("arcsin", ["arcsin"], ops.arcsin, [U(3, 4)], (0,)),
    ("arccos", ["arccos"], ops.arccos, [U(3, 4)], (0,)),
    ("arctan", ["arctan"], ops.arctan, [R(3, 4)], (0,)),
    ("arcsinh", ["arcsinh"], ops.arcsinh, [R(3, 4)], (0,)),
    ("arccosh", ["arccosh"], ops.arccosh, [P(3, 4) + 1.0], (0,)),
    ("arctanh", ["arctanh"], ops.arctanh, [U(3, 4)], (0,)),
    ("erf", ["erf"], ops.erf, [R(3, 4)], (0,)),
    ("erfc", ["erfc"], ops.erfc, [R(3, 4)], (0,)),
    ("positive", ["positive"], lambda x: ops.multiply(ops.positive(x), 1.0), [R(3)], (0,)),
    ("clip", ["clip"], lambda x: ops.clip(x, -0.5, 0.5), [np.array([-2., -0.3, 0.1, 0.4, 3.])],
     (0,)),
    ("nan_to_num", ["nan_to_num"], ops.nan_to_num, [R(3, 4)], (0,)),
    # ---- elementwise, binary, with broadcasting
    ("add", ["add"], ops.add, [R(3, 4), R(4)], (0, 1)),
    ("add_scalar_tensor", ["add"], ops.add, [R(3, 1), R(1, 4)], (0, 1)),
    ("subtract", ["subtract"], ops.subtract, [R(2, 3, 4), R(3, 1)], (0, 1)),
    ("multiply", ["multiply"], ops.multiply, [R(3, 4), R(3, 1)], (0, 1)),
    ("divide", ["divide", "true_divide"], ops.divide, [R(3, 4), P(4)], (0, 1)),
    ("divide_no_nan", ["divide_no_nan"], ops.divide_no_nan, [R(3, 4), P(4)], (0, 1)),
    ("power", ["power"], ops.power, [P(3, 4), R(1, 4)], (0, 1)),
    ("maximum", ["maximum"], ops.maximum, [R(3, 4), R(4)], (0, 1)),
    ("minimum", ["minimum"], ops.minimum, [R(3, 4), R(3, 1)], (0, 1)),
    ("mod", ["mod"], ops.mod, [P(3, 4) * 3, P(4)], (0,)),
    ("arctan2", ["arctan2"], ops.arctan2, [R(3, 4), P(4)], (0, 1)),
    ("logaddexp", ["logaddexp"], ops.logaddexp, [R(3, 4), R(4)], (0, 1)),
    ("hypot", ["hypot"], ops.hypot, [R(3, 4), P(3, 1)], (0, 1)),
    ("where", ["where"], lambda a, b: ops.where(np.arange(12).reshape(3, 4) % 3 == 0, a, b),
     [R(3, 4), R(4)], (0, 1)),
    # ---- reductions
    ("sum", ["sum"], lambda x: ops.sum(x, axis=1), [R(3, 4, 2)], (0,)),
    ("sum_all_keepdims", ["sum"], lambda x: ops.sum(x, keepdims=True), [R(3, 4)], (0,)),
    ("mean", ["mean"], lambda x: ops.mean(x, axis=(0, 2)), [R(3, 4, 2)], (0,)),
    ("max", ["max", "amax"], lambda x: ops.max(x, axis=-1), [distinct(3, 4)], (0,)),
    ("min", ["min", "amin"], lambda x: ops.min(x, axis=0, keepdims=True), [distinct(3, 4)], (0,)),
    ("prod", ["prod"], lambda x: ops.prod(x, axis=1), [R(3, 4)], (0,)),
    ("prod_with_zero", ["prod"], ops.prod, [np.array([[0.0, 2.0, 3.0], [1.5, 0.5, 2.0]])],
     (0,)),
    ("var", ["var"], lambda x: ops.var(x, axis=0), [R(5, 3)], (0,)),
    ("std", ["std"], lambda x: ops.std(x, axis=-1), [R(3, 5)], (0,)),
    ("logsumexp", ["logsumexp"], lambda x: ops.logsumexp(x, axis=1), [R(3, 4)], (0,)),
    ("cumsum", ["cumsum"], lambda x: ops.cumsum(x, axis=1), [R(3, 4)], (0,)),
    ("cumsum_flat", ["cumsum"], ops.cumsum, [R(3, 4)], (0,)),
    ("cumprod", ["cumprod"], lambda x: ops.cumprod(x, axis=0), [P(3, 4)], (0,)),
    ("average", ["average"], lambda x, w: ops.average(x, axis=1, weights=w), [R(3, 4), P(4)],
     (0, 1)),
    # ---- products
    ("matmul_2d", ["matmul"], ops.matmul, [R(3, 4), R(4, 2)], (0, 1)),
    ("matmul_batch_broadcast", ["matmul"], ops.matmul, [R(2, 3, 4), R(4, 5)], (0, 1)),
    ("matmul_batch_both", ["matmul"], ops.matmul, [R(2, 1, 3, 4), R(3, 4, 2)], (0, 1)),
    ("matmul_vec", ["matmul"], ops.matmul, [R(4), R(2, 4, 3)], (0, 1)),
    ("dot", ["dot"], ops.dot, [R(3, 4), R(2, 4, 5)], (0, 1)),
    ("dot_vec", ["dot"], ops.dot, [R(3, 4), R(4)], (0, 1)),
    ("tensordot", ["tensordot"], lambda a, b: ops.tensordot(a, b, axes=([1, 2], [0, 2])),
     [R(2, 3, 4), R(3, 5, 4)], (0, 1)),
    ("einsum", ["einsum"], lambda a, b: ops.einsum("bij,bjk->bik", a, b), [R(2, 3, 4),
                                                                         R(2, 4, 5)], (0, 1)),
    ("einsum_ellipsis", ["einsum"], lambda a, b: ops.einsum("...ij,jk", a, b),
     [R(2, 3, 4), R(4, 2)], (0, 1)),
    ("einsum_sum_only_here", ["einsum"], lambda a, b: ops.einsum("ij,k->ik", a, b),
     [R(3, 4), R(5)], (0, 1)),
    ("inner", ["inner"], ops.inner, [R(3, 4), R(2, 4)], (0, 1)),
    ("outer", ["outer"], ops.outer, [R(3), R(4)], (0, 1)),
    ("vdot", ["vdot"], ops.vdot, [R(3, 2), R(6)], (0, 1)),
    ("norm", ["norm"], lambda x: ops.norm(x, axis=-1), [R(3, 4)], (0,)),
    ("norm_1", ["norm"], lambda x: ops.norm(x, ord=1, axis=0), [R(3, 4)], (0,)),
    # ---- shapes, joining, indexing
    ("reshape", ["reshape"], lambda x: ops.reshape(x, (4, -1)), [R(2, 3, 2)], (0,)),
    ("transpose", ["transpose"], lambda x: ops.transpose(x, (2, 0, 1)), [R(2, 3, 4)], (0,)),
    ("moveaxis", ["moveaxis"], lambda x: ops.moveaxis(x, 0, -1), [R(2, 3, 4)], (0,)),
    ("swapaxes", ["swapaxes"], lambda x: ops.swapaxes(x, 0, 2), [R(2, 3, 4)], (0,)),
    ("expand_dims", ["expand_dims"], lambda x: ops.expand_dims(x, 1), [R(3, 4)], (0,)),
    ("squeeze", ["squeeze"], lambda x: ops.squeeze(x, axis=1), [R(3, 1, 4)], (0,)),
    ("ravel", ["ravel", "flatten"], ops.ravel, [R(3, 4)], (0,)),
    ("broadcast_to", ["broadcast_to"], lambda x: ops.broadcast_to(x, (2, 3, 4)), [R(3, 1)], (0,)),
    ("copy", ["copy"], ops.copy, [R(3)], (0,)),
    ("concatenate", ["concatenate"], lambda a, b: ops.concatenate([a, b], axis=1),
     [R(2, 3), R(2, 4)], (0, 1)),
    ("append", ["append"], lambda a, b: ops.append(a, b, axis=0), [R(2, 3), R(1, 3)], (0, 1)),
    ("stack", ["stack"], lambda a, b: ops.stack([a, b], axis=1), [R(2, 3), R(2, 3)], (0, 1)),
    ("hstack", ["hstack"], lambda a, b: ops.hstack([a, b]), [R(2, 3), R(2, 1)], (0, 1)),
    ("vstack", ["vstack"], lambda a, b: ops.vstack([a, b]), [R(2, 3), R(3)], (0, 1)),
    ("split", ["split"], lambda x: ops.split(x, [1, 3], axis=1), [R(2, 5)], (0,)),
    ("array_split", ["array_split"], lambda x: ops.array_split(x, 2, axis=0), [R(5, 2)], (0,)),
    ("unstack", ["unstack"], lambda x: ops.unstack(x, axis=1), [R(2, 3)], (0,)),
    ("tile", ["tile"], lambda x: ops.tile(x, (2, 1, 3)), [R(3, 2)], (0,)),
    ("repeat", ["repeat"], lambda x: ops.repeat(x, 2, axis=1), [R(3, 2)], (0,)),
    ("repeat_counts", ["repeat"], lambda x: ops.repeat(x, [1, 0, 3], axis=0), [R(3, 2)], (0,)),
    ("repeat_flat", ["repeat"], lambda x: ops.repeat(x, 2), [R(2, 2)], (0,)),
    ("flip", ["flip"], lambda x: ops.flip(x, axis=1), [R(2, 3)], (0,)),
    ("roll", ["roll"], lambda x: ops.roll(x, 2, axis=1), [R(2, 5)], (0,)),
    ("pad", ["pad"], lambda x: ops.pad(x, ((1, 0), (2, 1))), [R(2, 3)], (0,)),
    ("pad_reflect", ["pad"], lambda x: ops.pad(x, ((0, 0), (2, 1)), mode="reflect"), [R(2, 4)],
     (0,)),
    ("get_item_slice", ["get_item"], lambda x: x[1:, ::2], [R(3, 4)], (0,)),
    ("get_item_fancy", ["get_item"], lambda x: x[np.array([0, 2, 0])], [R(3, 4)], (0,)),
    ("get_item_bool", ["get_item"], lambda x: ops.get_item(x, np.array([True, False, True])),
     [R(3, 2)], (0,)),
    ("slice", ["slice"], lambda x: ops.slice(x, (1, 0), (2, 3)), [R(3, 4)], (0,)),
    ("take", ["take"], lambda x: ops.take(x, np.array([[0, 2], [2, 2]]), axis=1), [R(2, 3)],
     (0,)),
    ("take_flat", ["take"], lambda x: ops.take(x, np.array([5, 0, 5])), [R(2, 3)], (0,)),
    ("take_along_axis", ["take_along_axis"],
     lambda x: ops.take_along_axis(x, np.array([[0], [2]]), axis=1), [R(2, 3)], (0,)),
    ("diagonal", ["diagonal"], ops.diagonal, [R(3, 4)], (0,)),
    ("diag", ["diag"], ops.diag, [R(3)], (0,)),
    ("trace", ["trace"], ops.trace, [R(3, 3)], (0,)),
    ("tril", ["tril"], ops.tril, [R(3, 3)], (0,)),
    ("triu", ["triu"], lambda x: ops.triu(x, 1), [R(3, 3)], (0,)),
    ("sort", ["sort"], lambda x: ops.sort(x, axis=-1), [distinct(2, 4)], (0,)),
    ("top_k", ["top_k"], lambda x: ops.top_k(x, 2)[0], [distinct(2, 4)], (0,)),
    # ---- core
    ("cast", ["cast"], lambda x: ops.cast(x, "float64"), [R(3)], (0,)),
    ("convert_to_tensor", ["convert_to_tensor"], ops.convert_to_tensor, [R(3)], (0,)),
    ("slice_update", ["slice_update"], lambda x, u: ops.slice_update(x, (1, 1), u),
     [R(3, 4), R(2, 2)], (0, 1)),
    ("scatter", ["scatter"], lambda v: ops.scatter(np.array([[0, 1], [2, 0], [0, 1]]), v, (3, 2)),
     [R(3)], (0,)),
    ("scatter_update", ["scatter_update"],
     lambda x, u: ops.scatter_update(x, np.array([[0, 1], [2, 0]]), u), [R(3, 2), R(2)], (0, 1)),
    ("map", ["map", "vectorized_map"], lambda x: ops.map(ops.sum, x), [R(3, 2)], (0,)),
    ("scan", ["scan"], lambda x: ops.scan(lambda c, v: (c * v, c + v), 1.0, x)[1], [P(3)], (0,)),
    ("associative_scan", ["associative_scan"], lambda x: ops.associative_scan(ops.add, x),
     [R(4)], (0,)),
    ("fori_loop", ["fori_loop"], lambda x: ops.fori_loop(0, 3, lambda i, v: v * x, x), [R(2)],
     (0,)),
    ("while_loop", ["while_loop"],
     lambda x: ops.while_loop(lambda i, v: i < 2, lambda i, v: (i + 1, ops.sin(v)), (0, x))[1],
     [R(3)], (0,)),
    ("cond", ["cond", "switch"], lambda x: ops.cond(True, lambda: ops.exp(x), lambda: x),
     [R(3)], (0,)),
    # ---- nn
    ("relu", ["relu"], ops.relu, [R(3, 4)], (0,)),
    ("relu6", ["relu6"], lambda x: ops.relu6(x * 5), [R(3, 4)], (0,)),
    ("sigmoid", ["sigmoid"], ops.sigmoid, [R(3, 4)], (0,)),
    ("softplus", ["softplus"], ops.softplus, [R(3, 4)], (0,)),
    ("softsign", ["softsign"], ops.softsign, [R(3, 4)], (0,)),
    ("silu", ["silu", "swish"], ops.silu, [R(3, 4)], (0,)),
    ("log_sigmoid", ["log_sigmoid"], ops.log_sigmoid, [R(3, 4)], (0,)),
    ("leaky_relu", ["leaky_relu"], lambda x: ops.leaky_relu(x, 0.1), [R(3, 4)], (0,)),
    ("hard_sigmoid", ["hard_sigmoid"], lambda x: ops.hard_sigmoid(x * 4), [R(3, 4)], (0,)),
    ("hard_silu", ["hard_silu", "hard_swish"], lambda x: ops.hard_silu(x * 4), [R(3, 4)], (0,)),
    ("elu", ["elu"], lambda x: ops.elu(x, 0.7), [R(3, 4)], (0,)),
    ("selu", ["selu"], ops.selu, [R(3, 4)], (0,)),
    ("gelu_tanh", ["gelu"], ops.gelu, [R(3, 4)], (0,)),
    ("gelu_exact", ["gelu"], lambda x: ops.gelu(x, approximate=False), [R(3, 4)], (0,)),
    ("mish", ["mish"], ops.mish, [R(3, 4)], (0,)),
    ("celu", ["celu"], lambda x: ops.celu(x, 0.5), [R(3, 4)], (0,)),
    ("glu", ["glu"], ops.glu, [R(3, 4)], (0,)),
    ("hard_tanh", ["hard_tanh"], lambda x: ops.hard_tanh(x * 2), [R(3, 4)], (0,)),
    ("tanh_shrink", ["tanh_shrink"], ops.tanh_shrink, [R(3, 4)], (0,)),
    ("soft_shrink", ["soft_shrink"], ops.soft_shrink, [R(3, 4)], (0,)),
    ("hard_shrink", ["hard_shrink"], ops.hard_shrink, [R(3, 4)], (0,)),
    ("squareplus", ["squareplus"], ops.squareplus, [R(3, 4)], (0,)),
    ("sparse_plus", ["sparse_plus"], lambda x: ops.sparse_plus(x * 2), [R(3, 4)], (0,)),
    ("threshold", ["threshold"], lambda x: ops.threshold(x, 0.1, -1.0), [R(3, 4)], (0,)),
    ("softmax", ["softmax"], ops.softmax, [R(3, 4)], (0,)),
    ("softmax_axis0", ["softmax"], lambda x: ops.softmax(x, axis=0), [R(3, 4)], (0,)),
    ("log_softmax", ["log_softmax"], lambda x: ops.log_softmax(x, axis=1), [R(3, 4)], (0,)),
    ("binary_crossentropy", ["binary_crossentropy"], ops.binary_crossentropy,
     [rng.uniform(0, 1, (3, 4)), rng.uniform(0.1, 0.9, (3, 4))], (0, 1)),
    ("binary_crossentropy_logits", ["binary_crossentropy"],
     lambda t, z: ops.binary_crossentropy(t, z, from_logits=True),
     [rng.uniform(0, 1, (3, 4)), R(3, 4)], (0, 1)),
    ("categorical_crossentropy", ["categorical_crossentropy"], ops.categorical_crossentropy,
     [rng.uniform(0, 1, (3, 4)), P(3, 4)], (0, 1)),
    ("categorical_crossentropy_logits", ["categorical_crossentropy"],
     lambda t, z: ops.categorical_crossentropy(t, z, from_logits=True), [P(3, 4), R(3, 4)],
     (0, 1)),
    ("sparse_categorical_crossentropy", ["sparse_categorical_crossentropy"],
     lambda z: ops.sparse_categorical_crossentropy(np.array([0, 3, 1]), z, from_logits=True),
     [R(3, 4)], (0,)),
    ("moments", ["moments"], lambda x: ops.moments(x, axes=(0,)), [R(4, 3)], (0,)),
    ("batch_normalization", ["batch_normalization"],
     lambda x, mu, v, b, s: ops.batch_normalization(x, mu, v, axis=-1, offset=b, scale=s),
     [R(4, 3), R(3), P(3), R(3), R(3)], (0, 1, 2, 3, 4)),
    ("normalize", ["normalize"], ops.normalize, [R(3, 4)], (0,)),
    ("rms_normalization", ["rms_normalization"], lambda x, s: ops.rms_normalization(x, s),
     [R(3, 4), R(4)], (0, 1)),
    ("layer_normalization", ["layer_normalization"],
     lambda x, g, b: ops.layer_normalization(x, g, b), [R(3, 4), R(4), R(4)], (0, 1, 2)),
    ("dot_product_attention", ["dot_product_attention"],
     lambda q, k, v: ops.dot_product_attention(q, k, v, is_causal=True),
     [R(2, 3, 2, 4), R(2, 3, 2, 4), R(2, 3, 2, 4)], (0, 1, 2)),
    ("psnr", ["psnr"], lambda a, b: ops.psnr(a, b, 1.0), [R(3, 4), R(3, 4)], (0, 1)),
    ("conv2d_same_strided", ["conv"],
     lambda x, w: ops.conv(x, w, strides=2, padding="same"), [R(2, 5, 5, 3), R(3, 3, 3, 2)],
     (0, 1)),
    ("conv1d_dilated", ["conv"], lambda x, w: ops.conv(x, w, dilation_rate=2),
     [R(2, 7, 2), R(2, 2, 3)], (0, 1)),
    ("conv3d", ["conv"], lambda x, w: ops.conv(x, w, padding="same"),
     [R(1, 3, 3, 3, 2), R(2, 2, 2, 2, 2)], (0, 1)),
    ("depthwise_conv", ["depthwise_conv"], lambda x, w: ops.depthwise_conv(x, w, padding="same"),
     [R(2, 4, 4, 3), R(3, 3, 3, 2)], (0, 1)),
    ("separable_conv", ["separable_conv"], lambda x, d, p: ops.separable_conv(x, d, p),
     [R(1, 4, 4, 2), R(2, 2, 2, 2), R(1, 1, 4, 3)], (0, 1, 2)),
    ("conv_transpose_same", ["conv_transpose"],
     lambda x, w: ops.conv_transpose(x, w, strides=2, padding="same"),
     [R(2, 3, 3, 2), R(3, 3, 4, 2)], (0, 1)),
    ("conv_transpose_valid_1d", ["conv_transpose"],
     lambda x, w: ops.conv_transpose(x, w, strides=2, output_padding=1),
     [R(2, 4, 3), R(3, 2, 3)], (0, 1)),
    ("max_pool", ["max_pool"], lambda x: ops.max_pool(x, 2, padding="same"),
     [distinct(2, 5, 5, 2)], (0,)),
    ("max_pool_1d", ["max_pool"], lambda x: ops.max_pool(x, 3, strides=1), [distinct(2, 6, 2)],
     (0,)),
    ("average_pool", ["average_pool"], lambda x: ops.average_pool(x, 2, padding="same"),
     [R(2, 5, 5, 2)], (0,)),
    # ---- the rarer numpy functions, keras.ops.math, keras.ops.linalg
    ("cbrt", ["cbrt"], ops.cbrt, [P(3, 4)], (0,)),
    ("deg2rad", ["deg2rad"], ops.deg2rad, [R(3)], (0,)),
    ("rad2deg", ["rad2deg"], ops.rad2deg, [R(3)], (0,)),
    ("fmod", ["fmod"], ops.fmod, [P(3, 4) * 3, P(4)], (0, 1)),
    ("logaddexp2", ["logaddexp2"], ops.logaddexp2, [R(3, 4), R(4)], (0, 1)),
    ("sinc", ["sinc"], ops.sinc, [P(3, 4)], (0,)),
    ("ldexp", ["ldexp"], lambda x: ops.ldexp(x, np.array([1, -2, 3])), [R(2, 3)], (0,)),
    ("ptp", ["ptp"], lambda x: ops.ptp(x, axis=1), [distinct(3, 4)], (0,)),
    ("quantile", ["quantile"], lambda x: ops.quantile(x, [0.3, 0.9], axis=1),
     [distinct(3, 5)], (0,)),
    ("percentile", ["percentile"], lambda x: ops.percentile(x, 40), [distinct(3, 4)], (0,)),
    ("median", ["median"], lambda x: ops.median(x, axis=0), [distinct(4, 3)], (0,)),
    ("nan_reductions", ["nansum", "nanmean", "nanmax", "nanmin", "nanprod", "nanvar",
                        "nanstd"],
     lambda x: [f(x, axis=1) for f in (ops.nansum, ops.nanmean, ops.nanmax, ops.nanmin,
                                       ops.nanprod, ops.nanvar, ops.nanstd)],
     [distinct(3, 4) * 0.1 + 0.5], (0,)),
    ("corrcoef", ["corrcoef"], ops.corrcoef, [R(3, 6)], (0,)),
    ("diff", ["diff"], lambda x: ops.diff(x, n=2, axis=1), [R(3, 5)], (0,)),
    ("trapezoid", ["trapezoid"], lambda y, x: ops.trapezoid(y, x), [R(3, 5), R(5)], (0, 1)),
    ("trapezoid_dx", ["trapezoid"], lambda y: ops.trapezoid(y, dx=0.5, axis=0), [R(4, 2)],
     (0,)),
    ("cross", ["cross"], ops.cross, [R(4, 3), R(4, 3)], (0, 1)),
    ("kron", ["kron"], ops.kron, [R(2, 3), R(3, 2)], (0, 1)),
    ("dstack", ["dstack"], lambda a, b: ops.dstack([a, b]), [R(2, 3), R(2, 3)], (0, 1)),
    ("column_stack", ["column_stack"], lambda a, b: ops.column_stack([a, b]), [R(3), R(3, 2)],
     (0, 1)),
    ("hsplit_vsplit_dsplit", ["hsplit", "vsplit", "dsplit"],
     lambda x: ops.hsplit(x, 2) + ops.vsplit(x, 2) + ops.dsplit(x, 2), [R(2, 4, 2)], (0,)),
    ("flips_rot90", ["fliplr", "flipud", "rot90"],
     lambda x: [ops.fliplr(x), ops.flipud(x), ops.rot90(x, 3)], [R(3, 4)], (0,)),
    ("select", ["select"], lambda a, b: ops.select([np.array([True, False, False]),
                                                    np.array([True, True, False])], [a, b], 0.5),
     [R(3), R(3)], (0, 1)),
    ("correlate", ["correlate"], lambda a, b: ops.correlate(a, b, mode="same"), [R(7), R(3)],
     (0, 1)),
    ("correlate_valid", ["correlate"], ops.correlate, [R(6), R(4)], (0, 1)),
    ("segment_sum", ["segment_sum"],
     lambda x: ops.segment_sum(x, np.array([0, 2, 0, 1]), num_segments=4), [R(4, 2)], (0,)),
    ("segment_max", ["segment_max"], lambda x: ops.segment_max(x, np.array([0, 1, 0, 1])),
     [distinct(4, 2)], (0,)),
    ("extract_sequences", ["extract_sequences"], lambda x: ops.extract_sequences(x, 3, 2),
     [R(2, 7)], (0,)),
    ("linalg_inv", ["inv"], ops.linalg.inv, [R(3, 3) + 3 * np.eye(3)], (0,)),
    ("linalg_solve", ["solve"], ops.linalg.solve, [R(2, 3, 3) + 3 * np.eye(3), R(2, 3, 2)],
     (0, 1)),
    ("linalg_solve_vector", ["solve"], ops.linalg.solve, [R(3, 3) + 3 * np.eye(3), R(3)],
     (0, 1)),
    ("linalg_solve_triangular", ["solve_triangular"],
     lambda a, b: ops.linalg.solve_triangular(a, b, lower=True),
     [R(3, 3) + 3 * np.eye(3), R(3, 2)], (0, 1)),
    ("linalg_det", ["det"], ops.linalg.det, [R(3, 3)], (0,)),
    ("linalg_logdet", ["slogdet", "logdet"], lambda a: ops.logdet(ops.matmul(a, a.T) + np.eye(3)),
     [R(3, 3)], (0,)),
    ("linalg_cholesky", ["cholesky"],
     lambda b: ops.linalg.cholesky(ops.matmul(b, ops.transpose(b)) + np.eye(3)), [R(3, 3)],
     (0,)),
    ("linalg_norm", ["norm"], lambda x: ops.linalg.norm(x, axis=0), [R(3, 4)], (0,)),
    ("random_dropout", ["dropout"], lambda x: krandom.dropout(x, 0.5, seed=3), [R(4, 5)], (0,)),
    ("random_shuffle", ["shuffle"], lambda x: krandom.shuffle(x, seed=3), [R(4, 2)], (0,)),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_finite_differences(case):
    _, _, fn, args, wrt = case
    check_op(fn, *[a.copy() if isinstance(a, np.ndarray) else a for a in args], wrt=wrt)


# Public names of engine.ops with no gradient by nature (integer, boolean or constant results)
NOT_DIFFERENTIABLE = {
    "sign", "floor", "ceil", "trunc", "round", "isnan", "isinf", "isfinite", "signbit",
    "logical_not", "logical_and", "logical_or", "logical_xor", "equal", "not_equal", "less",
    "less_equal", "greater", "greater_equal", "isclose", "allclose", "floor_divide", "argmax",
    "argmin", "argsort", "all", "any", "count_nonzero", "zeros", "ones", "full", "empty",
    "zeros_like", "ones_like", "full_like", "empty_like", "arange", "linspace", "logspace", "eye",
    "identity", "tri", "array", "meshgrid", "one_hot", "multi_hot", "shape", "dtype", "size",
    "ndim", "is_tensor", "convert_to_numpy", "stop_gradient", "saturate_cast", "in_top_k",
    "custom_gradient", "heaviside", "bincount", "nonzero", "unique", "searchsorted",
    "digitize", "isin", "histogram", "argpartition", "unravel_index", "vander",
}
LINALG_WITHOUT_GRADIENT = {"qr", "svd", "eig", "eigh", "lstsq"}


def test_every_differentiable_op_has_a_gradient_check():
    covered = {name for case in CASES for name in case[1]}
    public = {n for n in dir(ops) if not n.startswith("_") and callable(getattr(ops, n))
              and not isinstance(getattr(ops, n), type)}
    missing = public - covered - NOT_DIFFERENTIABLE
    assert not missing, f"ops without a finite-difference test: {sorted(missing)}"
    linalg = {n for n in dir(ops.linalg) if not n.startswith("_")
              and getattr(getattr(ops.linalg, n), "__module__", "") in
              ("engine.ops.linalg", "engine.ops.products")}
    missing = linalg - covered - LINALG_WITHOUT_GRADIENT
    assert not missing, f"ops.linalg without a finite-difference test: {sorted(missing)}"


def test_factorizations_refuse_a_traced_input_instead_of_dropping_its_gradient():
    with Tape() as tape:
        a = tape.watch(np.eye(2))
        with pytest.raises(NotImplementedError, match="qr has no gradient"):
            ops.linalg.qr(a)
    q, _ = ops.linalg.qr(np.eye(2))
    np.testing.assert_allclose(np.abs(q), np.eye(2))


def _log1pexp_with(grad_scale):
    @ops.custom_gradient
    def log1pexp(x):
        e = ops.exp(x)

        def grad(upstream):
            return ops.multiply(upstream, grad_scale * (1.0 - 1.0 / ops.add(1, e)))
        return ops.log(1 + e), grad
    return log1pexp


def test_custom_gradient_is_used_and_the_check_catches_a_wrong_one():
    check_op(_log1pexp_with(1.0), R(3, 4))
    with pytest.raises(AssertionError):
        check_op(_log1pexp_with(1.5), R(3, 4))
