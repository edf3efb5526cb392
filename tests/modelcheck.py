"""Finite-difference gradient checks of whole models (float64): the gradient ``fit`` would apply
to each weight, and the gradient of the loss w.r.t. the inputs, against central differences.

``check_model(make_model, x, y)`` builds the model inside a float64 scope (``make_model()``),
compiles it with ``loss`` (default mse), takes one training step's gradients without updating,
then perturbs weights (and inputs) one entry at a time. The forward used for the differences is
the inference one, so models must be deterministic (no dropout, noise or sampling).
"""
from __future__ import annotations

import numpy as np

from engine import backend


def _loss(model, xs, ys) -> float:
    return model._compute_loss_and_grads(xs, ys, None, training=False)[0]


def check_model(make_model, x, y, loss="mse", eps: float = 1e-6, rtol: float = 1e-5,
                atol: float = 1e-8, max_checks: int = 8, seed: int = 0, check_inputs=True):
    """Assert the model's weight gradients (as fit computes them) match finite differences.
    Returns the model (float64) for further checks."""
    rng = np.random.default_rng(seed)
    with backend.floatx_scope("float64"):
        model = make_model()
        model.compile(optimizer="sgd", loss=loss)
        xs, ys, sw = model._prepare_xy(x, y)
        xs = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in xs]
        model._bind_parameters()
        _, _, grads = model._compute_loss_and_grads(xs, ys, sw, training=True)
        for w in model.trainable_weights:
            w.grad[...] = np.nan          # every weight must be written by backward
        if check_inputs:
            input_grads = model._plan.backward(grads, input_grads=True)
        else:
            model._plan.backward(grads)
        weights = model.trainable_weights
        assert weights, "the model has no trainable weights"
        for w in weights:
            analytic = w.grad.copy()
            assert np.isfinite(analytic).all(), f"weight {w.path}: gradient not written"
            flat = w.value.reshape(-1)
            for j in rng.choice(flat.size, size=min(flat.size, max_checks), replace=False):
                old = flat[j]
                flat[j] = old + eps
                fp = _loss(model, xs, ys)
                flat[j] = old - eps
                fm = _loss(model, xs, ys)
                flat[j] = old
                np.testing.assert_allclose(analytic.reshape(-1)[j], (fp - fm) / (2 * eps),
                                           rtol=rtol, atol=atol, err_msg=f"weight {w.path}[{j}]")
        if check_inputs:
            for k, a in enumerate(xs):
                if a.dtype.kind != "f":
                    continue
                g = np.zeros_like(a) if input_grads[k] is None else input_grads[k]
                flat = a.reshape(-1)
                for j in rng.choice(flat.size, size=min(flat.size, max_checks), replace=False):
                    old = flat[j]
                    flat[j] = old + eps
                    fp = _loss(model, xs, ys)
                    flat[j] = old - eps
                    fm = _loss(model, xs, ys)
                    flat[j] = old
                    np.testing.assert_allclose(g.reshape(-1)[j], (fp - fm) / (2 * eps),
                                               rtol=rtol, atol=atol,
                                               err_msg=f"input {k}[{j}]")
    return model
