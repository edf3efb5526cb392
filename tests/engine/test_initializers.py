"""Initializers: Keras 3 formulas (checked statistically), fans of conv kernels, seeds, configs."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from engine import backend, initializers as I

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras" / "engine_core.npz"

# class, (fan mode, scale, distribution)
SCALING = {
    "glorot_uniform": ("fan_avg", 1.0, "uniform"),
    "glorot_normal": ("fan_avg", 1.0, "truncated_normal"),
    "he_uniform": ("fan_in", 2.0, "uniform"),
    "he_normal": ("fan_in", 2.0, "truncated_normal"),
    "lecun_uniform": ("fan_in", 1.0, "uniform"),
    "lecun_normal": ("fan_in", 1.0, "truncated_normal"),
}


@pytest.mark.parametrize("shape,fans", [((), (1, 1)), ((7,), (7, 7)), ((5, 3), (5, 3)),
                                        ((3, 3, 16, 32), (144, 288)), ((4, 8, 2), (32, 8))])
def test_fans_like_keras(shape, fans):
    assert I.compute_fans(shape) == fans


def test_fans_with_explicit_axes():
    assert I.compute_fans((3, 4, 5), input_axes=[0, 1], output_axes=[2]) == (12, 5)


@pytest.mark.parametrize("name", SCALING)
def test_variance_scaling_family_has_keras_spread(name):
    mode, scale, dist = SCALING[name]
    shape = (3, 3, 40, 60)  # a conv kernel: fans include the 3×3 receptive field
    fan_in, fan_out = 360, 540
    n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
    w = I.get(name)(shape)
    assert w.shape == shape and w.dtype == np.float32
    if dist == "uniform":
        limit = math.sqrt(3 * scale / n)
        assert w.min() >= -limit and w.max() <= limit
        assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.03)
    else:  # truncated at 2 stddev of the underlying normal, rescaled so the variance is scale/n
        stddev = math.sqrt(scale / n) / 0.87962566103423978
        assert np.abs(w).max() <= 2 * stddev * (1 + 1e-6)
        assert w.std() == pytest.approx(math.sqrt(scale / n), rel=0.03)


def test_variance_scaling_arguments():
    w = I.VarianceScaling(2.0, "fan_out", "untruncated_normal", seed=1)((100, 400))
    assert w.std() == pytest.approx(math.sqrt(2 / 400), rel=0.03)
    assert np.abs(w).max() > 2 * math.sqrt(2 / 400)  # not truncated
    assert I.VarianceScaling(distribution="normal").distribution == "truncated_normal"  # Keras 2
    for bad, match in (({"scale": 0}, "scale"), ({"mode": "fan_sum"}, "mode"),
                       ({"distribution": "cauchy"}, "distribution"),
                       ({"input_axes": [0]}, "both")):
        with pytest.raises(ValueError, match=match):
            I.VarianceScaling(**bad)


def test_random_and_constant_initializers():
    assert np.all(I.get("zeros")((2, 3)) == 0) and np.all(I.get("ones")((4,)) == 1)
    assert np.all(I.Constant(0.25)((2, 2)) == 0.25)
    u = I.RandomUniform(-0.2, 0.6, seed=0)((20000,))
    assert u.min() >= -0.2 and u.max() <= 0.6 and u.mean() == pytest.approx(0.2, abs=0.01)
    n = I.RandomNormal(1.0, 0.5, seed=0)((20000,))
    assert n.mean() == pytest.approx(1.0, abs=0.02) and n.std() == pytest.approx(0.5, rel=0.03)
    t = I.TruncatedNormal(0.0, 0.5, seed=0)((20000,))
    assert np.abs(t).max() <= 1.0 and t.std() == pytest.approx(0.5 * 0.8796, rel=0.03)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 5)])
def test_orthogonal(shape):
    w = I.Orthogonal(gain=2.0, seed=3)(shape, "float64").reshape(-1, shape[-1])
    rows, cols = w.shape
    gram = w.T @ w if rows >= cols else w @ w.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-10)
    with pytest.raises(ValueError, match="rank >= 2"):
        I.Orthogonal()((5,))


def test_identity():
    np.testing.assert_array_equal(I.get("identity")((2, 3)), [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(I.Identity(gain=3)((2, 2)), 3 * np.eye(2))
    with pytest.raises(ValueError, match="2-D"):
        I.Identity()((2, 2, 2))


def test_seeded_initializer_repeats_itself_like_keras():
    init = I.GlorotUniform(seed=42)
    a, b = init((5, 5)), init((5, 5))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, I.GlorotUniform(seed=43)((5, 5)))


def test_global_seed_makes_unseeded_initializers_reproducible():
    I.set_seed(7)
    a = [I.get("he_normal")((4, 4)), I.get("orthogonal")((3, 3))]
    I.set_seed(7)
    b = [I.get("he_normal")((4, 4)), I.get("orthogonal")((3, 3))]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], I.get("he_normal")((4, 4)))  # the stream moves on


def test_dtype_follows_argument_or_floatx():
    assert I.get("glorot_uniform")((2, 2), "float64").dtype == np.float64
    with backend.floatx_scope("float64"):
        assert I.get("he_uniform")((2, 2)).dtype == np.float64
    assert I.get("he_uniform")((2, 2)).dtype == np.float32


@pytest.mark.parametrize("name", sorted(I.NAMES))
def test_every_name_round_trips_through_its_config(name):
    init = I.get(name)
    cfg = init.get_config_dict()
    assert cfg["class_name"] == type(init).__name__
    assert json.loads(json.dumps(cfg)) == cfg
    again = I.get(cfg)
    assert type(again) is type(init) and again.get_config() == init.get_config()


def test_get_accepts_class_names_keras_dicts_instances_and_functions():
    assert type(I.get("GlorotUniform")) is I.GlorotUniform
    assert type(I.get("OrthogonalInitializer")) is I.Orthogonal
    inst = I.HeNormal(seed=1)
    assert I.get(inst) is inst
    keras3 = {"module": "keras.initializers", "class_name": "HeNormal",
              "config": {"seed": 5, "input_axes": None, "output_axes": None},
              "registered_name": None}
    assert I.get(keras3).get_config() == {"seed": 5}
    fn = I.get(lambda shape, dtype: np.full(shape, 3.0))
    np.testing.assert_array_equal(fn((2,)), [3.0, 3.0])
    with pytest.raises(ValueError, match="cannot be saved"):
        fn.get_config_dict()
    with pytest.raises(ValueError, match="returned shape"):
        I.get(lambda shape, dtype: np.zeros(3))((2,))


def test_errors_name_what_is_valid():
    with pytest.raises(ValueError, match="unknown initializer 'glorot_unifrom'.*glorot_uniform"):
        I.get("glorot_unifrom")
    with pytest.raises(ValueError, match="unknown initializer 'Xavier'"):
        I.get({"class_name": "Xavier", "config": {}})
    with pytest.raises(ValueError, match="seed"):
        I.RandomNormal(seed=1.5)
    with pytest.raises(ValueError, match="cannot interpret 3"):
        I.get(3)


def test_keras_saved_configs_load():
    if not FIX.exists():
        pytest.skip("tests/fixtures/keras/engine_core.npz missing")
    configs = json.loads(str(np.load(FIX)["configs"]))["initializers"]
    for cfg in configs:
        init = I.get(cfg)
        assert type(init).__name__ == cfg["class_name"]
        for k, v in cfg["config"].items():
            if k not in ("input_axes", "output_axes"):
                assert init.get_config()[k] == v, (cfg, k)
