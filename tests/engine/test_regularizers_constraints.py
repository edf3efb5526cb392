"""Regularizers and constraints: Keras 3's values (golden fixture), gradients, names, configs."""
import json
from pathlib import Path

import numpy as np
import pytest

from engine import constraints as C, regularizers as R

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras" / "engine_core.npz"


@pytest.fixture(scope="module")
def keras_values():
    if not FIX.exists():
        pytest.skip("tests/fixtures/keras/engine_core.npz missing")
    return np.load(FIX)


# ---------------------------------------------------------------- regularizers
def test_penalties_match_keras(keras_values):
    w = keras_values["reg__w"]
    for name, reg in {"l1": R.L1(0.03), "l2": R.L2(0.02), "l1l2": R.L1L2(0.01, 0.05)}.items():
        assert reg(w) == pytest.approx(float(keras_values[f"reg__{name}"]), rel=1e-6)


@pytest.mark.parametrize("reg", [R.L1(0.03), R.L2(0.02), R.L1L2(0.01, 0.05)])
def test_gradient_matches_finite_differences(reg):
    w = np.random.default_rng(0).standard_normal((3, 4))
    w[np.abs(w) < 1e-3] = 0.1  # away from |w|'s kink
    g = reg.gradient(w)
    num = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        wp, wm = w.copy(), w.copy()
        wp[i] += 1e-6
        wm[i] -= 1e-6
        num[i] = (reg(wp) - reg(wm)) / 2e-6
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)
    assert reg.gradient(w.astype(np.float32)).dtype == np.float32


def test_shortcuts_and_names():
    assert R.l1().get_config() == {"l1": 0.01} and R.l2().get_config() == {"l2": 0.01}
    assert R.l1_l2().get_config() == {"l1": 0.01, "l2": 0.01}
    assert R.get(None) is None
    assert R.get("l2").get_config() == {"l2": 0.01}
    assert R.get("L1L2").get_config() == {"l1": 0.01, "l2": 0.01}
    inst = R.L2(0.5)
    assert R.get(inst) is inst


def test_config_dicts_round_trip_and_keras_forms():
    for reg in (R.L1(0.2), R.L2(0.3), R.L1L2(0.1, 0.4)):
        cfg = reg.get_config_dict()
        assert R.get(json.loads(json.dumps(cfg))) == reg
    keras3 = {"module": "keras.regularizers", "class_name": "L1L2",
              "config": {"l1": 0.0, "l2": 0.02}, "registered_name": None}
    assert R.get(keras3) == R.L1L2(0.0, 0.02)
    assert R.get({"class_name": "l1_l2", "config": {"l2": 0.5}}) == R.L1L2(0.0, 0.5)


def test_regularizer_errors():
    with pytest.raises(ValueError, match="valid names: l1, l2, l1_l2"):
        R.get("l3")
    with pytest.raises(ValueError, match="'l2' must be a number >= 0"):
        R.L2(-0.1)
    with pytest.raises(ValueError, match="valid: L1, L2, L1L2"):
        R.get({"class_name": "OrthogonalRegularizer", "config": {}})
    with pytest.raises(ValueError, match="cannot interpret"):
        R.get(0.01)


def test_keras_regularizer_configs_load(keras_values):
    for cfg in json.loads(str(keras_values["configs"]))["regularizers"]:
        reg = R.get(cfg)
        assert type(reg).__name__ == cfg["class_name"]
        for k, v in cfg["config"].items():
            assert getattr(reg, k) == pytest.approx(v)


# ---------------------------------------------------------------- constraints
CONSTRAINTS = {"max_norm": lambda: C.MaxNorm(2.0),
               "max_norm_axes": lambda: C.MaxNorm(1.5, axis=[0, 1, 2]),
               "non_neg": C.NonNeg, "unit_norm": lambda: C.UnitNorm(axis=-1),
               "min_max_norm": lambda: C.MinMaxNorm(0.5, 1.2, rate=0.7)}


@pytest.mark.parametrize("name", CONSTRAINTS)
def test_constraints_match_keras(keras_values, name):
    w = keras_values["cons__w"]
    got = CONSTRAINTS[name]()(w)
    assert got.dtype == w.dtype and got.shape == w.shape
    np.testing.assert_allclose(got, keras_values[f"cons__{name}"], rtol=1e-6, atol=1e-7)


def test_constraint_formulas():
    w = np.array([[3.0, 0.5], [4.0, 0.0]])  # column norms 5 and 0.5
    np.testing.assert_allclose(C.max_norm(2)(w), [[1.2, 0.5], [1.6, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(C.unit_norm()(w), [[0.6, 1.0], [0.8, 0.0]], rtol=1e-6)
    np.testing.assert_array_equal(C.non_neg()(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 2.0])
    np.testing.assert_allclose(np.linalg.norm(C.MinMaxNorm(1.0, 2.0)(w), axis=0), [2.0, 1.0],
                               rtol=1e-6)
    assert np.all(C.UnitNorm()(np.zeros((2, 2))) == 0)  # ε keeps zero columns at zero


def test_constraint_names_configs_and_errors():
    assert isinstance(C.get("max_norm"), C.MaxNorm) and C.get(None) is None
    assert isinstance(C.get("NonNeg"), C.NonNeg)
    for c in (C.MaxNorm(3, axis=[0, 1]), C.NonNeg(), C.UnitNorm(1), C.MinMaxNorm(0.1, 2, 0.5)):
        assert C.get(json.loads(json.dumps(c.get_config_dict()))) == c
    clip = C.get(lambda w: np.clip(w, -1, 1))
    np.testing.assert_array_equal(clip(np.array([-3.0, 0.5], dtype=np.float32)), [-1.0, 0.5])
    with pytest.raises(ValueError, match="cannot be saved"):
        clip.get_config_dict()
    with pytest.raises(ValueError, match="valid names: max_norm"):
        C.get("maxnorm2")
    with pytest.raises(ValueError, match="max_value"):
        C.MaxNorm(0)
    with pytest.raises(ValueError, match="min_value <= max_value"):
        C.MinMaxNorm(2.0, 1.0)


def test_keras_constraint_configs_load(keras_values):
    for cfg in json.loads(str(keras_values["configs"]))["constraints"]:
        c = C.get(cfg)
        assert type(c).__name__ == cfg["class_name"]
        assert c.get_config() == cfg["config"]
