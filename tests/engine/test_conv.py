"""Convolution, pooling and normalization layers: gradients, Keras fixtures, clear errors."""
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine import Input
from engine.io.weights import read_weights_group
from engine.layers import (Activation, AveragePooling1D, AveragePooling2D, BatchNormalization,
                           Conv1D, Conv2D, Conv2DTranspose, Cropping2D, Dense, Dropout, Flatten,
                           GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D,
                           GlobalMaxPooling2D, LayerNormalization, MaxPooling1D, MaxPooling2D,
                           ReLU, UpSampling2D, ZeroPadding2D)
from engine.models import Sequential
from tests.gradcheck import check_layer

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
r = np.random.default_rng(0)


@pytest.mark.parametrize("kwargs", [
    dict(filters=3, kernel_size=3),
    dict(filters=2, kernel_size=(2, 3), strides=2, padding="same"),
    dict(filters=2, kernel_size=4, padding="same"),                 # even kernel, 'same'
    dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"),
    dict(filters=2, kernel_size=1, use_bias=False),
    dict(filters=2, kernel_size=3, strides=(1, 2), activation="tanh"),
])
def test_conv2d_gradients(kwargs):
    check_layer(Conv2D(**kwargs), r.standard_normal((2, 7, 6, 3)))


@pytest.mark.parametrize("kwargs", [dict(filters=2, kernel_size=3),
                                    dict(filters=2, kernel_size=2, padding="same", strides=2),
                                    dict(filters=2, kernel_size=3, padding="causal",
                                         dilation_rate=2)])
def test_conv1d_gradients(kwargs):
    check_layer(Conv1D(**kwargs), r.standard_normal((2, 9, 3)))


