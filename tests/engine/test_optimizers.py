"""Optimizers follow Keras 3's update formulas step by step (golden trajectories), including
clipping, weight decay and learning-rate schedules; state, names and configs."""
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from engine import backend, optimizers as O

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
FIX = FIXTURES / "optimizer_trajectories.npz"
EXTRAS = FIXTURES / "engine_core.npz"
S = O.schedules

CASES = {
    "sgd": lambda: O.SGD(0.1),
    "sgd_momentum_nesterov": lambda: O.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: O.RMSprop(0.01),
    "adagrad": lambda: O.Adagrad(0.1),
    "adam": lambda: O.Adam(0.01),
    "nadam": lambda: O.Nadam(0.01),
}
EXTRA_CASES = {
    "sgd_momentum": lambda: O.SGD(0.1, momentum=0.9),
    "rmsprop_momentum_centered": lambda: O.RMSprop(0.01, momentum=0.5, centered=True),
    "adam_amsgrad": lambda: O.Adam(0.05, amsgrad=True),
    "adamw": lambda: O.AdamW(0.05, weight_decay=0.1),
    "sgd_clipnorm": lambda: O.SGD(0.1, clipnorm=0.3),
    "adam_global_clipnorm": lambda: O.Adam(0.05, global_clipnorm=0.2),
    "rmsprop_clipvalue": lambda: O.RMSprop(0.01, clipvalue=0.05),
    "sgd_weight_decay": lambda: O.SGD(0.1, weight_decay=0.5),
    "sgd_exponential_decay": lambda: O.SGD(S.ExponentialDecay(0.2, 2, 0.5, staircase=True)),
    "adam_cosine_warmup": lambda: O.Adam(S.CosineDecay(0.0, 4, alpha=0.1, warmup_target=0.05,
                                                       warmup_steps=2)),
    "nadam_piecewise": lambda: O.Nadam(S.PiecewiseConstantDecay([1, 3], [0.05, 0.02, 0.01])),
    "adagrad_nondefault": lambda: O.Adagrad(0.1, initial_accumulator_value=0.5, epsilon=1e-3),
}


def _trajectory(opt, dtype=np.float32, shapes=None):
    """Dense(3) on MSE (mean over all elements), full batch: 5 steps of our fused kernel on the
    flat [kernel (4, 3), bias (3,)] buffer; the gradient is computed analytically."""
    d = np.load(FIX)
    x, y = d["x"].astype(dtype), d["y"].astype(dtype)
    params = np.concatenate([d["kernel0"].ravel(), d["bias0"]]).astype(dtype)
    opt.build(params.size, segments=[(0, 12), (12, 15)], shapes=shapes)
    steps = []
    for _ in range(5):
        w, b = params[:12].reshape(4, 3), params[12:]
        g = 2 * (x @ w + b - y) / y.size
        opt.apply(params, np.concatenate([(x.T @ g).ravel(), g.sum(0)]).astype(dtype))
        steps.append(params.copy())
    return steps


@pytest.mark.parametrize("name", CASES)
def test_five_steps_match_keras(name):
    d = np.load(FIX)
    for step, params in enumerate(_trajectory(CASES[name]())):
        np.testing.assert_allclose(params[:12].reshape(4, 3), d[f"{name}_kernel"][step],
                                   atol=1e-5)
        np.testing.assert_allclose(params[12:], d[f"{name}_bias"][step], atol=1e-5)


@pytest.mark.parametrize("name", EXTRA_CASES)
def test_options_and_schedules_match_keras(name):
    if not EXTRAS.exists():
        pytest.skip("tests/fixtures/keras/engine_core.npz missing")
    want = np.load(EXTRAS)[f"opt__{name}"]
    for step, params in enumerate(_trajectory(EXTRA_CASES[name]())):
        np.testing.assert_allclose(params, want[step], atol=1e-5, err_msg=f"step {step + 1}")


@pytest.mark.parametrize("name", ["adam", "nadam", "rmsprop"])
def test_float64_buffers(name):
    with backend.floatx_scope("float64"):
        steps = _trajectory(CASES[name](), np.float64)
    np.testing.assert_allclose(steps[-1], _trajectory(CASES[name]())[-1], atol=1e-5)
    assert steps[-1].dtype == np.float64


def test_learning_rate_is_settable_between_steps():
    opt = O.SGD(0.1)
    p = np.ones(3, dtype=np.float32)
    opt.apply(p, np.ones(3, dtype=np.float32))
    opt.learning_rate = 0.5
    opt.apply(p, np.ones(3, dtype=np.float32))
    np.testing.assert_allclose(p, 1 - 0.1 - 0.5)
    assert opt.iterations == 2 and opt.lr == 0.5


