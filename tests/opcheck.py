"""Finite-difference gradient checks for engine.ops, run in float64.

``check_op(f, *args, wrt=(0,))`` runs ``f`` on a tape with the arguments in ``wrt`` watched,
takes the scalar L = Σ y·r for a fixed random r (each output, for ops returning several), and
compares the tape's gradients of those arguments with central differences at up to
``max_checks`` positions each.
"""
from __future__ import annotations

import numpy as np

from engine import backend
from engine.ops import Tape


def _outputs(y) -> list:
    return list(y) if isinstance(y, (list, tuple)) else [y]


def check_op(f, *args, wrt=(0,), eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7,
             max_checks: int = 30, seed: int = 0) -> list[np.ndarray]:
    """Assert that the tape's gradients of ``f`` match finite differences; returns them."""
    rng = np.random.default_rng(seed)
    with backend.floatx_scope("float64"):
        args = [np.array(a, dtype=np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
                else a for a in args]
        with Tape() as tape:
            leaves = [tape.watch(a) if i in wrt else a for i, a in enumerate(args)]
            ys = _outputs(f(*leaves))
        rs = [rng.standard_normal(np.shape(np.asarray(y))) for y in ys]
        grads = tape.backward(list(zip(ys, rs)), [leaves[i] for i in wrt])

        def objective() -> float:
            return sum(float(np.sum(np.asarray(y, dtype=np.float64) * r))
                       for y, r in zip(_outputs(f(*args)), rs))

        for k, i in enumerate(wrt):
            a = args[i]
            g = np.zeros(a.shape) if grads[k] is None else np.asarray(grads[k])
            assert g.shape == a.shape, f"gradient of argument {i}: shape {g.shape} != {a.shape}"
            flat = rng.choice(a.size, size=min(a.size, max_checks), replace=False)
            for j in flat:
                idx = np.unravel_index(j, a.shape)
                old = a[idx]
                a[idx] = old + eps
                fp = objective()
                a[idx] = old - eps
                fm = objective()
                a[idx] = old
                num = (fp - fm) / (2 * eps)
                np.testing.assert_allclose(g[idx], num, rtol=rtol, atol=atol,
                                           err_msg=f"argument {i} at {idx}")
        return grads