def test_conv1d_causal_keeps_the_length_and_sees_only_the_past():
    layer = Conv1D(2, 3, padding="causal", dilation_rate=2)
    x = r.standard_normal((2, 9, 3)).astype(np.float32)
    y = layer(x)
    assert y.shape == (2, 9, 2) == (2,) + layer.compute_output_shape((None, 9, 3))[1:]
    k, b = layer.kernel.value, layer.bias.value
    padded = np.pad(x, ((0, 0), (4, 0), (0, 0)))
    want = np.stack([sum(padded[:, t + 2 * j] @ k[j] for j in range(3)) + b for t in range(9)],
                    axis=1)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_same_padding_output_sizes_match_tensorflow():
    for size, k, s in [(7, 4, 1), (7, 3, 2), (8, 4, 3), (5, 2, 2)]:
        layer = Conv2D(1, k, strides=s, padding="same")
        assert layer.compute_output_shape((None, size, size, 1)) == (None, -(-size // s),) * 1 + \
            (-(-size // s), 1)


@pytest.mark.parametrize("layer", [
    lambda: MaxPooling2D(), lambda: MaxPooling2D(3, strides=2, padding="same"),
    lambda: AveragePooling2D(), lambda: AveragePooling2D((2, 3), padding="same"),
    lambda: GlobalAveragePooling2D(), lambda: GlobalMaxPooling2D(),
    lambda: ZeroPadding2D(((1, 0), (2, 1))), lambda: UpSampling2D((2, 3)),
    lambda: UpSampling2D((3, 2), interpolation="bilinear"), lambda: Cropping2D(((1, 0), (0, 2))),
    lambda: BatchNormalization(), lambda: LayerNormalization(),
])
def test_image_layer_gradients(layer):
    check_layer(layer(), r.standard_normal((2, 5, 6, 3)))


def test_batchnorm_training_mode_gradient_and_moving_stats():
    bn = BatchNormalization(momentum=0.5)
    x = r.standard_normal((6, 4, 4, 2)) * 3 + 1
    check_layer(bn, x, training=True)
    bn2 = BatchNormalization(momentum=0.5)
    xs = x.astype(np.float32)
    bn2(xs)
    bn2.forward(xs, training=True)
    np.testing.assert_allclose(bn2.moving_mean.value, 0.5 * x.reshape(-1, 2).mean(0), rtol=1e-5)
    assert [w.name for w in bn2.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]


@pytest.mark.parametrize("layer", [lambda: MaxPooling1D(), lambda: AveragePooling1D(3, 2, "same"),
                                   lambda: GlobalMaxPooling1D(), lambda: GlobalAveragePooling1D()])
def test_sequence_pool_gradients(layer):
    check_layer(layer(), r.standard_normal((2, 7, 3)))


def _load_fixture(name, model):
    with h5py.File(FIX / f"{name}.h5", "r") as f:
        read_weights_group(f["model_weights"], model)
    io = np.load(FIX / f"{name}_io.npz")
    np.testing.assert_allclose(model.predict(io["x0"], verbose=0), io["y0"], atol=1e-5)


def test_keras_seed_cnn_forward_matches():
    model = Sequential([Input(shape=(28, 28, 1)),
                        Conv2D(32, (3, 3), activation="relu"), MaxPooling2D((2, 2)),
                        Dropout(0.25), Flatten(), Dense(128, activation="relu"), Dropout(0.5),
                        Dense(10, activation="softmax")])
    _load_fixture("seed_cnn", model)


def test_keras_conv_bn_pool_forward_matches():
    model = Sequential([Input(shape=(16, 16, 3)), Conv2D(8, 3, strides=2, padding="same"),
                        BatchNormalization(), Activation("relu"), AveragePooling2D(),
                        Conv2D(4, 1), GlobalAveragePooling2D(), Dense(5, activation="softmax")])
    _load_fixture("conv_bn_pool", model)


def test_bad_conv_input_gets_clear_errors():
    with pytest.raises(ValueError, match=r"channel axis is missing.*Reshape\(\(28, 28, 1\)\)"):
        Sequential([Input(shape=(28, 28)), Conv2D(4, 3)])
    with pytest.raises(ValueError, match=r"Conv2D 'c': kernel_size \(5, 5\) is larger than its "
                                         r"input \(3, 3\)"):
        Conv2D(2, 5, name="c").compute_output_shape((None, 3, 3, 1))
    with pytest.raises(ValueError, match="argument 'kernel_size' expects a value >= 1"):
        Conv2D(2, 0)
    with pytest.raises(ValueError, match="argument 'strides' expects an integer"):
        Conv2D(2, 3, strides=1.5)
    with pytest.raises(ValueError, match="cannot both be above 1"):
        Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="pool_size"):
        MaxPooling2D(4).compute_output_shape((None, 3, 3, 1))


def test_fast_2x2_pool_matches_generic_on_odd_sizes():
    """The unrolled 2×2 kernels agree with the generic ones, including an odd leftover row."""
    x = r.standard_normal((2, 7, 6, 3))
    check_layer(MaxPooling2D(), x)
    fast = MaxPooling2D()
    xs = x.astype(np.float32)
    y = fast(xs)
    dy = r.standard_normal(y.shape).astype(np.float32)
    fast.forward(xs)
    dx_fast = fast.backward(dy)
    ref = np.zeros_like(xs)
    for b in range(2):
        for i in range(3):
            for j in range(3):
                for c in range(3):
                    win = xs[b, 2 * i:2 * i + 2, 2 * j:2 * j + 2, c]
                    k = np.argmax(win)
                    ref[b, 2 * i + k // 2, 2 * j + k % 2, c] = dy[b, i, j, c]
                    assert y[b, i, j, c] == win.max()
    np.testing.assert_array_equal(dx_fast, ref)


def _train_grads(model, x, y, fused: bool):
    """One training forward + backward; returns (loss, flat weight gradients)."""
    plan = model._plan
    if not fused:
        for s in plan.steps:
            s.fused, s.prefused = None, False
    model._resolve_compile()
    model._bind_parameters()
    xs, ys, sw = model._prepare_xy(x, y)
    loss, _, grads = model._compute_loss_and_grads(xs, ys, sw)
    plan.backward(grads)
    return loss, model._grads.copy()


def _fused_matches_the_layers(build, x, y, steps: int = 1):
    """Two models from ``build`` with the same weights, trained ``steps`` steps fused and
    unfused: the same loss and weight gradients each step, and the same predictions."""
    a, b = build(), build()
    b.set_weights(a.get_weights())
    for _ in range(steps):
        la, ga = _train_grads(a, x, y, fused=True)
        lb, gb = _train_grads(b, x, y, fused=False)
        assert la == pytest.approx(lb, rel=1e-6)
        np.testing.assert_allclose(ga, gb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), rtol=1e-6)
    return a, b


@pytest.mark.parametrize("first, conv, size, pool", [
    (None, dict(filters=4, kernel_size=3), (11, 9), "valid"),
    (None, dict(filters=5, kernel_size=3, padding="same", use_bias=False), (11, 9), "valid"),
    (None, dict(filters=3, kernel_size=(2, 3), strides=2), (11, 9), "valid"),
    (None, dict(filters=4, kernel_size=3, dilation_rate=2, padding="same"), (11, 9), "valid"),
    (dict(filters=2, kernel_size=1), dict(filters=4, kernel_size=3), (11, 9), "valid"),  # dx
    (dict(filters=3, kernel_size=2), dict(filters=17, kernel_size=3, padding="same"), (11, 9),
     "valid"),
    (dict(filters=13, kernel_size=1), dict(filters=6, kernel_size=(3, 4), padding="same"),
     (11, 9), "valid"),                                      # 156 taps, odd sizes, 4-wide rows
    (dict(filters=9, kernel_size=3, padding="same"), dict(filters=1, kernel_size=3,
                                                          padding="same"), (8, 6), "same"),
    (None, dict(filters=5, kernel_size=3, strides=2), (13, 11), "valid"),   # strided kernel
    (dict(filters=3, kernel_size=2), dict(filters=4, kernel_size=3, strides=(2, 1),
                                          padding="same"), (12, 9), "same"),
    # ≥ IM2COL_MIN_TAPS: im2col + sgemm by chunks with the pool in the kernel (270 taps)
    (dict(filters=30, kernel_size=1), dict(filters=6, kernel_size=3), (11, 9), "valid"),
    (dict(filters=30, kernel_size=1), dict(filters=7, kernel_size=3, padding="same",
                                           dilation_rate=2), (12, 10), "same"),
    # 16 channels, 24 filters, 1,056 positions: the register tiles with the pool in the kernel
    (dict(filters=16, kernel_size=1), dict(filters=24, kernel_size=3, padding="same"),
     (32, 33), "valid"),
])
def test_fused_conv_relu_pool_matches_the_layers(first, conv, size, pool):
    """Training runs Conv2D(relu) → MaxPooling2D(2) as one kernel; its loss and every weight
    gradient (through the conv's input gradient when a layer precedes it) equal the unfused
    layers', on odd sizes, many channels and a 'same' pool on even sizes too."""
    rng = np.random.default_rng(3)

    def build():
        layers = [Input(size + (2,))]
        if first:
            layers.append(Conv2D(**first))
        layers += [Conv2D(activation="relu", **conv), MaxPooling2D(padding=pool), Flatten(),
                   Dense(3, activation="softmax")]
        m = Sequential(layers)
        m.compile("sgd", "sparse_categorical_crossentropy")
        return m

    x = rng.standard_normal((6,) + size + (2,)).astype(np.float32)
    a, _ = _fused_matches_the_layers(build, x, rng.integers(0, 3, 6))
    assert [s.fused is not None for s in a._plan.steps].count(True) == 1


@pytest.mark.parametrize("first, conv, size, rate", [
    (None, dict(filters=4, kernel_size=3), (11, 9), 0.25),
    (None, dict(filters=5, kernel_size=3, padding="same", use_bias=False), (12, 9), 0.5),
    (dict(filters=3, kernel_size=2), dict(filters=17, kernel_size=3, padding="same"), (11, 9),
     0.3),                                                   # dx through the fused layers
    (None, dict(filters=6, kernel_size=(2, 4), dilation_rate=(2, 1)), (13, 10), 0.75),
    (dict(filters=30, kernel_size=1), dict(filters=5, kernel_size=3, padding="same"), (12, 9),
     0.4),                                                   # im2col + sgemm by chunks
    (dict(filters=16, kernel_size=1), dict(filters=33, kernel_size=3, padding="same"),
     (33, 32), 0.3),                                         # the register tiles
])
def test_fused_conv_pool_dropout_matches_the_layers(first, conv, size, rate):
    """Training runs Conv2D(relu) → MaxPooling2D(2) → Dropout as one kernel: the same mask for
    the same seed as Dropout's own kernels, the same loss and weight gradients as the three
    layers run one by one, and in prediction the Dropout passes its input on."""
    rng = np.random.default_rng(5)

    def build():
        layers = [Input(size + (2,))]
        if first:
            layers.append(Conv2D(**first))
        layers += [Conv2D(activation="relu", **conv), MaxPooling2D(), Dropout(rate, seed=11),
                   Flatten(), Dense(3, activation="softmax")]
        m = Sequential(layers)
        m.compile("sgd", "sparse_categorical_crossentropy")
        return m

    x = rng.standard_normal((9,) + size + (2,)).astype(np.float32)
    # two steps: the second mask is another draw
    a, b = _fused_matches_the_layers(build, x, rng.integers(0, 3, 9), steps=2)
    assert [s.fused_dropout is not None for s in a._plan.steps].count(True) == 1
    _train_grads(b, x, np.zeros(9, int), fused=False)
    kept = b.layers[-3]._mask[0]                       # the unfused Dropout's mask
    assert abs(1 - kept.mean() - rate) < 0.12


def test_conv_pool_dropout_fusion_only_where_it_is_exact():
    """A Dropout joins the conv + pool kernel only after a fused stride-1 pair, when it is the
    pool's only reader, a plain Dropout (no noise_shape) with 0 < rate < 1."""
    def fused(layers, shape=(8, 8, 1)):
        m = Sequential([Input(shape)] + layers)
        return any(s.fused_dropout is not None for s in m._plan.steps)

    def pair(**kw):
        return [Conv2D(2, 3, activation="relu", **kw), MaxPooling2D()]

    assert fused(pair() + [Dropout(0.25)])
    assert not fused(pair() + [Dropout(0.0)])
    assert not fused(pair() + [Dropout(0.25, noise_shape=(None, 1, 1, 2))])
    assert not fused(pair(strides=2) + [Dropout(0.25)], (12, 12, 1))     # the strided kernel
    assert not fused([Conv2D(2, 3, activation="relu"), AveragePooling2D(), Dropout(0.25)])
    assert not fused(pair() + [Flatten(), Dropout(0.25)])

    class MyDropout(Dropout):
        pass
    assert not fused(pair() + [MyDropout(0.25)])
    inp = Input((8, 8, 1))
    p = MaxPooling2D()(Conv2D(2, 3, activation="relu")(inp))
    from engine.layers import Add
    from engine.models import Model
    assert not any(s.fused_dropout is not None
                   for s in Model(inp, Add()([Dropout(0.5)(p), p]))._plan.steps)


def test_conv_pool_fusion_only_where_it_is_exact():
    """No fusion when the conv's output is read elsewhere, the activation is not relu, the
    pool is not 2×2/2 'valid' or a strided conv has many taps; any stride-1 conv fuses."""
    def fused(layers):
        m = Sequential([Input((8, 8, 1))] + layers)
        return any(s.fused is not None for s in m._plan.steps)

    assert fused([Conv2D(2, 3, activation="relu"), MaxPooling2D()])
    assert not fused([Conv2D(2, 3, activation="tanh"), MaxPooling2D()])
    assert not fused([Conv2D(2, 3, activation="relu"), MaxPooling2D(3)])
    assert fused([Conv2D(2, 3, activation="relu"), MaxPooling2D(padding="same")])  # 6×6: no pad
    assert not fused([Conv2D(2, 2, activation="relu"), MaxPooling2D(padding="same")])  # 7×7
    assert fused([Conv2D(2, 3, activation="relu", padding="same"), MaxPooling2D(padding="same")])
    assert not fused([Conv2D(2, 3, activation="relu"), AveragePooling2D()])
    assert fused([Conv2D(8, 3), Conv2D(2, 3, activation="relu"), MaxPooling2D()])  # 72 taps
    assert not fused([Conv2D(8, 1), Conv2D(2, 3, strides=2, activation="relu", padding="same"),
                      MaxPooling2D()])
    inp = Input((8, 8, 1))
    c = Conv2D(2, 3, activation="relu")(inp)
    from engine.layers import Add
    from engine.models import Model
    out = Add()([MaxPooling2D()(c), MaxPooling2D()(c)])
    assert not any(s.fused is not None for s in Model(inp, out)._plan.steps)
    # a deep layer (576 taps: im2col + sgemm by chunks) fuses with its pool too
    assert fused([Conv2D(64, 1), Conv2D(2, 3, activation="relu"), MaxPooling2D()])


@pytest.mark.parametrize("kwargs, shape", [
    (dict(filters=3, kernel_size=3), (2, 6, 5, 64)),                           # 576 taps
    (dict(filters=2, kernel_size=3, padding="same", dilation_rate=2), (2, 5, 5, 60)),
    (dict(filters=2, kernel_size=(2, 4), padding="same", activation="tanh"), (2, 4, 6, 70)),
])
def test_deep_stride1_conv_runs_as_im2col_and_matches_the_planes(kwargs, shape, monkeypatch):
    """Many channels on a small output: im2col + sgemm (IM2COL_MIN_TAPS), with the planes'
    outputs and gradients and finite-difference gradients."""
    import engine.layers.conv as conv_module
    x = r.standard_normal(shape).astype(np.float32)
    results = {}
    for mode, taps in (("im2col", conv_module.IM2COL_MIN_TAPS), ("planes", 10 ** 9)):
        monkeypatch.setattr(conv_module, "IM2COL_MIN_TAPS", taps)
        layer = Conv2D(**kwargs, kernel_initializer="glorot_uniform")
        layer.build(x.shape)
        layer.kernel.value[...] = np.random.default_rng(1).standard_normal(
            layer.kernel.value.shape).astype(np.float32) * 0.1
        layer.need_dx = True
        y = layer.forward(x, training=True)
        assert layer._cache[4] == mode
        dy = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
        dx = layer.backward(dy)
        results[mode] = (y, dx, layer.kernel.grad.copy(), layer.bias.grad.copy())
    for a, b in zip(results["im2col"], results["planes"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    # finite differences run in float64: im2col of the whole batch + one product
    monkeypatch.setattr(conv_module, "IM2COL_MIN_TAPS", 33)   # 5 channels
    layer = Conv2D(**kwargs)
    check_layer(layer, r.standard_normal(shape[:3] + (5,)))
    assert layer._cache[4] == "im2col-batch"


@pytest.mark.parametrize("kwargs, shape, need_dx", [
    (dict(filters=5, kernel_size=3, strides=2, padding="same"), (9, 11, 10, 6), True),
    (dict(filters=4, kernel_size=(3, 2), strides=(2, 1), activation="tanh"), (5, 9, 8, 7), True),
    (dict(filters=3, kernel_size=3, dilation_rate=2, use_bias=False), (6, 9, 9, 70), False),
])
def test_chunked_im2col_kernels_equal_the_whole_batch_product(kwargs, shape, need_dx,
                                                              monkeypatch):
    """float32 im2col convolutions run by chunks of samples (kernels/conv_gemm.py
    conv_gemm_forward / backward): outputs and gradients equal im2col of the whole batch +
    one product (float32 rounding), with one sample per chunk as with several."""
    import engine.kernels.conv_gemm as kernels
    import engine.layers.conv as conv_module
    monkeypatch.setattr(conv_module, "IM2COL_MIN_TAPS", 33)
    x = r.standard_normal(shape).astype(np.float32)
    results = []
    for fused, chunk_bytes in ((False, kernels.CHUNK_BYTES), (True, kernels.CHUNK_BYTES),
                               (True, 1)):
        monkeypatch.setattr(conv_module, "gemm_fused", lambda a, on=fused: on)
        monkeypatch.setattr(kernels, "CHUNK_BYTES", chunk_bytes)
        layer = Conv2D(**kwargs)
        layer.build(x.shape)
        layer.kernel.value[...] = np.random.default_rng(1).standard_normal(
            layer.kernel.value.shape).astype(np.float32) * 0.2
        layer.need_dx = need_dx
        y = layer.forward(x, training=True)
        assert layer._cache[4] == ("im2col" if fused else "im2col-batch")
        dy = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
        dx = layer.backward(dy)
        assert (dx is None) == (not need_dx)
        results.append([y, layer.kernel.grad.copy()] + ([dx] if need_dx else []) +
                       ([layer.bias.grad.copy()] if layer.bias is not None else []))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4)


def test_first_layer_skips_its_input_gradient_without_changing_weight_gradients():
    """The layer reading the model input computes no dx; its weight gradients are unchanged."""
    rng = np.random.default_rng(4)

    def build():
        m = Sequential([Input((7, 7, 3)), Conv2D(4, 3, activation="relu"), Flatten(),
                        Dense(2, activation="softmax")])
        m.compile("sgd", "sparse_categorical_crossentropy")
        return m

    a, b = build(), build()
    b.set_weights(a.get_weights())
    assert a._plan.steps[0].layer.need_dx is False
    b._plan.steps[0].layer.need_dx = True
    x = rng.standard_normal((4, 7, 7, 3)).astype(np.float32)
    y = rng.integers(0, 2, 4)
    _, ga = _train_grads(a, x, y, fused=True)
    _, gb = _train_grads(b, x, y, fused=True)
    np.testing.assert_array_equal(ga, gb)


def test_cropping_that_leaves_nothing_is_refused():
    with pytest.raises(ValueError, match=r"'cropping' removes 5 of the input's 5 height"):
        Sequential([Input((5, 6, 1)), Cropping2D(((2, 3), (0, 0)))])


def test_bilinear_upsampling_interpolates_between_pixels():
    x = np.array([0.0, 4.0], np.float32).reshape(1, 1, 2, 1)
    y = UpSampling2D((1, 2), interpolation="bilinear")(x)
    np.testing.assert_allclose(y.ravel(), [0, 1, 3, 4])   # edges clamped, half-pixel centres


@pytest.mark.parametrize("kwargs", [
    dict(filters=3, kernel_size=3, strides=2, padding="same"),
    dict(filters=2, kernel_size=(3, 2), strides=(2, 3), activation="tanh"),
    dict(filters=2, kernel_size=3, strides=2, padding="same", output_padding=1),
    dict(filters=2, kernel_size=3, strides=2, padding="same", output_padding=(0, 1)),
    dict(filters=3, kernel_size=3, dilation_rate=2, use_bias=False),
])
def test_conv2d_transpose_gradients(kwargs):
    check_layer(Conv2DTranspose(**kwargs), r.standard_normal((2, 4, 3, 2)))


def test_conv2d_transpose_is_the_adjoint_of_conv2d():
    # <conv(x), y> == <x, conv_transpose(y)> with the same kernel and no bias
    x = r.standard_normal((2, 8, 6, 3)).astype(np.float32)
    conv = Conv2D(4, 3, strides=2, padding="same", use_bias=False)
    y = conv(x)
    up = Conv2DTranspose(3, 3, strides=2, padding="same", use_bias=False)
    up(np.zeros_like(y))
    up.kernel.assign(conv.kernel.value)             # (3, 3, 3, 4): (kh, kw, filters, in)
    g = r.standard_normal(y.shape).astype(np.float32)
    back = up(g)
    assert back.shape == x.shape
    assert np.sum(y * g) == pytest.approx(np.sum(x * back), rel=1e-4)


@pytest.mark.parametrize("kwargs, shape", [
    (dict(filters=16, kernel_size=3, strides=2, padding="same", activation="relu"), (37, 7, 7, 8)),
    (dict(filters=3, kernel_size=(3, 2), strides=(2, 3)), (3, 5, 4, 5)),
    (dict(filters=2, kernel_size=3, strides=2, padding="same", output_padding=(0, 1)),
     (2, 4, 3, 2)),
    (dict(filters=3, kernel_size=3, dilation_rate=2, use_bias=False), (1, 6, 5, 4)),
    (dict(filters=4, kernel_size=3, strides=2, padding="same", activation="sigmoid"),
     (9, 5, 5, 3)),
    (dict(filters=5, kernel_size=2, strides=2, activation="relu", use_bias=False), (6, 4, 4, 2)),
])
@pytest.mark.parametrize("need_dx", [True, False])
def test_conv2d_transpose_chunked_kernels_equal_the_whole_batch_product(kwargs, shape, need_dx,
                                                                        monkeypatch):
    """float32 runs the per-chunk product + scatter (engine/kernels/conv.py), with the bias and
    a relu (forward), relu's mask and the bias gradient (backward) inside the kernel; the
    reference is the whole-batch im2col/col2im path with one product and numpy's bias and
    activation."""
    import engine.layers.conv_transpose as conv_layers
    from engine.kernels.gemm import TILED
    if not TILED:
        pytest.skip("numpy's BLAS is not OpenBLAS: no chunked kernels")
    layer = Conv2DTranspose(**kwargs)
    x = r.standard_normal(shape).astype(np.float32)
    layer.build(x.shape)
    layer.need_dx = need_dx
    if layer.bias is not None:                      # not zeros: the bias must be added
        layer.bias.assign(r.standard_normal(layer.bias.value.shape).astype(np.float32))
    results = []
    for fused in (True, False):
        monkeypatch.setattr(conv_layers, "gemm_fused", lambda x, fused=fused: fused)
        y = layer.forward(x, training=True)
        dy = np.random.default_rng(7).standard_normal(y.shape).astype(np.float32)
        dx = layer.backward(dy)
        results.append((y.copy(), dx, layer.kernel.grad.copy(),
                        None if layer.bias is None else layer.bias.grad.copy()))
    (y1, dx1, g1, b1), (y2, dx2, g2, b2) = results
    if kwargs.get("activation") == "relu":
        assert 0.2 < np.mean(y1 == 0) < 0.8             # the mask cuts some of the gradient
    np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g1, g2, rtol=1e-4, atol=1e-4)
    if b1 is not None:
        np.testing.assert_allclose(b1, b2, rtol=1e-4, atol=1e-4)
    assert (dx1 is None) == (dx2 is None) == (not need_dx)
    if need_dx:
        np.testing.assert_allclose(dx1, dx2, rtol=1e-5, atol=1e-5)


def test_conv2d_transpose_bad_output_padding():
    with pytest.raises(ValueError, match="'output_padding' .* must be smaller than the strides"):
        Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="gives an output of 6 pixels, which a stride-2 "):
        Sequential([Input((4, 4, 1)), Conv2DTranspose(1, 2, strides=2, padding="same",
                                                      output_padding=0)])


@pytest.mark.parametrize("relu", [lambda: Activation("relu"), lambda: ReLU()])
@pytest.mark.parametrize("shape", [(7, 5, 3), (12,)])
def test_fused_batchnorm_relu_matches_the_layers(relu, shape):
    """Training runs BatchNormalization → relu as one pass each way; its loss, weight gradients
    (through the input gradient of the layer before) and moving statistics equal the unfused
    layers'; a relu whose input is read elsewhere, or another activation, is not fused."""
    rng = np.random.default_rng(5)

    def build():
        inner = [Conv2D(4, 3, padding="same")] if len(shape) == 3 else [Dense(6)]
        m = Sequential([Input(shape)] + inner + [BatchNormalization(), relu(), Flatten(),
                                                 Dense(3, activation="softmax")])
        m.compile("sgd", "sparse_categorical_crossentropy")
        return m

    a, b = build(), build()
    b.set_weights(a.get_weights())
    assert [s.fused is not None for s in a._plan.steps].count(True) == 1
    x = (rng.standard_normal((9,) + shape) * 3 + 1).astype(np.float32)
    y = rng.integers(0, 3, 9)
    la, ga = _train_grads(a, x, y, fused=True)
    lb, gb = _train_grads(b, x, y, fused=False)
    assert la == pytest.approx(lb, rel=1e-6)
    np.testing.assert_allclose(ga, gb, rtol=1e-5, atol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):   # moving mean and variance
        np.testing.assert_allclose(wa, wb, rtol=1e-6)


def test_batchnorm_relu_fusion_only_where_it_is_exact():
    from engine.layers import Add
    from engine.models import Model

    def fused(layers):
        m = Sequential([Input((4, 4, 2)), BatchNormalization()] + layers)
        return any(s.fused is not None for s in m._plan.steps)

    assert fused([Activation("relu")]) and fused([ReLU()])
    assert not fused([Activation("tanh")]) and not fused([ReLU(max_value=6.0)])
    assert not fused([ReLU(negative_slope=0.1)])
    inp = Input((4, 4, 2))
    bn = BatchNormalization()(inp)
    out = Add()([Activation("relu")(bn), bn])      # the BN output has a second reader
    assert not any(s.fused is not None for s in Model(inp, out)._plan.steps)


@pytest.mark.parametrize("layer, shape", [(GlobalAveragePooling2D, (4, 5, 3, 6)),
                                          (GlobalAveragePooling2D, (2, 32, 32, 32)),
                                          (GlobalAveragePooling1D, (3, 7, 5))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_global_average_kernel_equals_numpy_mean(layer, shape, dtype):
    """The global average runs in one numba pass (engine/kernels/pooling.py) and gives numpy's
    mean and its gradient bit for bit; keepdims; a non-contiguous input takes numpy's path
    with the same values."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape).astype(dtype)
    axes = tuple(range(1, x.ndim - 1))
    for keepdims in (False, True):
        pool = layer(keepdims=keepdims)
        y = pool.forward(x)
        ref = x.mean(axis=axes, keepdims=keepdims)
        assert y.dtype == dtype and y.shape == ref.shape
        np.testing.assert_array_equal(y, ref)
        dy = rng.standard_normal(ref.shape).astype(dtype)
        dx = pool.backward(dy)
        count = np.prod(x.shape[1:-1])
        np.testing.assert_array_equal(
            dx, np.broadcast_to(dy.reshape(ref.shape if keepdims else (shape[0],) + (1,) *
                                           len(axes) + (shape[-1],)) / dtype(count), shape))
    strided = np.asfortranarray(x)
    pool = layer()
    np.testing.assert_allclose(pool.forward(strided), x.mean(axis=axes), rtol=1e-4, atol=1e-6)