def test_schedule_and_clipping():
    sched = S.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = O.SGD(sched, clipvalue=0.5)
    p = np.zeros(2, dtype=np.float32)
    opt.apply(p, np.array([2.0, -0.1], dtype=np.float32))
    assert opt.learning_rate == pytest.approx(0.05)  # evaluated at iterations = 1
    opt.apply(p, np.array([2.0, -0.1], dtype=np.float32))
    np.testing.assert_allclose(p, [-(0.1 + 0.05) * 0.5, (0.1 + 0.05) * 0.1], rtol=1e-6)


def test_clipnorm_without_segments_clips_the_whole_buffer():
    opt = O.SGD(1.0, clipnorm=1.0)
    p = np.zeros(2, dtype=np.float32)
    opt.apply(p, np.array([3.0, 4.0], dtype=np.float32))
    np.testing.assert_allclose(p, [-0.6, -0.8], rtol=1e-6)


def test_build_is_idempotent_and_reset_clears_state():
    opt = O.Adam()
    opt.build(4)
    m = opt.m
    opt.build(4)
    assert opt.m is m
    p = np.zeros(4, dtype=np.float32)
    opt.apply(p, np.ones(4, dtype=np.float32))
    assert opt.iterations == 1 and np.all(opt.m != 0)
    opt.reset()
    assert opt.iterations == 0 and np.all(opt.m == 0) and np.all(opt.v == 0)
    nadam = O.Nadam()
    nadam.apply(p, np.ones(4, dtype=np.float32))
    nadam.reset()
    assert nadam.u_product == 1.0
    ada = O.Adagrad(initial_accumulator_value=0.3)
    ada.build(2)
    ada.apply(np.zeros(2, np.float32), np.ones(2, np.float32))
    ada.reset()
    np.testing.assert_allclose(ada.acc, 0.3)


DECAYING = {
    "sgd_momentum": (lambda: O.SGD(0.1, momentum=0.9), ("m",)),
    "rmsprop_momentum_centered": (lambda: O.RMSprop(0.01, momentum=0.5, centered=True),
                                  ("v", "mg", "mom")),
    "adam": (lambda: O.Adam(), ("m", "v")),
    "nadam": (lambda: O.Nadam(), ("m", "v")),
    "adadelta": (lambda: O.Adadelta(), ("acc_grad", "acc_delta")),
    "adamax": (lambda: O.Adamax(), ("m", "u")),
    "lion": (lambda: O.Lion(), ("m",)),
}


@pytest.mark.parametrize("case", sorted(DECAYING))
def test_decaying_moments_never_become_subnormal(case):
    """A parameter whose gradient stays 0 lets its moments decay; every flush_every() steps
    those below TINY are set to 0, before any of them is subnormal (the CPU's slow path).
    Moments that have not decayed that far are not touched."""
    from engine.kernels.optimizers import FLUSH_EVERY, TINY
    make, names = DECAYING[case]
    opt = make()
    every = opt.flush_every()
    assert 1 <= every <= FLUSH_EVERY
    n = 64
    p = np.zeros(n, dtype=np.float32)
    opt.build(n)
    assert opt._decaying == names
    start = np.geomspace(1e-25, 1e-31, n).astype(np.float32)   # some above TINY, some below
    start[::2] *= -1
    for name in names:
        getattr(opt, name)[:] = abs(start) if name in ("v", "u", "acc_grad", "acc_delta") \
            else start
    tiny = np.finfo(np.float32).tiny                          # the smallest normal float32
    flushed = False
    for step in range(3 * every + 1):
        opt.apply(p, np.zeros(n, dtype=np.float32))
        for name in names:
            a = abs(getattr(opt, name))
            assert not np.any((a > 0) & (a < tiny)), (case, name, step)
            if step % every == 0:                              # just flushed
                assert not np.any((a > 0) & (a < TINY)), (case, name, step)
                flushed = True
    assert flushed
    # a moment that is far from TINY is left as the update made it
    opt = make()
    opt.build(2)
    for name in names:
        getattr(opt, name)[:] = 1e-3
    opt.apply(np.zeros(2, np.float32), np.zeros(2, np.float32))
    assert all(np.all(getattr(opt, name) > 1e-4) for name in names)


def test_the_flush_interval_follows_the_fastest_decay():
    from engine.kernels.optimizers import FLUSH_EVERY
    assert O.Adam().flush_every() == FLUSH_EVERY            # 0.9 per step: 173 steps to spare
    assert O.RMSprop(momentum=0.5).flush_every() == 26      # 1e-30 · 0.5^26 = 1.5e-38, normal
    assert O.Adam(beta_1=0.1).flush_every() == 7
    assert O.Adam(beta_1=0.0, beta_2=0.5).flush_every() == 26   # m then holds g alone
    assert O.SGD(momentum=1.0).flush_every() == FLUSH_EVERY
    opt = O.Adam()
    opt.flush_every()
    opt.beta_1 = 0.1                                        # the cached interval follows
    assert opt.flush_every() == 7


