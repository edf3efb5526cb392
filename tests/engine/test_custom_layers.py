"""User Layer subclasses (Keras 3's contract): build / add_weight / call / get_config, tracked
sublayers and weights, add_loss, output shapes inferred by running call, and their gradients in
Functional models — checked against finite differences, and ops-built Dense/Conv2D against the
built-in layers."""
import numpy as np
import pytest

import engine as keras
from engine import backend, layers, ops
from engine.ops import Tape
from tests.modelcheck import check_model

rng = np.random.default_rng(0)


class Linear(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                 trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


class OpsConv(keras.layers.Layer):
    """Conv2D written with ops, to compare with the built-in one."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = filters, kernel_size
        self.strides, self.padding = strides, padding

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(*self.kernel_size, input_shape[-1], self.filters),
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def call(self, x):
        return ops.relu(ops.conv(x, self.kernel, self.strides, self.padding) + self.bias)


def test_eager_call_builds_tracks_weights_and_keeps_values():
    layer = Linear(4)
    y = layer(ops.ones((2, 2)))
    assert y.shape == (2, 4) and y.dtype == np.float32
    assert layer.weights == [layer.w, layer.b] and layer.built
    assert layer.input_shape == (2, 2)      # eager builds see the real batch, as in Keras
    assert layer.get_config() == {"name": layer.name, "trainable": True, "dtype": "float32",
                                  "units": 4}
    again = Linear.from_config(layer.get_config())
    assert again.units == 4 and again.name == layer.name


def test_sublayers_in_attributes_lists_and_dicts_are_tracked_once():
    class Block(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.first = Linear(3)
            self.more = [Linear(3), {"last": Linear(1)}]
            self.alias = self.first          # the same layer twice: tracked once

        def call(self, x):
            x = self.first(x)
            x = self.more[0](keras.activations.relu(x))
            return self.more[1]["last"](x)

    block = Block()
    block(np.ones((2, 5), np.float32))
    assert len(block.weights) == 6 and len(block.trainable_weights) == 6
    block.trainable = False                   # propagates, as in Keras
    assert block.trainable_weights == [] and not block.first.trainable


def test_non_trainable_weight_and_numpy():
    class ComputeSum(keras.layers.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,),
                                         trainable=False)

        def call(self, inputs):
            self.total.assign_add(ops.sum(inputs, axis=0))
            return self.total

    s = ComputeSum(2)
    s(ops.ones((2, 2)))
    np.testing.assert_array_equal(s(ops.ones((2, 2))).numpy(), [4.0, 4.0])
    assert len(s.non_trainable_weights) == 1 and s.trainable_weights == []


def test_losses_reset_per_top_level_call_and_include_regularizers():
    class Reg(keras.layers.Layer):
        def call(self, inputs):
            self.add_loss(0.5 * ops.mean(inputs))
            return inputs

    class Outer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.reg = Reg()
            self.dense = layers.Dense(2, kernel_regularizer=keras.regularizers.l2(1e-3))

        def call(self, inputs):
            return self.dense(self.reg(inputs))

    outer = Outer()
    assert outer.losses == []
    outer(np.ones((1, 3), np.float32))
    outer(np.ones((1, 3), np.float32))
    values = [float(v) for v in outer.losses]
    assert len(values) == 2 and values[0] == pytest.approx(0.5)
    np.testing.assert_allclose(values[1], 1e-3 * np.sum(outer.dense.kernel.value ** 2),
                               rtol=1e-5)


def test_symbolic_call_infers_output_shapes_and_structures():
    class Split(keras.layers.Layer):
        def call(self, x):
            return x[:, :2] * 2, {"rest": ops.sum(x[:, 2:], axis=-1, keepdims=True)}

    inp = keras.Input((5,))
    a, b = Split()(inp)
    assert a.shape == (None, 2) and b["rest"].shape == (None, 1)
    seq = keras.Input((None, 4))
    pooled = keras.layers.Lambda(lambda t: ops.mean(t, axis=1))(seq) \
        if hasattr(keras.layers, "Lambda") else None
    if pooled is not None:
        assert pooled.shape == (None, 4)


def test_output_shape_inference_leaves_state_alone():
    class Counter(keras.layers.Layer):
        def build(self, shape):
            self.count = self.add_weight(shape=(), initializer="zeros", trainable=False)

        def call(self, x):
            self.count.assign_add(1.0)
            self.add_loss(ops.sum(x))
            return x

    layer = Counter()
    layer(keras.Input((3,)))
    assert float(layer.count.value) == 0.0 and layer.losses == []


def test_base_kwargs_are_checked():
    with pytest.raises(TypeError, match="unrecognized keyword arguments passed to Linear"):
        Linear(3, unitz=4)


def test_get_config_required_for_object_arguments():
    class Holder(keras.layers.Layer):
        def __init__(self, thing, **kwargs):
            super().__init__(**kwargs)
            self.thing = thing

        def call(self, x):
            return x

    with pytest.raises(NotImplementedError, match="must define get_config"):
        Holder(object()).get_config()


# ---------------------------------------------------------------------- gradients
def test_ops_built_dense_matches_the_builtin_forward_and_gradients():
    with backend.floatx_scope("float64"):
        x = rng.standard_normal((6, 5))
        dense = layers.Dense(3, activation="tanh")
        mine = Linear(3)
        dense.maybe_build((None, 5))
        mine(x)
        mine.w.assign(dense.kernel.value)
        mine.b.assign(dense.bias.value)
        y_builtin = dense.forward(x, training=True)
        g = rng.standard_normal(y_builtin.shape)
        dx_builtin = dense.backward(g)
        with Tape() as tape:
            xt = tape.watch(x)
            y = ops.tanh(mine(xt))
        np.testing.assert_allclose(y.numpy(), y_builtin, rtol=1e-12)
        (dx,) = tape.backward([(y, g)], [xt])
        np.testing.assert_allclose(dx, dx_builtin, rtol=1e-10)
        np.testing.assert_allclose(tape.weight_grads[id(mine.w)][1], dense.kernel.grad,
                                   rtol=1e-10)
        np.testing.assert_allclose(tape.weight_grads[id(mine.b)][1], dense.bias.grad,
                                   rtol=1e-10)


@pytest.mark.parametrize("strides,padding", [(1, "valid"), (2, "same")])
def test_ops_built_conv2d_matches_the_builtin_forward_and_gradients(strides, padding):
    with backend.floatx_scope("float64"):
        x = rng.standard_normal((2, 7, 7, 3))
        conv = layers.Conv2D(4, 3, strides=strides, padding=padding, activation="relu")
        mine = OpsConv(4, (3, 3), strides, padding)
        conv.maybe_build((None, 7, 7, 3))
        conv.need_dx = True
        mine(x)
        mine.kernel.assign(conv.kernel.value)
        mine.bias.assign(conv.bias.value + 0.1)
        conv.bias.assign(conv.bias.value + 0.1)
        y_builtin = conv.forward(x, training=True)
        g = rng.standard_normal(y_builtin.shape)
        dx_builtin = conv.backward(g)
        with Tape() as tape:
            xt = tape.watch(x)
            y = mine(xt)
        np.testing.assert_allclose(y.numpy(), y_builtin, rtol=1e-10, atol=1e-12)
        (dx,) = tape.backward([(y, g)], [xt])
        np.testing.assert_allclose(dx, dx_builtin, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(tape.weight_grads[id(mine.kernel)][1], conv.kernel.grad,
                                   rtol=1e-9)
        np.testing.assert_allclose(tape.weight_grads[id(mine.bias)][1], conv.bias.grad,
                                   rtol=1e-9)


def test_user_layer_in_a_functional_model_gradients():
    x = rng.standard_normal((6, 4))
    y = rng.standard_normal((6, 2))

    def make():
        inp = keras.Input((4,))
        h = Linear(5)(inp)
        h = layers.Dense(3, activation="tanh")(h)
        return keras.Model(inp, Linear(2)(h))
    check_model(make, x, y)


def test_user_layer_with_builtin_sublayers_and_add_loss_gradients():
    class Block(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(4, activation="sigmoid")
            self.scale = Linear(3)

        def call(self, x, training=None):
            h = self.dense(x)
            self.add_loss(0.1 * ops.sum(ops.square(h)))
            return self.scale(h) * ops.exp(ops.mean(h, axis=-1, keepdims=True))

    x = rng.standard_normal((5, 3))
    y = rng.standard_normal((5, 3))

    def make():
        inp = keras.Input((3,))
        return keras.Model(inp, Block()(inp))
    check_model(make, x, y)


def test_user_layer_with_several_inputs_and_outputs_in_a_functional_model():
    class Mix(keras.layers.Layer):
        def call(self, inputs):
            a, b = inputs
            return a * b, a - ops.sin(b)

    x1, x2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    y = rng.standard_normal((4, 2))

    def make():
        i1, i2 = keras.Input((3,)), keras.Input((3,))
        p, q = Mix()([layers.Dense(3)(i1), i2])
        return keras.Model([i1, i2], layers.Dense(2)(layers.Concatenate()([p, q])))
    check_model(make, [x1, x2], y)


def test_keras_variable_assigned_to_a_layer_is_its_trainable_weight():
    class Scale(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.s = keras.Variable(np.array([2.0, 3.0]), name="s")
            self.frozen = keras.Variable("ones", shape=(2,), trainable=False)

        def call(self, x):
            return x * self.s + self.frozen

    x, y = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))

    def make():
        inp = keras.Input((2,))
        return keras.Model(inp, Scale()(inp))
    model = check_model(make, x, y)
    assert [w.name for w in model.weights] == ["s", "variable"]
    assert keras.Layer is keras.layers.Layer


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_ops_conv_transpose_matches_the_builtin_conv2d_transpose(padding):
    with backend.floatx_scope("float64"):
        x = rng.standard_normal((2, 4, 4, 3))
        layer = layers.Conv2DTranspose(2, 3, strides=2, padding=padding)
        layer.maybe_build((None, 4, 4, 3))
        layer.need_dx = True
        y_builtin = layer.forward(x, training=True)
        g = rng.standard_normal(y_builtin.shape)
        dx_builtin = layer.backward(g)
        with Tape() as tape:
            xt = tape.watch(x)
            y = ops.conv_transpose(xt, layer.kernel, strides=2, padding=padding) + layer.bias
        np.testing.assert_allclose(y.numpy(), y_builtin, rtol=1e-10, atol=1e-12)
        (dx,) = tape.backward([(y, g)], [xt])
        np.testing.assert_allclose(dx, dx_builtin, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(tape.weight_grads[id(layer.kernel)][1], layer.kernel.grad,
                                   rtol=1e-9)


def test_masks_reach_user_layers_and_user_layers_make_masks():
    class MyLayer(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.embedding = layers.Embedding(input_dim=50, output_dim=4, mask_zero=True)
            self.lstm = layers.LSTM(3)

        def call(self, inputs):
            x = self.embedding(inputs)
            return self.lstm(x, mask=self.embedding.compute_mask(inputs))

    tokens = np.array([[3, 4, 0, 0], [5, 0, 0, 0]])
    layer = MyLayer()
    masked = layer(tokens)
    np.testing.assert_allclose(masked[0], layer(tokens[:, :2])[0], rtol=1e-6)

    class TemporalSoftmax(keras.layers.Layer):
        def call(self, inputs, mask=None):
            m = ops.expand_dims(ops.cast(mask, "float32"), -1)
            e = ops.exp(inputs - ops.max(inputs, axis=1, keepdims=True)) * m
            return e / ops.sum(e, axis=1, keepdims=True)

    class NonZeroMask(keras.layers.Layer):
        def call(self, x):
            return ops.cast(x, "float32")

        def compute_mask(self, inputs, mask=None):
            return ops.not_equal(inputs, 0)

    inp = keras.Input((4,), dtype="int32")
    x = layers.Embedding(50, 2)(NonZeroMask()(inp) * 0 + inp)
    model = keras.Model(inp, TemporalSoftmax()(layers.Dense(1)(
        layers.Embedding(50, 3, mask_zero=True)(inp))))
    out = model.predict(tokens, verbose=0)
    assert x.shape == (None, 4, 2)
    np.testing.assert_allclose(out[:, :, 0].sum(axis=1), [1.0, 1.0], rtol=1e-5)
    assert out[1, 1:, 0].tolist() == [0.0, 0.0, 0.0]
