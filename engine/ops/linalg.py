"""``keras.ops.linalg``: inverse, solve, determinants, Cholesky, norms, and the factorizations
(QR, SVD, eigendecompositions, least squares), batched over leading axes as numpy is.

Gradients: inv (dA = −Yᵀ·G·Yᵀ), solve (db = A⁻ᵀ·G, dA = −db·xᵀ), det (G·det·A⁻ᵀ), slogdet's
log|det| (A⁻ᵀ), cholesky (Murray 2016: A̅ = ½(S + Sᵀ), S = L⁻ᵀ·Φ(Lᵀ·L̅)·L⁻¹). The
factorizations have no gradient here: they refuse a traced input rather than drop its gradient.
"""
from __future__ import annotations

import numpy as np

from engine.ops.products import norm  # noqa: F401  (keras.ops.linalg.norm)
from engine.ops.tape import as_data, is_traced, record


def _arr(x) -> np.ndarray:
    a = np.asarray(as_data(x))
    return a if a.dtype.kind == "f" else a.astype(np.float32)


def _t(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def inv(x):
    """Matrix inverse."""
    a = _arr(x)
    y = np.linalg.inv(a)
    return record(y, (x,), lambda g, need: (-_t(y) @ g @ _t(y),))


def solve(a, b):
    """x with a·x = b (b a vector or a matrix of columns)."""
    ad, bd = _arr(a), _arr(b)
    vec = bd.ndim == ad.ndim - 1
    b2 = bd[..., None] if vec else bd
    x = np.linalg.solve(ad, b2)

    def vjp(g, need):
        g2 = g[..., None] if vec else g
        db = np.linalg.solve(_t(ad), g2)
        da = -db @ _t(x)
        return (da if need[0] else None, (db[..., 0] if vec else db) if need[1] else None)
    return record(x[..., 0] if vec else x, (a, b), vjp)


def solve_triangular(a, b, lower=False):
    """solve() with only the lower (or upper) triangle of ``a``."""
    from engine.ops.shape_ops import tril, triu
    return solve(tril(a) if lower else triu(a), b)


def det(x):
    """Determinant."""
    a = _arr(x)
    y = np.linalg.det(a)
    return record(y, (x,), lambda g, need: (
        (np.asarray(g) * y)[..., None, None] * _t(np.linalg.inv(a)),))


def slogdet(x):
    """(sign, log|det|); log|det| carries the gradient A⁻ᵀ."""
    a = _arr(x)
    sign, logdet = np.linalg.slogdet(a)
    return sign, record(logdet, (x,), lambda g, need: (
        np.asarray(g)[..., None, None] * _t(np.linalg.inv(a)),))


def logdet(x):
    """log det of a positive-definite matrix."""
    return slogdet(x)[1]


def cholesky(x, upper=False):
    """Lower-triangular L with L·Lᵀ = x (``upper``: Lᵀ)."""
    a = _arr(x)
    low = np.linalg.cholesky(a)

    def vjp(g, need):
        gl = _t(g) if upper else g
        phi = np.tril(_t(low) @ gl)
        phi[..., np.arange(phi.shape[-1]), np.arange(phi.shape[-1])] *= 0.5
        linv = np.linalg.inv(low)
        s = _t(linv) @ phi @ linv
        return (0.5 * (s + _t(s)),)
    return record(_t(low) if upper else low, (x,), vjp)


def _no_gradient(name: str, f):
    def op(x, *args, **kwargs):
        if is_traced(x):
            raise NotImplementedError(f"ops.linalg.{name} has no gradient here; compute it "
                                      f"outside the trained part of call(), or with "
                                      f"ops.stop_gradient on its input")
        return f(_arr(x), *args, **kwargs)
    op.__name__ = op.__qualname__ = name
    return op


qr = _no_gradient("qr", lambda a, mode="reduced": np.linalg.qr(a, mode=mode))
svd = _no_gradient("svd", lambda a, full_matrices=True, compute_uv=True:
                   np.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv))
eig = _no_gradient("eig", np.linalg.eig)
eigh = _no_gradient("eigh", np.linalg.eigh)
lstsq = _no_gradient("lstsq", lambda a, b, rcond=None: np.linalg.lstsq(a, _arr(b),
                                                                       rcond=rcond)[0])
