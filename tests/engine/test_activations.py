"""Every activation: Keras 3's values (golden fixture), float dtype kept, derivative matches
finite differences (float64); names, callables and serialization."""
from pathlib import Path

import numpy as np
import pytest

from engine import activations
from engine.kernels.activations import SOFTMAX_KERNEL_MAX_WIDTH

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras" / "engine_core.npz"

VARIANTS = {name: (lambda name=name: activations.get(name)) for name in activations.NAMES}
VARIANTS.update({
    "relu_capped_leaky_threshold": lambda: activations.Relu(max_value=2.5, negative_slope=0.1,
                                                            threshold=0.4),
    "leaky_relu_0.05": lambda: activations.Relu(negative_slope=0.05),
    "elu_alpha_0.5": lambda: activations.Elu(0.5),
})


def _finite_difference_check(act, x, dy):
    y = act.forward(x)
    analytic = act.backward(x, y, dy)
    eps = 1e-6
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        numeric[i] = np.sum((act.forward(xp) - act.forward(xm)) * dy) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", VARIANTS)
def test_derivative_matches_finite_differences(name):
    r = np.random.default_rng(1)
    x = r.standard_normal((3, 5)) * 2
    for kink in (0.0, 3.0, -3.0, 0.4, 2.5):  # relu/hard_sigmoid/custom relu kinks
        x[np.abs(x - kink) < 0.05] += 0.1
    _finite_difference_check(VARIANTS[name](), x, r.standard_normal(x.shape))


@pytest.mark.parametrize("shape", [(2, 3, 4), (3, SOFTMAX_KERNEL_MAX_WIDTH + 6)])
def test_softmax_derivative_on_sequences_and_wide_rows(shape):
    r = np.random.default_rng(2)
    _finite_difference_check(activations.get("softmax"), r.standard_normal(shape),
                             r.standard_normal(shape))


@pytest.mark.parametrize("name", VARIANTS)
def test_float32_stays_float32(name):
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    act = VARIANTS[name]()
    y = act.forward(x)
    dx = act.backward(x, y, np.ones_like(x))
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))


@pytest.mark.parametrize("name", ["relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid",
                                  "hard_sigmoid", "tanh", "softplus", "softsign", "silu",
                                  "gelu", "mish", "linear", "softmax"])
def test_matches_keras(name):
    if not FIX.exists():
        pytest.skip("tests/fixtures/keras/engine_core.npz missing")
    d = np.load(FIX)
    x = d["act__softmax_x"] if name == "softmax" else d["act__x"]
    np.testing.assert_allclose(activations.get(name).forward(x), d[f"act__{name}"],
                               rtol=2e-6, atol=1e-6, err_msg=name)


def test_keras_formulas():
    x = np.array([-4.0, -1.0, 0.5, 4.0])
    np.testing.assert_allclose(activations.get("hard_sigmoid").forward(x), [0, 1 / 3, 7 / 12, 1])
    np.testing.assert_allclose(activations.get("leaky_relu").forward(x), [-0.8, -0.2, 0.5, 4])
    np.testing.assert_allclose(activations.get("selu").forward(np.array([1.0])),
                               [1.0507009873554805])
    # Keras 3's activations.gelu is the exact erf form, not the tanh approximation (0.8412)
    np.testing.assert_allclose(activations.get("gelu").forward(np.array([1.0])),
                               [0.8413447460685429], rtol=1e-12)


def test_softmax_is_stable_and_normalized():
    for width in (3, SOFTMAX_KERNEL_MAX_WIDTH + 10):
        x = np.full((2, width), 1000.0, dtype=np.float32)
        x[:, 1] = 1001.0
        y = activations.get("softmax").forward(x)
        np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-6)
        assert np.all(np.isfinite(y)) and y.dtype == np.float32


def test_extreme_inputs_do_not_warn_or_overflow():
    x = np.array([-1000.0, -90.0, 0.0, 90.0, 1000.0], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for name in ("sigmoid", "swish", "softplus", "tanh", "elu", "selu", "gelu", "mish"):
            y = activations.get(name).forward(x)
            assert np.all(np.isfinite(y)), name
    np.testing.assert_allclose(activations.get("sigmoid").forward(x), [0, 0, 0.5, 1, 1],
                               atol=1e-30)


def test_names_functions_and_callables():
    assert activations.get(None).name == "linear" and activations.get("").name == "linear"
    assert activations.get("ReLU") is activations.get("relu")
    assert activations.get(activations.relu) is activations.get("relu")
    assert activations.get("silu").name == "swish"
    np.testing.assert_array_equal(activations.relu([-1, 2]), [0.0, 2.0])
    assert activations.relu([-1, 2]).dtype == np.float32
    assert activations.get(activations.Elu).name == "elu"


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="valid names: .*relu.*softmax"):
        activations.get("rellu")
    with pytest.raises(ValueError, match="cannot interpret 3"):
        activations.get(3)


