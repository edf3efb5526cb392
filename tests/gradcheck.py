"""Finite-difference gradient checks for layers, run in float64.

``check_layer(layer, x)`` builds ``layer`` for ``x``, takes the scalar L = Σ y·r for a fixed random
r, and compares ``backward(r)`` (the input gradient) and every weight's ``grad`` with central
differences at up to ``max_checks`` positions per array.
"""
from __future__ import annotations

import numpy as np

from engine import backend


def _forward_sum(layer, x, r, training, mask):
    y = layer.forward(x, training, mask=mask) if mask is not None else layer.forward(x, training)
    ys = y if isinstance(y, list) else [y]
    rs = r if isinstance(r, list) else [r]
    return sum(float(np.sum(a * b)) for a, b in zip(ys, rs) if b is not None)


def numeric_grad(f, arr: np.ndarray, idx_list, eps: float) -> np.ndarray:
    out = []
    for idx in idx_list:
        old = arr[idx]
        arr[idx] = old + eps
        fp = f()
        arr[idx] = old - eps
        fm = f()
        arr[idx] = old
        out.append((fp - fm) / (2 * eps))
    return np.array(out)


def _positions(shape, max_checks, rng):
    size = int(np.prod(shape))
    flat = rng.choice(size, size=min(size, max_checks), replace=False)
    return [np.unravel_index(i, shape) for i in flat]


def check_layer(layer, x, training: bool = False, mask=None, eps: float = 1e-6,
                rtol: float = 1e-5, atol: float = 1e-7, max_checks: int = 40, seed: int = 0,
                check_input: bool = True):
    """Assert that ``layer``'s analytic gradients match finite differences (float64)."""
    rng = np.random.default_rng(seed)
    with backend.floatx_scope("float64"):
        xs = [np.array(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
              for a in (x if isinstance(x, list) else [x])]
        xin = xs if isinstance(x, list) else xs[0]
        shapes = [(None,) + a.shape[1:] for a in xs]
        layer.maybe_build(shapes if isinstance(x, list) else shapes[0])
        for w in layer.weights:
            w.value = w.value.astype(np.float64)
            w.grad = np.zeros_like(w.value)
        if hasattr(layer, "need_dx"):
            layer.need_dx = True
        y = layer.forward(xin, training, mask=mask) if mask is not None else layer.forward(xin, training)
        ys = y if isinstance(y, list) else [y]
        rs = [rng.standard_normal(a.shape) for a in ys]
        r = rs if isinstance(y, list) else rs[0]
        dx = layer.backward(r)
        analytic_w = [w.grad.copy() for w in layer.weights]
        dxs = dx if isinstance(x, list) else [dx]

        def f():
            return _forward_sum(layer, xin, r, training, mask)

        if check_input:
            for k, a in enumerate(xs):
                if a.dtype.kind != "f":
                    continue
                pos = _positions(a.shape, max_checks, rng)
                num = numeric_grad(f, a, pos, eps)
                ana = np.array([dxs[k][p] for p in pos])
                np.testing.assert_allclose(ana, num, rtol=rtol, atol=atol,
                                           err_msg=f"{layer.where}: input {k} gradient")
        for w, ana_full in zip(layer.weights, analytic_w):
            if not (w.trainable and layer.trainable):
                continue
            pos = _positions(w.shape, max_checks, rng)
            num = numeric_grad(f, w.value, pos, eps)
            ana = np.array([ana_full[p] for p in pos])
            np.testing.assert_allclose(ana, num, rtol=rtol, atol=atol,
                                       err_msg=f"{layer.where}: gradient of weight '{w.name}'")