def test_flush_tiny_sets_only_tiny_entries_to_zero():
    from engine.kernels.optimizers import TINY, flush_tiny
    sub = np.finfo(np.float32).smallest_subnormal
    a = np.array([0.0, -0.0, sub, -sub, 1e-35, -9e-31, 2e-30, -1.0, np.nan, np.inf, -np.inf],
                 np.float32)
    flush_tiny(a)
    assert TINY == 1e-30
    np.testing.assert_array_equal(a[:6], 0.0)
    np.testing.assert_array_equal(a[6:8], np.float32([2e-30, -1.0]))
    assert np.isnan(a[8]) and a[9] == np.inf and a[10] == -np.inf


def test_config_round_trip():
    for opt in (O.Adam(0.002, beta_1=0.8, amsgrad=True), O.SGD(0.1, momentum=0.9, nesterov=True),
                O.RMSprop(centered=True, clipnorm=1.0), O.Nadam(epsilon=1e-5),
                O.Adagrad(initial_accumulator_value=0.2), O.AdamW(weight_decay=0.01),
                O.Adam(S.CosineDecay(0.1, 100, alpha=0.1))):
        cfg = json.loads(json.dumps(opt.get_config_dict()))
        again = O.get(cfg)
        assert type(again) is type(opt)
        assert again.get_config() == opt.get_config()
        assert type(opt).from_config(opt.get_config()).get_config() == opt.get_config()


def test_keras_saved_configs_load():
    if not EXTRAS.exists():
        pytest.skip("tests/fixtures/keras/engine_core.npz missing")
    for cfg in json.loads(str(np.load(EXTRAS)["configs"]))["optimizers"]:
        opt = O.get(cfg)
        assert type(opt).__name__ == cfg["class_name"]
        for k, v in cfg["config"].items():
            if k == "learning_rate" and isinstance(v, dict):
                assert opt.get_config()[k]["config"]["decay_rate"] == v["config"]["decay_rate"]
            elif k != "name":
                assert opt.get_config()[k] == pytest.approx(v), (cfg["class_name"], k)


def test_names_and_errors():
    assert isinstance(O.get("Adam"), O.Adam) and isinstance(O.get("rmsprop"), O.RMSprop)
    assert O.get({"class_name": "SGD", "config": {"learning_rate": 0.3}}).learning_rate == 0.3
    inst = O.Nadam()
    assert O.get(inst) is inst
    with pytest.raises(ValueError, match="valid names: adadelta, adafactor, adagrad, adam"):
        O.get("adamax2")
    with pytest.raises(ValueError, match="learning_rate must be >= 0"):
        O.Adam(-1)
    with pytest.raises(ValueError, match="only one of clipnorm, clipvalue and global_clipnorm"):
        O.SGD(clipnorm=1.0, clipvalue=0.5)
    with pytest.raises(ValueError, match="clipnorm must be a number >= 0"):
        O.SGD(clipnorm=-1.0)
    with pytest.raises(TypeError, match="unknown arguments"):
        O.Adam(beta1=0.9)
    with pytest.raises(ValueError, match="same|one shape and dtype"):
        O.SGD().apply(np.zeros(3, np.float32), np.zeros(2, np.float32))
    with pytest.warns(UserWarning, match="'decay' is no longer supported"):
        O.SGD(decay=0.01)
    with pytest.warns(UserWarning, match="use_ema"):
        O.Adam(use_ema=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        O.Adam(use_ema=False)  # Keras's defaults in a saved config are fine


def test_schedules_match_keras():
    if not EXTRAS.exists():
        pytest.skip("tests/fixtures/keras/engine_core.npz missing")
    d = np.load(EXTRAS)
    cases = {"exponential": S.ExponentialDecay(0.1, 7, 0.6),
             "exponential_staircase": S.ExponentialDecay(0.1, 7, 0.6, staircase=True),
             "piecewise": S.PiecewiseConstantDecay([5, 12, 30], [1.0, 0.5, 0.1, 0.01]),
             "cosine": S.CosineDecay(0.1, 25, alpha=0.2),
             "cosine_warmup": S.CosineDecay(0.0, 20, warmup_target=0.3, warmup_steps=10),
             "cosine_steps_no_target": S.CosineDecay(0.1, 20, warmup_steps=10)}
    for name, sched in cases.items():
        got = [sched(step) for step in range(40)]
        np.testing.assert_allclose(got, d[f"sched__{name}"], rtol=1e-6, atol=1e-8, err_msg=name)
        again = S.get(json.loads(json.dumps(sched.get_config_dict())))
        assert [again(s) for s in range(40)] == got


def test_schedule_errors():
    with pytest.raises(ValueError, match="one more entry"):
        S.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="decay_steps must be > 0"):
        S.CosineDecay(0.1, 0)
    with pytest.raises(ValueError, match="valid: ExponentialDecay"):
        S.get({"class_name": "PolynomialDecay", "config": {}})