def test_python_function_trains_through_the_tape_and_refuses_numpy_it_cannot_follow():
    act = activations.get(lambda x: x * 2)
    np.testing.assert_array_equal(act.forward(np.ones(2)), [2, 2])
    np.testing.assert_array_equal(act.backward(np.ones(2), np.ones(2), np.ones(2)), [2, 2])
    bad = activations.get(lambda x: np.sinc(x))
    with pytest.raises(TypeError, match="engine.ops function"):
        bad.backward(np.ones(2), np.ones(2), np.ones(2))


def test_user_function_never_passes_for_a_builtin():
    def softmax(x):  # the trainer fuses 'softmax' + crossentropy by name
        return x
    assert activations.get(softmax).name == "softmax (custom)"


def test_serialize():
    assert activations.serialize("relu") == "relu"
    assert activations.serialize(None) == "linear"
    assert activations.serialize(activations.Relu(max_value=6.0)) == "relu6"
    assert activations.serialize(activations.Relu(negative_slope=0.2)) == "leaky_relu"
    with pytest.raises(ValueError, match="ReLU layer"):
        activations.serialize(activations.Relu(negative_slope=0.1))
    with pytest.raises(ValueError, match="cannot be saved"):
        activations.serialize(lambda x: x)


@pytest.mark.parametrize("name", ["relu", "softmax", "linear", "tanh", "leaky_relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 5), (3, 130), (1, 1)])
def test_forward_bias_equals_adding_the_bias_then_forward(name, dtype, shape):
    """forward_bias (relu and softmax in one kernel) gives exactly what adding the bias to z
    and then calling forward gave, and leaves z with the bias added (a layer keeps z)."""
    rng = np.random.default_rng(3)
    act = activations.get(name)
    z = (rng.standard_normal(shape) * 4).astype(dtype)
    z[0, 0] = np.nan if shape[1] > 1 else z[0, 0]
    b = rng.standard_normal(shape[1]).astype(dtype)
    expected_z = z + b
    expected_y = act.forward(expected_z.copy())
    got_z = z.copy()
    y = act.forward_bias(got_z, b)
    np.testing.assert_array_equal(got_z, expected_z)
    np.testing.assert_array_equal(y, expected_y)
    assert y.dtype == dtype and y.shape == shape


@pytest.mark.parametrize("name", ["relu", "softmax"])
def test_forward_bias_falls_back_where_the_kernel_does_not_apply(name):
    """A transposed (non-contiguous) z, a bias of another dtype, a 3-D z: the bias is added
    by numpy and the results are the same as adding it first."""
    rng = np.random.default_rng(4)
    act = activations.get(name)
    b32 = rng.standard_normal(6).astype(np.float32)
    cases = [(np.asfortranarray(rng.standard_normal((5, 4)).astype(np.float32)), b32[:4]),
             (rng.standard_normal((5, 6)), b32),                          # float64 z
             (rng.standard_normal((2, 3, 6)).astype(np.float32), b32)]
    for z, b in cases:
        expected_z = z + b
        expected_y = act.forward(expected_z.copy())
        y = act.forward_bias(z, b)
        np.testing.assert_array_equal(z, expected_z)
        np.testing.assert_allclose(y, expected_y, rtol=1e-6)


def test_column_sums_match_numpy_and_sum_in_float64():
    from engine.kernels.activations import column_sums
    rng = np.random.default_rng(5)
    for shape in ((1, 1), (32, 128), (7, 3), (0, 4)):
        z = rng.standard_normal(shape).astype(np.float32)
        out = np.full(shape[1], np.nan, np.float32)
        np.testing.assert_allclose(column_sums(z, out), z.astype(np.float64).sum(axis=0),
                                   rtol=1e-6, atol=1e-6)
    # 1e8 then 10,000 ones: float32 running sums would stay at 1e8
    z = np.ones((10_001, 2), np.float32)
    z[0] = 1e8
    assert column_sums(z, np.empty(2, np.float32))[0] == np.float32(1e8 + 10_000)
    z3 = rng.standard_normal((2, 3, 4)).astype(np.float32)     # not 2-D: numpy's sum
    np.testing.assert_allclose(column_sums(z3, np.empty((3, 4), np.float32)), z3.sum(axis=0))
