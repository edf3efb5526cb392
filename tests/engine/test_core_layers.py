"""Core layers: shapes, config round trips, finite-difference gradients, clear errors."""
import numpy as np
import pytest

from engine import backend
from engine.layers import (Activation, Add, Average, Concatenate, Dense, Dropout, ELU, Flatten,
                           GaussianNoise, LeakyReLU, Maximum, Minimum, Multiply, Permute, ReLU,
                           RepeatVector, Reshape, Softmax, Subtract, deserialize_layer,
                           serialize_layer)
from tests.gradcheck import check_layer

rng = np.random.default_rng(0)


@pytest.mark.parametrize("act", ["linear", "relu", "tanh", "sigmoid", "softmax", "elu", "selu",
                                 "softplus", "swish", "leaky_relu", "hard_sigmoid"])
def test_dense_gradients(act):
    x = rng.standard_normal((4, 5)) + 0.05  # keep relu kinks away from 0
    check_layer(Dense(3, activation=act), x)


def test_dense_nd_input_and_no_bias():
    layer = Dense(2, use_bias=False)
    check_layer(layer, rng.standard_normal((3, 4, 5)))
    assert [w.name for w in layer.weights] == ["kernel"]
    assert layer.compute_output_shape((None, 4, 5)) == (None, 4, 2)


def test_dense_fused_output_grad_skips_activation():
    layer = Dense(3, activation="softmax")
    x = rng.standard_normal((2, 4)).astype(np.float32)
    layer(x)
    layer.forward(x)
    dz = rng.standard_normal((2, 3)).astype(np.float32)
    layer.fused_output_grad = True
    dx = layer.backward(dz)
    np.testing.assert_allclose(dx, dz @ layer.kernel.value.T, rtol=1e-6)


@pytest.mark.parametrize("layer", [
    lambda: Activation("tanh"), lambda: ReLU(max_value=6.0), lambda: LeakyReLU(0.1),
    lambda: ELU(0.5), lambda: Softmax(), lambda: Flatten(), lambda: Reshape((2, 6)),
    lambda: Permute((2, 1)), lambda: Reshape((-1, 3)),
])
def test_shape_layers_gradients(layer):
    check_layer(layer(), rng.standard_normal((2, 3, 4, 1)).reshape(2, 3, 4) + 0.05)


def test_repeat_vector_gradient():
    check_layer(RepeatVector(3), rng.standard_normal((2, 4)))


def test_dropout_training_and_inference():
    d = Dropout(0.5, seed=1)
    x = np.ones((1000, 10), dtype=np.float32)
    y = d.forward(x, training=True)
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert 0.4 < (y == 0).mean() < 0.6
    np.testing.assert_array_equal(d.forward(x, training=False), x)
    # the gradient is the same mask and scale as the forward pass
    d = Dropout(0.3, seed=2)
    x = rng.standard_normal((30, 4)).astype(np.float32)
    y = d.forward(x, training=True)
    r = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_allclose(d.backward(r), r * (y / x), rtol=1e-5)


def test_gaussian_noise_is_identity_at_inference():
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_array_equal(GaussianNoise(0.5).forward(x, training=False), x)


@pytest.mark.parametrize("cls", [Add, Subtract, Multiply, Average, Maximum, Minimum])
def test_merge_gradients(cls):
    xs = [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]
    check_layer(cls(), xs)


def test_concatenate_gradient_and_axis():
    check_layer(Concatenate(axis=1), [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 2, 4))])
    with pytest.raises(ValueError, match="axis 2 differs"):
        Concatenate(axis=1).compute_output_shape([(None, 3, 4), (None, 2, 5)])


def test_add_of_unequal_shapes_is_refused():
    with pytest.raises(ValueError, match="same shape"):
        Add().compute_output_shape([(None, 3), (None, 4)])


def test_config_round_trip():
    layer = Dense(7, activation="relu", kernel_regularizer="l2", name="d7")
    clone = deserialize_layer(serialize_layer(layer))
    assert clone.get_config() == layer.get_config()
    assert clone.units == 7 and clone.name == "d7"


def test_positional_and_keyword_arguments_follow_keras():
    assert Dense(64, "relu").activation == "relu"
    with pytest.raises(TypeError, match="given twice"):
        Dense(64, units=3)
    with pytest.raises(TypeError, match="unknown argument 'unit'.*units"):
        Dense(unit=3)


def test_bad_arguments_name_layer_and_argument():
    with pytest.raises(ValueError, match=r"Dense 'd': argument 'units' expects a value >= 1"):
        Dense(0, name="d")
    with pytest.raises(ValueError, match=r"argument 'activation'.*relu"):
        Dense(3, activation="relux")
    with pytest.raises(ValueError, match="argument 'rate'"):
        Dropout(1.5)
    with pytest.raises(ValueError, match="cannot reshape"):
        Reshape((5, 5)).compute_output_shape((None, 12))


def test_float64_mode_keeps_float64():
    with backend.floatx_scope("float64"):
        layer = Dense(2)
        y = layer(np.ones((1, 3)))
        assert y.dtype == np.float64
    assert backend.floatx() == np.float32


def test_dropout_serial_kernels_equal_the_parallel_ones():
    """Small arrays take the one-thread dropout kernels: same mask for the same seed."""
    from engine.kernels.dropout import (dropout_backward, dropout_backward_serial,
                                        dropout_forward, dropout_forward_serial)
    x = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    outs = []
    for fwd, bwd, extra in ((dropout_forward, dropout_backward, (7, 2)),   # 7 chunks, 2 threads
                            (dropout_forward, dropout_backward, (1, 1)),
                            (dropout_forward_serial, dropout_backward_serial, ())):
        y, keep, dx = np.empty_like(x), np.empty(x.size, np.uint8), np.empty_like(x)
        fwd(x, 12345, int(0.3 * 2 ** 32), np.float32(1 / 0.7), y, keep, *extra)
        bwd(x, keep, np.float32(1 / 0.7), dx, *extra)
        outs.append((y, keep, dx))
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)
    assert 0.25 < 1 - outs[0][1].mean() < 0.35
