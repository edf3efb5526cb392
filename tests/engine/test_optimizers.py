"""Optimizers follow Keras 3's update formulas step by step (golden trajectories)."""
from pathlib import Path

import numpy as np
import pytest

from engine import optimizers as O

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "keras" / "optimizer_trajectories.npz"

CASES = {
    "sgd": lambda: O.SGD(0.1),
    "sgd_momentum_nesterov": lambda: O.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: O.RMSprop(0.01),
    "adagrad": lambda: O.Adagrad(0.1),
    "adam": lambda: O.Adam(0.01),
    "nadam": lambda: O.Nadam(0.01),
}


@pytest.mark.parametrize("name", CASES)
def test_five_steps_match_keras(name):
    """Dense(3) on MSE, full batch: our fused kernel on the flat [kernel, bias] buffer."""
    d = np.load(FIX)
    x, y = d["x"], d["y"]
    params = np.concatenate([d["kernel0"].ravel(), d["bias0"]]).astype(np.float32)
    opt = CASES[name]()
    for step in range(5):
        w, b = params[:12].reshape(4, 3), params[12:]
        g = 2 * (x @ w + b - y) / y.size
        opt.apply(params, np.concatenate([(x.T @ g).ravel(), g.sum(0)]).astype(np.float32))
        np.testing.assert_allclose(params[:12].reshape(4, 3), d[f"{name}_kernel"][step], atol=1e-5)
        np.testing.assert_allclose(params[12:], d[f"{name}_bias"][step], atol=1e-5)


def test_learning_rate_is_settable_between_steps():
    opt = O.SGD(0.1)
    p = np.ones(3, dtype=np.float32)
    opt.apply(p, np.ones(3, dtype=np.float32))
    opt.learning_rate = 0.5
    opt.apply(p, np.ones(3, dtype=np.float32))
    np.testing.assert_allclose(p, 1 - 0.1 - 0.5)
    assert opt.iterations == 2


def test_schedule_and_clipping():
    sched = O.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = O.SGD(sched, clipvalue=0.5)
    p = np.zeros(2, dtype=np.float32)
    opt.apply(p, np.array([2.0, -0.1], dtype=np.float32))
    opt.apply(p, np.array([2.0, -0.1], dtype=np.float32))
    np.testing.assert_allclose(p, [-(0.1 + 0.05) * 0.5, (0.1 + 0.05) * 0.1], rtol=1e-6)


def test_subnormal_moments_are_flushed():
    opt = O.Adam()
    p = np.zeros(4, dtype=np.float32)
    opt.build(4)
    opt.m[:] = 1e-39
    opt.apply(p, np.zeros(4, dtype=np.float32))
    assert np.all(opt.m == 0)


def test_names_and_errors():
    assert isinstance(O.get("Adam"), O.Adam)
    assert O.get({"class_name": "SGD", "config": {"learning_rate": 0.3}}).learning_rate == 0.3
    with pytest.raises(ValueError, match="valid names: adagrad, adam"):
        O.get("adamax2")
    with pytest.raises(ValueError, match="learning_rate must be >= 0"):
        O.Adam(-1)
