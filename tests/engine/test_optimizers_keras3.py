"""Adadelta, Adamax, Lion, Ftrl and Adafactor follow Keras 3 step by step (golden trajectories
made by real Keras: tests/fixtures/keras/make_optimizer_fixtures.py), Adafactor factors a
matrix's second moment per weight, and every one trains a model through compile/fit."""
import json

import numpy as np
import pytest

from engine import layers, models
from engine import optimizers as O
from tests.engine.test_optimizers import FIXTURES, _trajectory

MORE = FIXTURES / "optimizers_more.npz"
S = O.schedules

CASES = {
    "adadelta": lambda: O.Adadelta(1.0),
    "adadelta_rho": lambda: O.Adadelta(0.5, rho=0.8, epsilon=1e-4),
    "adamax": lambda: O.Adamax(0.05),
    "adamax_betas": lambda: O.Adamax(0.02, beta_1=0.7, beta_2=0.9),
    "lion": lambda: O.Lion(0.01),
    "lion_betas": lambda: O.Lion(0.02, beta_1=0.5, beta_2=0.9, weight_decay=0.1),
    "ftrl": lambda: O.Ftrl(0.1),
    "ftrl_regularized": lambda: O.Ftrl(0.2, learning_rate_power=-0.7,
                                       initial_accumulator_value=0.5,
                                       l1_regularization_strength=0.01,
                                       l2_regularization_strength=0.02,
                                       l2_shrinkage_regularization_strength=0.03, beta=0.1),
    "adafactor": lambda: O.Adafactor(0.1),
    "adafactor_absolute": lambda: O.Adafactor(0.05, relative_step=False, clip_threshold=0.5,
                                              beta_2_decay=-0.5, epsilon_2=1e-2),
    "adafactor_schedule": lambda: O.Adafactor(S.ExponentialDecay(2.0, 2, 0.5)),
}


def _steps(opt, dtype=np.float32):
    # the kernel (4, 3) and the bias (3,) are separate weights, so Adafactor factors the kernel
    return _trajectory(opt, dtype, shapes=[(4, 3), (3,)])


@pytest.mark.parametrize("name", CASES)
def test_five_steps_match_keras(name):
    want = np.load(MORE)[f"opt__{name}"]
    for step, params in enumerate(_steps(CASES[name]())):
        np.testing.assert_allclose(params, want[step], rtol=2e-5, atol=2e-6,
                                   err_msg=f"{name} step {step + 1}")


@pytest.mark.parametrize("name", ["adadelta", "adamax", "lion", "ftrl_regularized",
                                  "adafactor"])
def test_float64_buffers_agree(name):
    from engine import backend
    with backend.floatx_scope("float64"):
        steps = _steps(CASES[name](), np.float64)
    assert steps[-1].dtype == np.float64
    np.testing.assert_allclose(steps[-1], _steps(CASES[name]())[-1], rtol=1e-5, atol=1e-6)


def test_adafactor_keeps_row_and_column_statistics_of_a_matrix():
    opt = O.Adafactor()
    opt.build(12 + 3 + 2 * 3 * 4, segments=[(0, 12), (12, 15), (15, 39)],
              shapes=[(4, 3), (3,), (2, 3, 4)])
    shapes = [tuple(a.shape for a in st) for st in opt.state]
    assert shapes == [((1, 4), (1, 3)), ((3,),), ((2, 3), (2, 4))]
    # without a layout the buffer is one vector (no factoring)
    plain = O.Adafactor()
    plain.build(7)
    assert [a.shape for a in plain.state[0]] == [(7,)]


def test_adafactor_factored_step_equals_the_formula():
    rng = np.random.default_rng(0)
    p0 = rng.normal(0, 1, (2, 3, 4))
    g = rng.normal(0, 1, (2, 3, 4))
    opt = O.Adafactor(0.5)
    p = p0.astype(np.float32).ravel()
    opt.build(p.size, segments=[(0, p.size)], shapes=[(2, 3, 4)])
    opt.apply(p, g.astype(np.float32).ravel())
    g2 = g ** 2 + 1e-30                       # step 1: β2 = 1 − 1^−0.8 = 0
    r, c = g2.mean(-1), g2.mean(-2)
    v = (r / r.mean(-1, keepdims=True))[..., None] * c[:, None, :]
    u = g / np.sqrt(v)
    u /= max(1.0, np.sqrt(np.mean(u ** 2)))
    want = p0 - max(1e-3, np.sqrt(np.mean(p0 ** 2))) * min(0.5, 1.0) * u
    np.testing.assert_allclose(p.reshape(2, 3, 4), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "Lion", "Ftrl", "Adafactor"])
def test_trains_a_model_and_round_trips_its_config(name):
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (64, 5)).astype(np.float32)
    y = (x @ rng.normal(0, 1, (5, 2))).astype(np.float32)
    model = models.Sequential([layers.Input((5,)), layers.Dense(8, activation="tanh"),
                               layers.Dense(2)])
    lr = {"Adadelta": 1.0, "Ftrl": 0.5}.get(name, 0.02)
    model.compile(optimizer=getattr(O, name)(lr), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=30, batch_size=16, verbose=0, shuffle=False)
    assert model.evaluate(x, y, verbose=0) < 0.7 * before
    opt = model.optimizer
    assert opt.shapes == [(5, 8), (8,), (8, 2), (2,)]
    cfg = json.loads(json.dumps(opt.get_config_dict()))
    again = O.get(cfg)
    assert type(again) is type(opt) and again.get_config() == opt.get_config()
    assert isinstance(O.get(name.lower()), getattr(O, name))


def test_configs_match_keras_keys_and_defaults():
    keras_cfgs = json.loads(str(np.load(MORE)["configs"]))
    for name, make in CASES.items():
        ours = make().get_config()
        theirs = keras_cfgs[name]
        assert set(ours) == set(theirs), name
        for k, v in theirs.items():
            if k in ("name", "learning_rate"):
                continue
            assert ours[k] == pytest.approx(v), (name, k)
        assert O.get({"class_name": type(make()).__name__, "config": theirs}).get_config()[
            "name"] == theirs["name"]


def test_argument_errors():
    with pytest.raises(ValueError, match="Lion: beta_1 must be in"):
        O.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match="Ftrl: learning_rate_power must be <= 0, got 0.5"):
        O.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="Ftrl: l1_regularization_strength must be >= 0"):
        O.Ftrl(l1_regularization_strength=-1)
    with pytest.raises(ValueError, match="Ftrl: learning_rate must be > 0"):
        O.Ftrl(0.0).apply(np.zeros(2, np.float32), np.ones(2, np.float32))
    with pytest.raises(ValueError, match="2 shapes for 1 segments"):
        O.Adafactor().build(3, segments=[(0, 3)], shapes=[(3,), (1,)])
