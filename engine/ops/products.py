"""Products (Keras 3's ``keras.ops`` names): matmul, dot, tensordot, einsum, outer, inner, vdot,
and ``norm`` — each forward next to its vector-Jacobian product.

matmul: y = a·b ⇒ da = g·bᵀ, db = aᵀ·g (batch axes broadcast, then summed back). einsum: the
gradient of an operand is the einsum of the output gradient with the other operands into that
operand's subscripts.
"""
from __future__ import annotations

import string

import numpy as np

from engine.ops.math_ops import _result
from engine.ops.tape import as_data, record, unbroadcast


def _arr(x) -> np.ndarray:
    return np.asarray(as_data(x))


def matmul(x1, x2):
    """Matrix product with numpy's rules (1-D operands are vectors, batch axes broadcast)."""
    a, b = _arr(x1), _arr(x2)
    y = _result(np.matmul(a, b), a, b)

    def vjp(g, need):
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        da = db = None
        if b2.ndim == 2 and a2.ndim >= 2:
            # x (…, k) · W (k, m): one 2-D product per gradient, batch axes folded into rows
            a_rows = a2.reshape(-1, a2.shape[-1])
            g_rows = g2.reshape(-1, g2.shape[-1])
            if need[0]:
                da = (g_rows @ b2.T).reshape(a2.shape)
            if need[1]:
                db = a_rows.T @ g_rows
        else:
            if need[0]:
                da = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape)
            if need[1]:
                db = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape)
        return (None if da is None else da.reshape(a.shape).astype(a.dtype, copy=False),
                None if db is None else db.reshape(b.shape).astype(b.dtype, copy=False))
    return record(y, (x1, x2), vjp)


def tensordot(x1, x2, axes=2):
    """Sum of products over ``axes`` (an int: the last n of x1 with the first n of x2; or a
    pair of axis lists)."""
    a, b = _arr(x1), _arr(x2)
    if isinstance(axes, (int, np.integer)):
        ia = list(range(a.ndim - int(axes), a.ndim))
        ib = list(range(int(axes)))
    else:
        ia, ib = axes
        ia = [int(i) % a.ndim for i in (ia if isinstance(ia, (list, tuple)) else [ia])]
        ib = [int(i) % b.ndim for i in (ib if isinstance(ib, (list, tuple)) else [ib])]
    y = _result(np.tensordot(a, b, axes=(ia, ib)), a, b)
    fa = [i for i in range(a.ndim) if i not in ia]
    fb = [i for i in range(b.ndim) if i not in ib]

    def vjp(g, need):
        na = len(fa)
        da = db = None
        if need[0]:
            # g (fa…, fb…) · b over fb → (fa…, ib…), then back to a's axis order
            t = np.tensordot(g, b, axes=(list(range(na, g.ndim)), fb))
            da = np.transpose(t, np.argsort(fa + ia))
        if need[1]:
            t = np.tensordot(a, g, axes=(fa, list(range(na))))   # (ia…, fb…)
            db = np.transpose(t, np.argsort(ib + fb))
        return (da, db)
    return record(y, (x1, x2), vjp)


def dot(x1, x2):
    """numpy's dot: scalars multiply, 1-D·1-D is the inner product, N-D sums over the last axis
    of x1 and the second-to-last of x2."""
    a, b = _arr(x1), _arr(x2)
    if a.ndim == 0 or b.ndim == 0:
        from engine.ops.math_ops import multiply
        return multiply(x1, x2)
    if b.ndim == 1:
        return tensordot(x1, x2, axes=([-1], [0]))
    return tensordot(x1, x2, axes=([-1], [-2]))


def inner(x1, x2):
    a, b = _arr(x1), _arr(x2)
    if a.ndim == 0 or b.ndim == 0:
        from engine.ops.math_ops import multiply
        return multiply(x1, x2)
    return tensordot(x1, x2, axes=([-1], [-1]))


def vdot(x1, x2):
    from engine.ops.shape_ops import ravel
    return tensordot(ravel(x1), ravel(x2), axes=1)


def outer(x1, x2):
    from engine.ops.shape_ops import ravel
    return tensordot(ravel(x1), ravel(x2), axes=0)


# ------------------------------------------------------------------ einsum
def _parse(subscripts: str, shapes: list[tuple]) -> tuple[list[str], str]:
    """Operand subscripts and output with '...' spelled out as capital letters."""
    s = subscripts.replace(" ", "")
    ins, out = (s.split("->") + [None])[:2]
    terms = ins.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: '{subscripts}' names {len(terms)} operands, got {len(shapes)}")
    free = [c for c in string.ascii_uppercase if c not in s]
    n_ell = max((len(shp) - len(t.replace("...", "")) for t, shp in zip(terms, shapes)
                 if "..." in t), default=0)
    ell = "".join(free[:n_ell])
    spelled = []
    for t, shp in zip(terms, shapes):
        if "..." in t:
            k = len(shp) - len(t.replace("...", ""))
            t = t.replace("...", ell[n_ell - k:])
        spelled.append(t)
    if out is None:
        letters = "".join(spelled)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1
                                   and c not in ell))
    else:
        out = out.replace("...", ell)
    return spelled, out


def einsum(subscripts, *operands, **kwargs):
    """Einstein summation with numpy's subscripts (``'ij,jk->ik'``, ``'...ij,...jk'``)."""
    datas = [_arr(o) for o in operands]
    y = np.einsum(subscripts, *datas, **kwargs)
    if y.dtype == np.float64 and not any(d.dtype == np.float64 for d in datas):
        from engine import backend
        y = y.astype(backend.floatx())

    def vjp(g, need):
        terms, out = _parse(subscripts, [d.shape for d in datas])
        grads = []
        for i, (t, d) in enumerate(zip(terms, datas)):
            if not need[i]:
                grads.append(None)
                continue
            if len(set(t)) != len(t):
                raise NotImplementedError(
                    f"einsum '{subscripts}': the gradient of an operand with a repeated index "
                    f"('{t}') is not supported; take ops.diagonal first")
            others = [(tt, dd) for j, (tt, dd) in enumerate(zip(terms, datas)) if j != i]
            seen = set(out) | {c for tt, _ in others for c in tt}
            kept = "".join(c for c in t if c in seen)
            spec = ",".join([out] + [tt for tt, _ in others]) + "->" + kept
            gi = np.einsum(spec, g, *[dd for _, dd in others])
            # indices only in this operand were summed away: the gradient is the same for each
            for pos, c in enumerate(t):
                if c not in seen:
                    gi = np.expand_dims(gi, pos)
            gi = unbroadcast(np.broadcast_to(gi, np.broadcast_shapes(gi.shape, d.shape)), d.shape)
            grads.append(gi.astype(d.dtype, copy=False))
        return tuple(grads)
    return record(y, operands, vjp)


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector 2-norm (default), 1-norm or max-norm over ``axis``; Frobenius norm for matrices."""
    from engine.ops import math_ops as m
    from engine.ops import reductions as r
    if ord in (None, 2, "fro", "euclidean"):
        return m.sqrt(r.sum(m.square(x), axis=axis, keepdims=keepdims))
    if ord == 1:
        return r.sum(m.abs(x), axis=axis, keepdims=keepdims)
    if ord in (np.inf, "inf"):
        return r.max(m.abs(x), axis=axis, keepdims=keepdims)
    raise ValueError(f"norm: ord={ord!r} is not supported; use None (2), 1 or inf")