@pytest.mark.parametrize("make", [
    lambda: O.SGD(0.1), lambda: O.SGD(0.1, momentum=0.9, nesterov=True),
    lambda: O.RMSprop(0.01, momentum=0.5, centered=True),
    lambda: O.Adam(0.01), lambda: O.Adam(0.01, amsgrad=True),
    lambda: O.AdamW(0.01)])
def test_updates_on_the_threads_equal_the_serial_update(monkeypatch, make):
    """Big buffers are updated in chunks on numba's threads: every element gets the serial
    kernel's arithmetic, so the two runs agree bit for bit, whatever the chunking."""
    from engine import threading_policy as policy
    rng = np.random.default_rng(5)
    n = 10_007
    p0 = rng.standard_normal(n).astype(np.float32)
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
    from engine.kernels import optimizers as kernels
    calls = []
    real = kernels.update_parallel
    monkeypatch.setattr(kernels, "update_parallel", lambda *a: calls.append(a[0]) or real(*a))
    results = []
    for parallel in (False, True):
        monkeypatch.setattr(policy, "workers",
                            (lambda w, items=None: 2) if parallel else (lambda w, items=None: 1))
        monkeypatch.setattr(policy, "chunks", lambda w, items, nw: 7)
        opt, p = make(), p0.copy()
        for g in grads:
            opt.apply(p, g.copy())
        results.append(p)
    assert len(calls) == len(grads)                # the threaded runs, and only those
    assert not np.array_equal(results[0], p0)
    np.testing.assert_array_equal(results[1], results[0])


@pytest.mark.parametrize("n", [5, 16, 1_003])
def test_the_square_root_estimates_keep_adam_within_a_few_float32_ulps(n):
    """Adam's kernel computes √v and the division from refined CPU estimates
    (kernels/optimizers._ESTIMATES): its update stays within 16 float32 ulps of the exact one
    (the exact float32 operations reach ~7 here: α·m, the sum and the division each round), in
    the vector loop and its scalar tail alike, over moments across many decades."""
    from engine.kernels.optimizers import adam
    rng = np.random.default_rng(n)
    f = np.float32
    g = (rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 2, n)).astype(f)
    m = (rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 0, n)).astype(f)
    v = (10.0 ** rng.uniform(-20, 2, n)).astype(f)
    v[::5] = 0
    m[::5] = 0
    p = np.zeros(n, f)
    adam(p, g, m, v, f(1e-3), f(0.1), f(0.001), f(1e-7))
    # the step from the updated moments (those are not estimated) in float64
    want = -1e-3 * m.astype(np.float64) / (np.sqrt(v.astype(np.float64)) + 1e-7)
    assert np.count_nonzero(want) > n // 2
    np.testing.assert_allclose(p, want, rtol=16 * np.finfo(f).eps, atol=0)


def test_an_overflowing_squared_gradient_never_gives_a_finite_wrong_step():
    """g² beyond float32's range: exact arithmetic leaves the parameter (m / inf = 0), the
    square-root estimate makes it NaN (which stops training, naming the weight); either way
    the other parameters are updated as usual."""
    from engine.kernels.optimizers import adam
    f = np.float32
    n = 64
    g = np.full(n, 0.5, f)
    g[37] = 1e20
    m, v, p = np.zeros(n, f), np.zeros(n, f), np.ones(n, f)
    adam(p, g, m, v, f(1e-3), f(0.1), f(0.001), f(1e-7))
    assert p[37] == 1.0 or np.isnan(p[37])
    others = np.delete(p, 37)
    np.testing.assert_allclose(others, 1 - 1e-3 * 0.05 / (np.sqrt(0.00025) + 1e-7), rtol=1e-6)


@pytest.mark.parametrize("n", [0, 1, 7, 8, 101_770])
def test_the_finiteness_check_finds_every_nan_and_inf(n):
    from engine.kernels.optimizers import all_finite_f32
    rng = np.random.default_rng(n)
    p = rng.standard_normal(n).astype(np.float32)
    if n:
        p[0] = np.finfo(np.float32).max           # the extremes are finite
        p[-1] = -np.finfo(np.float32).smallest_subnormal
    assert all_finite_f32(p)
    for bad in (np.inf, -np.inf, np.nan, -np.nan):
        for i in {0, n // 2, n - 1} if n else ():
            q = p.copy()
            q[i] = bad
            assert not all_finite_f32(q), (bad, i)
