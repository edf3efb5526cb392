"""The tape: traced tensors, operators, weights as leaves, numpy interop, nesting, pausing."""
import numpy as np
import pytest

import engine as keras
from engine import activations, ops
from engine.layers import Dense
from engine.ops import Tape, Tensor
from engine.ops.tape import active_tape, paused
from tests.opcheck import check_op


def test_without_a_tape_ops_return_plain_float32_arrays():
    y = ops.add(ops.ones((2, 3)), 1)
    assert type(y) is np.ndarray and y.dtype == np.float32
    assert ops.mean(np.arange(4)).dtype == np.float32      # ints averaged in floatx
    assert ops.multiply(np.arange(3), 0.5).dtype == np.float32
    assert keras.ops.sum is ops.sum and keras.random.normal((2,)).shape == (2,)


def test_python_operators_and_numpy_functions_record_on_the_tape():
    x0 = np.random.default_rng(0).standard_normal((3, 4))

    def f(x):
        y = (2.0 * x + 1) ** 2 / (1 + abs(x)) - np.exp(x) @ np.ones((4, 2))[:, :1].T.T.T.T
        y = y[1:] * np.float64(3) + np.ones(4)
        return -y.T
    check_op(f, x0)


def test_numpy_function_without_an_op_refuses_a_traced_tensor():
    with Tape() as tape:
        x = tape.watch(np.ones(3))
        with pytest.raises(TypeError, match="engine.ops function"):
            np.sinc(x)


def test_weights_are_leaves_and_their_gradients_collect_on_the_tape():
    dense = Dense(3)
    dense.maybe_build((None, 4))
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    eager = ops.matmul(x, dense.kernel) + dense.bias        # eager: plain arrays
    assert type(eager) is np.ndarray
    with Tape() as tape:
        y = ops.sum(ops.square(ops.matmul(x, dense.kernel) + dense.bias))
    assert isinstance(y, Tensor)
    tape.backward([(y, 1.0)])
    w, gk = tape.weight_grads[id(dense.kernel)]
    assert w is dense.kernel
    np.testing.assert_allclose(gk, 2 * x.T @ eager, rtol=1e-5)
    np.testing.assert_allclose(tape.weight_grads[id(dense.bias)][1], 2 * eager.sum(0), rtol=1e-5)


def test_a_frozen_weight_is_a_constant():
    dense = Dense(2, trainable=False)
    dense.maybe_build((None, 2))
    with Tape() as tape:
        y = ops.matmul(np.ones((1, 2), np.float32), dense.kernel)
    assert type(y) is np.ndarray and not tape.nodes


def test_weight_variable_surface():
    dense = Dense(2)
    dense.maybe_build((None, 2))
    dense.bias.assign_add(np.ones(2))
    dense.bias.assign_sub([0.5, 0.5])
    np.testing.assert_allclose(dense.bias.numpy(), [0.5, 0.5])
    assert np.asarray(dense.bias).dtype == np.float32 and len(dense.bias) == 2
    assert dense.weights == [dense.kernel, dense.bias]     # identity equality in lists


def test_tapes_nest_and_pause():
    with Tape() as outer:
        x = outer.watch(np.ones(2))
        with Tape() as inner:
            assert active_tape() is inner
            y = ops.exp(x)              # an outer tensor is a constant on the inner tape
            assert type(y) is np.ndarray
        with paused():
            assert active_tape() is None and type(ops.exp(x)) is np.ndarray
        assert active_tape() is outer
    assert active_tape() is None


def test_gradient_of_an_unused_source_is_zero_and_several_roots_add():
    with Tape() as tape:
        a = tape.watch(np.array([1.0, 2.0]))
        b = tape.watch(np.array([3.0]))
        y1 = ops.sum(a * a)
        y2 = ops.sum(a * 3)
    ga, gb = tape.backward([(y1, 1.0), (y2, 2.0)], [a, b])
    np.testing.assert_allclose(ga, 2 * np.array([1.0, 2.0]) + 6)
    assert gb is None
    np.testing.assert_allclose(tape.gradient(y1, b), [0.0])


def test_activations_are_differentiable_and_user_function_activations_train():
    x0 = np.random.default_rng(2).standard_normal((3, 4))
    check_op(lambda x: activations.relu(x, negative_slope=0.1), x0)
    check_op(lambda x: activations.get("softmax")(x), x0)
    check_op(lambda x: activations.elu(x, alpha=0.5), x0)
    act = activations.get(lambda v: ops.tanh(v) * 2)         # a user's function
    y = act.forward(x0)
    dx = act.backward(x0, y, np.ones_like(x0))
    np.testing.assert_allclose(dx, 2 * (1 - np.tanh(x0) ** 2), rtol=1e-6)
