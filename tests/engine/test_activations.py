"""Every activation: float dtype kept, derivative matches finite differences (float64)."""
import numpy as np
import pytest

from engine import activations


@pytest.mark.parametrize("name", activations.NAMES)
def test_derivative_matches_finite_differences(name):
    act = activations.get(name)
    r = np.random.default_rng(1)
    x = r.standard_normal((3, 5)) * 2
    x[np.abs(x) < 0.05] += 0.1                      # stay away from kinks at 0
    x[np.abs(np.abs(x) - 3) < 0.05] += 0.1          # and hard_sigmoid's at ±3
    dy = r.standard_normal(x.shape)
    y = act.forward(x)
    analytic = act.backward(x, y, dy)
    eps = 1e-6
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        numeric[i] = np.sum((act.forward(xp) - act.forward(xm)) * dy) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("name", activations.NAMES)
def test_float32_stays_float32(name):
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    y = activations.get(name).forward(x)
    assert y.dtype == np.float32 and np.all(np.isfinite(y))


def test_softmax_is_stable_and_normalized():
    x = np.array([[1000.0, 1001.0, 999.0]], dtype=np.float32)
    y = activations.get("softmax").forward(x)
    np.testing.assert_allclose(y.sum(), 1.0, rtol=1e-6)
    assert np.all(np.isfinite(y))


def test_keras_formulas():
    x = np.array([-4.0, -1.0, 0.5, 4.0])
    np.testing.assert_allclose(activations.get("hard_sigmoid").forward(x), [0, 1 / 3, 7 / 12, 1])
    np.testing.assert_allclose(activations.get("leaky_relu").forward(x), [-0.8, -0.2, 0.5, 4])
    np.testing.assert_allclose(activations.get("selu").forward(np.array([1.0])), [1.0507009873554805])


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="valid names: .*relu.*softmax"):
        activations.get("rellu")


def test_python_function_cannot_be_trained_and_says_why():
    act = activations.get(lambda x: x * 2)
    np.testing.assert_array_equal(act.forward(np.ones(2)), [2, 2])
    with pytest.raises(NotImplementedError, match="without a derivative"):
        act.backward(np.ones(2), np.ones(2), np.ones(2))
